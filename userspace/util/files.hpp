// Reading small files (proc, cgroupfs, runtime state) with plain read(2): a process that exits mid-read
// gives an error value, never an exception (libstdc++'s filebuf throws on ESRCH).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace sigdrain {

inline constexpr size_t kMaxSmallFile = 4 << 20;

// The whole file; an error when it cannot be opened or read, or is larger than max_bytes.
Result<std::string> read_file(const std::string& path, size_t max_bytes = kMaxSmallFile);

// The names in a directory, in readdir order, without "." and ".."; an error when it cannot be opened.
Result<std::vector<std::string>> directory_names(const std::string& path);

}  // namespace sigdrain
