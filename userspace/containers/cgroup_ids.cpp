#include "containers/cgroup_ids.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

namespace sigdrain {

std::optional<std::set<uint64_t>> existing_cgroup_ids(const std::string& cgroup2_root) {
  struct stat root {};
  if (stat(cgroup2_root.c_str(), &root) != 0 || !S_ISDIR(root.st_mode)) return std::nullopt;
  std::set<uint64_t> ids{root.st_ino};
  std::error_code ec;
  // Any error ends the walk with nullopt, not a partial list: a cgroup missing from it would be taken for gone.
  // skip_permission_denied: an unreadable directory is left out of the walk, its own id still listed.
  std::filesystem::recursive_directory_iterator it(cgroup2_root, std::filesystem::directory_options::skip_permission_denied, ec);
  for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_symlink(ec) || !it->is_directory(ec)) {
      it.disable_recursion_pending();
      if (ec) return std::nullopt;
      continue;
    }
    struct stat st {};
    if (stat(it->path().c_str(), &st) != 0) return std::nullopt;
    ids.insert(st.st_ino);
  }
  if (ec) return std::nullopt;
  return ids;
}

}  // namespace sigdrain
