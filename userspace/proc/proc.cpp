#include "proc/proc.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "proc/net_tcp.hpp"
#include "signals/signal_names.hpp"
#include "util/files.hpp"
#include "util/parse_number.hpp"
#include "util/text.hpp"

namespace sigdrain {
namespace {

// parse_integer() into a field of the struct being filled; false, leaving it as it was, when `s` is no number.
template <typename T>
bool parse_into(std::string_view s, T& out, int base = 10) {
  auto v = parse_integer<T>(s, base);
  if (v) out = *v;
  return v.has_value();
}

// Splits on runs of spaces and tabs.
std::vector<std::string_view> fields(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    size_t b = s.find_first_not_of(" \t\n");
    if (b == std::string_view::npos) break;
    s.remove_prefix(b);
    size_t e = s.find_first_of(" \t\n");
    out.push_back(s.substr(0, e));
    if (e == std::string_view::npos) break;
    s.remove_prefix(e);
  }
  return out;
}

bool is_number(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Numeric entries of a directory, sorted; an error when it cannot be opened.
Result<std::vector<pid_t>> numeric_entries(const std::string& dir) {
  auto names = directory_names(dir);
  if (!names) return names.error();
  std::vector<pid_t> out;
  for (const std::string& name : *names) {
    pid_t p = 0;
    if (is_number(name) && parse_into(std::string_view(name), p)) out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string_view disposition_name(Disposition d) {
  switch (d) {
    case Disposition::default_action: return "default";
    case Disposition::ignore: return "ignore";
    case Disposition::handler: return "handler";
    case Disposition::blocked: return "blocked";
  }
  return "default";
}

Disposition SignalMasks::disposition(int signo) const {
  if (signo < 1 || signo > 64) return Disposition::default_action;
  const uint64_t bit = signal_bit(signo);
  if (caught & bit) return Disposition::handler;
  if (ignored & bit) return Disposition::ignore;
  if (blocked & bit) return Disposition::blocked;
  return Disposition::default_action;
}

Result<ProcStatus> parse_proc_status(std::string_view text) {
  ProcStatus st;
  uint64_t private_pending = 0, shared_pending = 0;
  std::set<std::string_view> seen;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon), raw = line.substr(colon + 1), value = trim(raw);
    bool ok = true;
    if (key == "Name") {
      // Only the separating tab goes: a comm may begin or end with spaces.
      st.name = std::string(raw.starts_with('\t') ? raw.substr(1) : raw);
    } else if (key == "State") {
      ok = !value.empty();
      if (ok) st.state = value[0];
    } else if (key == "Tgid") {
      ok = parse_into(value, st.tgid);
    } else if (key == "PPid") {
      ok = parse_into(value, st.ppid);
    } else if (key == "TracerPid") {
      ok = parse_into(value, st.tracer_pid);
    } else if (key == "NSpid") {
      for (std::string_view tok : fields(value)) {
        pid_t p = 0;
        if (!parse_into(tok, p)) ok = false;
        st.nspid.push_back(p);
      }
      ok = ok && !st.nspid.empty();
    } else if (key == "SigPnd") {
      ok = parse_into(value, private_pending, 16);
    } else if (key == "ShdPnd") {
      ok = parse_into(value, shared_pending, 16);
    } else if (key == "SigBlk") {
      ok = parse_into(value, st.masks.blocked, 16);
    } else if (key == "SigIgn") {
      ok = parse_into(value, st.masks.ignored, 16);
    } else if (key == "SigCgt") {
      ok = parse_into(value, st.masks.caught, 16);
    } else {
      continue;
    }
    if (!ok) return Error::msg(fmt::format("malformed {} line in /proc status: \"{}\"", key, line));
    seen.insert(key);
  }
  for (std::string_view required : {"Name", "Tgid", "PPid", "SigBlk", "SigIgn", "SigCgt"})
    if (!seen.contains(required)) return Error::msg(fmt::format("not a /proc/<pid>/status text: no {} line", required));
  st.masks.pending = private_pending | shared_pending;
  if (st.nspid.empty()) st.nspid.push_back(st.tgid);
  return st;
}

std::vector<std::string> parse_cmdline(std::string_view text) {
  std::vector<std::string> argv;
  while (!text.empty()) {
    size_t nul = text.find('\0');
    argv.emplace_back(text.substr(0, nul));
    if (nul == std::string_view::npos) break;
    text.remove_prefix(nul + 1);
  }
  return argv;
}

Result<uint64_t> parse_stat_start_time(std::string_view text) {
  // comm is in parentheses and may itself contain ") "; the fields after the last ')' are fixed.
  size_t close = text.rfind(')');
  if (close == std::string_view::npos || text.find('(') > close) return Error::msg("malformed /proc stat: no (comm)");
  auto after = fields(text.substr(close + 1));
  // After comm come field 3 (state) .. field 22 (starttime): the 20th.
  constexpr size_t kStartTimeIndex = 22 - 3;
  if (after.size() <= kStartTimeIndex)
    return Error::msg(fmt::format("malformed /proc stat: {} fields after comm, start time is the 20th", after.size()));
  uint64_t v = 0;
  if (!parse_into(after[kStartTimeIndex], v))
    return Error::msg(fmt::format("malformed /proc stat: start time \"{}\"", after[kStartTimeIndex]));
  return v;
}

Result<std::string> ProcFs::read(pid_t pid, std::string_view file) const {
  return read_file(fmt::format("{}/{}/{}", root_, pid, file));
}

Result<ProcStatus> ProcFs::read_status(pid_t pid, std::string_view file) const {
  auto text = read(pid, file);
  if (!text) return text.error();
  auto st = parse_proc_status(*text);
  if (!st) return Error::msg(fmt::format("{}/{}/{}: {}", root_, pid, file, st.error().message));
  return st;
}

Result<ProcStatus> ProcFs::status(pid_t pid) const { return read_status(pid, "status"); }

Result<ProcStatus> ProcFs::thread_status(pid_t pid, pid_t tid) const {
  return read_status(pid, fmt::format("task/{}/status", tid));
}

Result<std::vector<std::string>> ProcFs::cmdline(pid_t pid) const {
  auto text = read(pid, "cmdline");
  if (!text) return text.error();
  return parse_cmdline(*text);
}

Result<std::string> ProcFs::cgroup_file(pid_t pid) const { return read(pid, "cgroup"); }

Result<uint64_t> ProcFs::start_time(pid_t pid) const {
  auto text = read(pid, "stat");
  if (!text) return text.error();
  auto t = parse_stat_start_time(*text);
  if (!t) return Error::msg(fmt::format("{}/{}/stat: {}", root_, pid, t.error().message));
  return t;
}

Result<std::vector<pid_t>> ProcFs::threads(pid_t pid) const {
  auto tids = numeric_entries(fmt::format("{}/{}/task", root_, pid));
  if (!tids) return Error::sys(tids.error().code, fmt::format("no process {} in {}", pid, root_));
  return tids;
}

std::vector<pid_t> ProcFs::children(pid_t pid) const {
  std::vector<pid_t> out;
  auto tids = threads(pid);
  if (!tids) return out;
  bool have_children_files = true;
  for (pid_t tid : *tids) {
    auto text = read(pid, fmt::format("task/{}/children", tid));
    if (!text) {
      // A thread that exits meanwhile takes its file along; a kernel without the files lacks it for every thread.
      if (text.error().code == ENOENT && tid == pid) have_children_files = false;
      continue;
    }
    for (std::string_view tok : fields(*text)) {
      pid_t child = 0;
      if (parse_into(tok, child)) out.push_back(child);
    }
  }
  if (!have_children_files && out.empty()) {
    for (pid_t other : all_pids())
      if (auto st = status(other); st && st->ppid == pid && other != pid) out.push_back(other);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<uint64_t> ProcFs::socket_inodes(pid_t pid) const {
  std::vector<uint64_t> out;
  std::string dir = fmt::format("{}/{}/fd", root_, pid);
  auto fds = numeric_entries(dir);
  if (!fds) return out;
  char link[64];
  for (pid_t fd : *fds) {
    ssize_t n = ::readlink(fmt::format("{}/{}", dir, fd).c_str(), link, sizeof link);
    if (n <= 0) continue;  // closed meanwhile
    if (auto inode = parse_socket_link(std::string_view(link, static_cast<size_t>(n)))) out.push_back(*inode);
  }
  return out;
}

std::vector<pid_t> ProcFs::all_pids() const {
  auto pids = numeric_entries(root_);
  return pids ? std::move(*pids) : std::vector<pid_t>{};
}

std::string cgroup_key(std::string_view text) {
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    if (line.starts_with("0::")) return std::string(line.substr(3));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  return std::string(text);
}

bool cgroup_within(std::string_view key, std::string_view parent) {
  if (key == parent) return true;
  if (!parent.starts_with('/')) return false;  // a cgroup v1 text: equality only
  if (parent == "/") return key.starts_with('/');
  return key.size() > parent.size() && key.starts_with(parent) && key[parent.size()] == '/';
}

const ProcessFacts* find_process(const std::vector<ProcessFacts>& processes, pid_t pid) {
  for (const auto& p : processes)
    if (p.pid == pid) return &p;
  return nullptr;
}

std::vector<ProcessFacts> process_tree(const ProcFs& proc, pid_t root_pid) {
  std::vector<ProcessFacts> out;
  auto root_cgroup = proc.cgroup_file(root_pid);
  if (!root_cgroup) return out;
  const std::string container_cgroup = cgroup_key(*root_cgroup);

  std::set<pid_t> visited;
  std::vector<pid_t> queue{root_pid};
  for (size_t i = 0; i < queue.size(); ++i) {
    const pid_t pid = queue[i];
    if (!visited.insert(pid).second) continue;
    auto st = proc.status(pid);
    if (!st) continue;
    if (pid != root_pid) {
      auto cgroup = proc.cgroup_file(pid);
      if (!cgroup || !cgroup_within(cgroup_key(*cgroup), container_cgroup)) continue;
    }
    ProcessFacts f;
    f.pid = pid;
    f.ppid = st->ppid;
    f.ns_pid = st->nspid.back();
    f.comm = st->name;
    f.masks = st->masks;
    if (auto argv = proc.cmdline(pid)) f.argv = std::move(*argv);
    out.push_back(std::move(f));
    for (pid_t child : proc.children(pid)) queue.push_back(child);
  }
  return out;
}

std::set<uint64_t> container_socket_inodes(const ProcFs& proc, pid_t init_pid) {
  std::set<uint64_t> owned;
  for (const auto& process : process_tree(proc, init_pid))
    for (uint64_t inode : proc.socket_inodes(process.pid)) owned.insert(inode);
  return owned;
}

std::set<uint64_t> container_inbound_connections(const ProcFs& proc, pid_t init_pid, NetTcpTables* tables) {
  // Only the container's own sockets: on the host's network its net/tcp lists every connection of the host.
  const std::set<uint64_t> owned = container_socket_inodes(proc, init_pid);
  if (owned.empty()) return {};
  auto read_tables = [&] {
    std::vector<TcpSocketEntry> entries;
    for (const char* table : {"tcp", "tcp6"}) {
      auto text = read_file(fmt::format("{}/{}/net/{}", proc.root(), init_pid, table));
      if (!text) continue;
      auto more = parse_proc_net_tcp(*text);
      entries.insert(entries.end(), more.begin(), more.end());
    }
    return entries;
  };
  struct stat netns{};
  if (!tables || ::stat(fmt::format("{}/{}/ns/net", proc.root(), init_pid).c_str(), &netns) != 0)
    return inbound_connections(read_tables(), &owned);
  auto [it, fresh] = tables->try_emplace(netns.st_ino);
  if (fresh) it->second = read_tables();
  return inbound_connections(it->second, &owned);
}

}  // namespace sigdrain
