// The compensation for connections older than the observer, for safe-stop and the daemon alike. BPF learns of an
// inbound connection opened before its programs loaded only at the connection's next data (it is then "adopted");
// until then any of them may carry a request in flight. Pure: connections are socket inodes; the caller reads the
// old ones once (container_inbound_connections), which are still open (container_socket_inodes) and BPF's count of
// adopted ones (CgroupStats::adopted_open).
#pragma once

#include <cstdint>
#include <set>

#include "policy/drain.hpp"

namespace sigdrain {

class OldConnections {
 public:
  OldConnections() = default;
  // The container's inbound connections open when the observer began to see its sockets.
  explicit OldConnections(std::set<uint64_t> open_at_start) : unseen_(std::move(open_at_start)) {}

  // True once every old connection closed: the drain samples need no more reading of net/tcp.
  bool empty() const { return unseen_.empty(); }
  size_t size() const { return unseen_.size(); }

  // Forgets those no longer open; of the rest, those BPF has not adopted yet count as requests in flight and as
  // activity now, so the drain errs towards waiting, never towards a cut request.
  DrainSample adjust(DrainSample sample, const std::set<uint64_t>& open_now, int64_t adopted_open);

 private:
  std::set<uint64_t> unseen_;
};

}  // namespace sigdrain
