// Where the daemon pins its socket maps and links on bpffs, so that they outlive it: the counting of connections
// and requests in flight goes on while no daemon runs, and the next daemon adopts it (docs/daemon.md, "Restarts").
//
//   <pin root>/sockets-v<N>/<map name>        the maps of bpf/sockets.bpf.c, layout N (SIGDRAIN_SOCKETS_LAYOUT)
//   <pin root>/sockets-v<N>/links/<program>   the links that keep its programs attached
#pragma once

#include <string>
#include <vector>

#include "util/result.hpp"

namespace sigdrain {

inline constexpr const char* kDefaultBpfPinRoot = "/sys/fs/bpf/sigdrain";

// The directory of this build's socket layout under `root`.
std::string sockets_layout_dir(const std::string& root);

// Creates `root` (and parents) and checks that it is on bpffs; the error says why pinning is not possible.
Result<void> prepare_pin_root(const std::string& root);

// The directories of other socket layouts under `root` (an older or newer sigdrain's), full paths.
std::vector<std::string> other_socket_layouts(const std::string& root);

// Removes `path` and everything under it (pins are files on bpffs: unlinking a pin drops its reference).
// A missing path is not an error.
Result<void> remove_pin_tree(const std::string& path);

}  // namespace sigdrain
