#include "util/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "util/fd.hpp"

namespace sigdrain {

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::sys(errno, fmt::format("cannot open {}", path));
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::sys(errno, fmt::format("cannot read {}", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) return Error::msg(fmt::format("{} is larger than {} bytes", path, max_bytes));
  }
  return out;
}

Result<std::vector<std::string>> directory_names(const std::string& path) {
  UniqueDir dir(::opendir(path.c_str()));
  if (!dir) return Error::sys(errno, fmt::format("cannot open {}", path));
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(dir.get())) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  return names;
}

}  // namespace sigdrain
