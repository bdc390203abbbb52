// Holds stop signals sent to guarded processes and delivers them later, through ptrace.
//
// The sender's kill() succeeds as usual: the signal is queued, a thread of the target dequeues it and stops
// in a signal-delivery-stop, and the engine restarts that thread with signal 0 (suppressed) after recording
// it. The app keeps running; only the stopping thread pauses, for the time it takes to record the signal.
//
// Release re-sends the signal marked with a cookie (si_code SI_QUEUE, si_value.sival_ptr = a random 64-bit
// number drawn per engine, known only to the daemon: si_pid cannot mark it, since it reads 0 across PID
// namespaces). The marked stop is let through with the original sender's siginfo written back, so the app's
// handler sees who really sent it. Several held signals of one number are delivered as one, as the kernel
// merges a standard signal that is already pending. A stop of that number without the cookie that comes while
// a release is in flight also passes (the release may have been merged into it).
//
// Nothing is lost: the engine delivers every held signal before it detaches (detach(), detach_all(), the
// destructor); if the on_held callback fails (it cannot journal), the signal is let through instead of held.
// SIGKILL never reaches a tracer, so it is never held. If the daemon dies, the kernel detaches its tracees and
// the held signals are gone with it: the journal written by on_held is the record to act on.
//
// Not thread-safe, and thread-affine: every call must come from the thread that created the engine.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "hold/tracer.hpp"
#include "proc/proc.hpp"
#include "signals/signal_names.hpp"
#include "util/result.hpp"

namespace sigdrain {

struct HeldSignal {
  pid_t tgid;
  pid_t tid;      // the thread that dequeued it
  int signo;
  siginfo_t info; // as the sender queued it; written back on release
  std::chrono::system_clock::time_point held_at;
};

struct HoldOptions {
  std::vector<int> held_signals{SIGTERM, SIGINT, SIGQUIT, SIGHUP};
  // Detach from a process once everything held for it has been released and let through.
  bool detach_after_release = false;
  // How long a released signal may take to come back through a tracee before the engine stops waiting for
  // it (it stays pending in the kernel, e.g. while the app blocks it, and is delivered traced or not).
  std::chrono::milliseconds release_timeout{1000};
  // How long detach() waits for every thread to stop and be let go.
  std::chrono::milliseconds detach_timeout{2000};
  ProcFs proc;  // where the processes' status and threads are read
  // The release marker; 0 draws a random one (the normal case; tests pin it).
  std::uint64_t cookie = 0;
};

class HoldEngine {
 public:
  // Called with each signal before it is suppressed; an error lets the signal through instead.
  using HeldCallback = std::function<Result<void>(const HeldSignal&)>;

  // Fails for a held set naming SIGKILL, SIGSTOP or a number out of range. `tracer` must outlive the engine.
  static Result<std::unique_ptr<HoldEngine>> make(Tracer& tracer, HoldOptions options, HeldCallback on_held);
  HoldEngine(const HoldEngine&) = delete;
  HoldEngine& operator=(const HoldEngine&) = delete;
  ~HoldEngine();  // detach_all()

  // Seizes every thread of the process. Fails when the process is gone or traced by someone else
  // ("cannot guard PID 12: traced by PID 34"). Attaching a guarded process again does nothing.
  Result<void> attach(pid_t tgid);
  // Waits up to `timeout` for one stop of a tracee and acts on it. False when none came.
  bool poll(std::chrono::milliseconds timeout);
  // Re-sends `signo` held for the process; the number of held signals it covers. Asynchronous: the signal
  // passes at a later poll(). Fails when nothing of that number is held or the send fails (all stay held).
  Result<std::size_t> release(pid_t tgid, int signo);
  // Forgets what is held for the process and returns it: the caller takes over delivering it (e.g. it sends
  // its own stop sequence instead). Releases already sent are not affected.
  std::vector<HeldSignal> discard_held(pid_t tgid);
  // Delivers what is still held, then lets every thread go (a group-stopped one stays stopped, as it would
  // untraced). Polls internally for up to release_timeout + detach_timeout.
  Result<void> detach(pid_t tgid);
  Result<void> detach_all();

  bool guarding(pid_t tgid) const { return processes_.contains(tgid); }
  std::vector<pid_t> guarded() const;
  std::vector<pid_t> threads(pid_t tgid) const;
  std::vector<HeldSignal> held(pid_t tgid) const;
  std::uint64_t cookie() const { return options_.cookie; }

 private:
  struct Process {
    pid_t tgid = 0;
    std::set<pid_t> threads;
    std::vector<HeldSignal> held;
    // Released signal numbers not yet seen passing, with the siginfo to write back into the marked stop.
    std::map<int, siginfo_t> in_flight;
    std::chrono::steady_clock::time_point release_deadline;
    bool detaching = false;
  };
  using Clock = std::chrono::steady_clock;

  HoldEngine(Tracer& tracer, HoldOptions options, std::uint64_t held_mask, HeldCallback on_held)
      : tracer_(tracer), options_(std::move(options)), held_mask_(held_mask), on_held_(std::move(on_held)) {}

  Process* find(pid_t tgid);
  Process* owner_of(pid_t tid);  // adopts a thread announced only by its own first stop
  void add_thread(Process& p, pid_t tid);
  void drop_thread(pid_t tid);
  void drop_process(pid_t tgid);

  void on_stop(const SignalStop& s);
  void on_stop(const GroupStop& s);
  void on_stop(const EventStop& s);
  void on_stop(const ThreadExited& s);
  // Restarts a thread with `signo`, or lets it go with `signo` when its process is being detached.
  void pass(Process& p, pid_t tid, int signo);
  bool holds(int signo) const { return (held_mask_ & signal_bit(signo)) != 0; }
  bool is_marked(const siginfo_t& info) const;
  void expire_releases();
  void after_release_passed(Process& p);
  void begin_detach(Process& p);
  // Polls until `done` or `deadline`; true when `done`.
  bool poll_until(const std::function<bool()>& done, Clock::time_point deadline);

  Tracer& tracer_;
  HoldOptions options_;
  std::uint64_t held_mask_;
  HeldCallback on_held_;
  std::map<pid_t, Process> processes_;
  std::map<pid_t, pid_t> tgid_of_;  // every traced thread -> its process
};

}  // namespace sigdrain
