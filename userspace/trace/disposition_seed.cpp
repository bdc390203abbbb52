#include "trace/disposition_seed.hpp"

namespace sigdrain {

std::optional<DispositionSeed> read_disposition_seed(const ProcFs& proc, pid_t pid) {
  auto status = proc.status(pid);
  if (!status || status->state == 'Z' || status->state == 'X' || status->tgid != pid) return std::nullopt;
  DispositionSeed seed{.tgid = static_cast<uint32_t>(pid), .caught = status->masks.caught,
                       .ignored = status->masks.ignored, .threads = {}};
  auto tids = proc.threads(pid);
  if (!tids) return std::nullopt;
  for (pid_t tid : *tids) {
    // /proc/<tid>/status of a thread: SigBlk is that thread's.
    auto ts = tid == pid ? status : proc.status(tid);
    if (!ts || ts->state == 'Z' || ts->state == 'X') continue;
    seed.threads.push_back({static_cast<uint32_t>(tid), ts->masks.blocked});
  }
  return seed;
}

}  // namespace sigdrain
