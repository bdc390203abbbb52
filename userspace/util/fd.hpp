// Move-only owners of a file descriptor (also pidfds), a directory stream, and any C object with a free function
// (a libbpf skeleton's __destroy, ring_buffer__free).
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <memory>
#include <utility>

namespace sigdrain {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Owned<ring_buffer, ring_buffer__free>: a unique_ptr that hands its object to `Free`.
template <auto Free>
struct FreeWith {
  template <class T>
  void operator()(T* p) const {
    (void)Free(p);
  }
};
template <class T, auto Free>
using Owned = std::unique_ptr<T, FreeWith<Free>>;

using UniqueDir = Owned<DIR, &::closedir>;

}  // namespace sigdrain
