// What /proc says about the dispositions of processes that predate the trace, to seed the BPF record once at
// start-up (Observer::seed_dispositions). After that the record follows rt_sigaction, rt_sigprocmask, clone and
// exec as they happen.
#pragma once

#include <optional>
#include <sys/types.h>

#include "observer/observer.hpp"
#include "proc/proc.hpp"

namespace sigdrain {

// nullopt for a process that is gone or a zombie (its handlers are released: SigCgt reads 0, which is not
// "no handler").
std::optional<DispositionSeed> read_disposition_seed(const ProcFs& proc, pid_t pid);

}  // namespace sigdrain
