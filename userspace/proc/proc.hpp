// Process facts from /proc: status (names, pids in namespaces, signal masks), command line, start time, tree.
// Parsers are pure; ProcFs takes its root as a parameter so tests use fixture trees.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "proc/net_tcp.hpp"
#include "util/result.hpp"

namespace sigdrain {

// What delivering a signal to a process does now. A caught or ignored signal reads as handler/ignore even when
// it is also blocked: the disposition decides what happens once it is unblocked. `blocked` is reported only for
// a signal with the default action, which then waits pending instead of acting.
enum class Disposition { default_action, ignore, handler, blocked };
std::string_view disposition_name(Disposition d);  // "default", "ignore", "handler", "blocked"

struct SignalMasks {
  // bit (signo - 1), as /proc prints them. `blocked` is the mask of the thread whose status was read.
  uint64_t blocked = 0, ignored = 0, caught = 0;
  uint64_t pending = 0;                           // thread-private (SigPnd) and process-wide (ShdPnd) together
  Disposition disposition(int signo) const;       // default_action for numbers outside 1..64
};

struct ProcStatus {
  std::string name;  // comm, at most 15 characters, may hold spaces
  pid_t tgid = 0, ppid = 0, tracer_pid = 0;
  // NSpid: outermost (this /proc's namespace) .. innermost. Kernels before 4.1 lack the line: then {tgid}.
  std::vector<pid_t> nspid;
  char state = '?';
  SignalMasks masks;
};

// Requires Name, Tgid, PPid, SigBlk, SigIgn and SigCgt; other lines are optional, unknown ones skipped.
Result<ProcStatus> parse_proc_status(std::string_view text);
// Arguments are NUL-terminated; a last one without its NUL (a process that rewrote its title) still counts.
// Empty text (kernel thread, zombie) gives no arguments.
std::vector<std::string> parse_cmdline(std::string_view nul_separated);
// Field 22 of /proc/<pid>/stat (clock ticks since boot); the comm field may hold spaces and parentheses.
Result<uint64_t> parse_stat_start_time(std::string_view stat_text);

class ProcFs {
 public:
  ProcFs() = default;  // the host's /proc
  explicit ProcFs(std::string root) : root_(std::move(root)) {}
  Result<ProcStatus> status(pid_t pid) const;
  Result<ProcStatus> thread_status(pid_t pid, pid_t tid) const;  // /proc/<pid>/task/<tid>/status
  Result<std::vector<std::string>> cmdline(pid_t pid) const;
  Result<std::string> cgroup_file(pid_t pid) const;
  Result<uint64_t> start_time(pid_t pid) const;
  Result<std::vector<pid_t>> threads(pid_t pid) const;  // sorted thread ids
  // Direct children of every thread of `pid`, sorted, from /proc/<pid>/task/<tid>/children. A kernel without
  // those files (CONFIG_PROC_CHILDREN off) is answered by scanning every process's PPid instead.
  std::vector<pid_t> children(pid_t pid) const;
  std::vector<pid_t> all_pids() const;  // sorted
  // Inodes of the sockets the process has open (its /proc/<pid>/fd links "socket:[N]"); empty when unreadable.
  std::vector<uint64_t> socket_inodes(pid_t pid) const;
  const std::string& root() const { return root_; }

 private:
  Result<std::string> read(pid_t pid, std::string_view file) const;
  Result<ProcStatus> read_status(pid_t pid, std::string_view file) const;
  std::string root_ = "/proc";
};

struct ProcessFacts {
  pid_t pid = 0, ppid = 0;  // as seen from the ProcFs root's namespace
  pid_t ns_pid = 0;         // in its own (innermost) pid namespace: 1 for a container's init
  std::string comm;
  std::vector<std::string> argv;
  SignalMasks masks;
};

// The processes of the container whose init is `root_pid`: root_pid and those of its descendants whose cgroup
// (the unified "0::" line of /proc/<pid>/cgroup) is root_pid's or below it. Orphans in a container are reparented
// to its init, so the tree holds them all. A descendant outside the cgroup is left out with its subtree. Parents
// come before children; processes that vanish while being read are skipped; an unreadable root_pid gives an empty
// list.
std::vector<ProcessFacts> process_tree(const ProcFs& proc, pid_t root_pid);

// The socket inodes every process of the container whose init is `init_pid` holds (its fds).
std::set<uint64_t> container_socket_inodes(const ProcFs& proc, pid_t init_pid);
// Its network namespace's net/tcp and tcp6, parsed, by the namespace's inode: containers sharing one (the host's
// network) are parsed once per scan.
using NetTcpTables = std::map<uint64_t, std::vector<TcpSocketEntry>>;
// The inbound connections (socket inodes) of that container: its network namespace's, of sockets its processes
// hold. `tables` caches the namespaces read.
std::set<uint64_t> container_inbound_connections(const ProcFs& proc, pid_t init_pid, NetTcpTables* tables = nullptr);

// The process with this pid among `processes`, or nullptr.
const ProcessFacts* find_process(const std::vector<ProcessFacts>& processes, pid_t pid);

// The cgroup a /proc/<pid>/cgroup text names: the unified hierarchy's path ("0::/a/b" -> "/a/b"); without a unified
// line (cgroup v1 only) the whole text, which is then compared for equality only.
std::string cgroup_key(std::string_view proc_cgroup_text);
// True when `key` is `parent` or a cgroup below it.
bool cgroup_within(std::string_view key, std::string_view parent);

}  // namespace sigdrain
