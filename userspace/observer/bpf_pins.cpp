#include "observer/bpf_pins.hpp"

#include <errno.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include <linux/types.h>

#include "sockets.h"
#include "util/files.hpp"

namespace sigdrain {
namespace {

constexpr std::string_view kLayoutPrefix = "sockets-v";

Result<void> make_dirs(const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
      return Error::sys(errno, fmt::format("cannot create {}", prefix));
    if (slash == std::string::npos) return {};
  }
}

}  // namespace

std::string sockets_layout_dir(const std::string& root) {
  return fmt::format("{}/{}{}", root, kLayoutPrefix, SIGDRAIN_SOCKETS_LAYOUT);
}

Result<void> prepare_pin_root(const std::string& root) {
  if (root.empty() || root.front() != '/') return Error::msg(fmt::format("bpf-pin-dir {}: want an absolute path", root));
  if (auto made = make_dirs(root); !made) return made.error();
  struct statfs fs {};
  if (::statfs(root.c_str(), &fs) != 0) return Error::sys(errno, fmt::format("cannot statfs {}", root));
  if (fs.f_type != BPF_FS_MAGIC) return Error::msg(fmt::format("{} is not on a bpffs mount", root));
  return {};
}

std::vector<std::string> other_socket_layouts(const std::string& root) {
  std::vector<std::string> out;
  const std::string ours = sockets_layout_dir(root);
  for (const std::string& name : directory_names(root).value_or({})) {
    if (!name.starts_with(kLayoutPrefix)) continue;
    std::string path = fmt::format("{}/{}", root, name);
    if (path != ours) out.push_back(std::move(path));
  }
  return out;
}

Result<void> remove_pin_tree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return Error::sys(errno, fmt::format("cannot stat {}", path));
  }
  if (S_ISDIR(st.st_mode)) {
    for (const std::string& name : directory_names(path).value_or({}))
      if (auto r = remove_pin_tree(fmt::format("{}/{}", path, name)); !r) return r;
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return Error::sys(errno, fmt::format("cannot remove {}", path));
    return {};
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Error::sys(errno, fmt::format("cannot unpin {}", path));
  return {};
}

}  // namespace sigdrain
