#include "common.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "observer/tracepoint_event.hpp"

namespace sigdrain::bench {

namespace fs = std::filesystem;

void die(const std::string& message) {
  std::fprintf(stderr, "bench: %s\n", message.c_str());
  std::exit(1);
}

Result<LoopbackListener> listen_loopback(int backlog) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::sys(errno, "socket");
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return Error::sys(errno, "bind");
  if (::listen(fd.get(), backlog) != 0) return Error::sys(errno, "listen");
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return Error::sys(errno, "getsockname");
  return LoopbackListener{std::move(fd), ntohs(addr.sin_port)};
}

Result<UniqueFd> connect_loopback(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::sys(errno, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return Error::sys(errno, "connect");
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

Result<TcpPair> tcp_pair(const LoopbackListener& listener) {
  auto client = connect_loopback(listener.port);
  if (!client) return client.error();
  UniqueFd server(::accept4(listener.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!server) return Error::sys(errno, "accept");
  int one = 1;
  setsockopt(server.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return TcpPair{std::move(*client), std::move(server)};
}

uint64_t raise_nofile_limit() {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  getrlimit(RLIMIT_NOFILE, &lim);
  return lim.rlim_cur;
}

ScratchCgroup::ScratchCgroup(const std::string& name) {
  fs::path root = fs::exists("/sys/fs/cgroup/unified/cgroup.procs") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
  path_ = root / (name + "-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::create_directory(path_, ec);
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) id_ = st.st_ino;
}

ScratchCgroup::~ScratchCgroup() { ::rmdir(path_.c_str()); }

Result<void> ScratchCgroup::enter(pid_t pid) const {
  std::ofstream procs(path_ / "cgroup.procs");
  procs << pid << std::flush;
  if (!procs) return Error::msg("cannot move pid " + std::to_string(pid) + " into " + path_.string());
  return {};
}

namespace {

template <typename NextId>
std::set<uint32_t> collect_ids(NextId next_id) {
  std::set<uint32_t> ids;
  uint32_t id = 0;
  while (next_id(id, &id) == 0) ids.insert(id);
  return ids;
}

}  // namespace

std::set<uint32_t> bpf_prog_ids() { return collect_ids(bpf_prog_get_next_id); }
std::set<uint32_t> bpf_map_ids() { return collect_ids(bpf_map_get_next_id); }

std::vector<BpfProgRunStats> bpf_prog_run_stats(const std::set<uint32_t>& ids) {
  std::vector<BpfProgRunStats> out;
  for (uint32_t id : ids) {
    UniqueFd fd(bpf_prog_get_fd_by_id(id));
    if (!fd) continue;
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) continue;
    out.push_back({info.name, info.run_time_ns, info.run_cnt});
  }
  return out;
}

std::vector<BpfMapMemory> bpf_map_memory(const std::set<uint32_t>& ids) {
  std::vector<BpfMapMemory> out;
  for (uint32_t id : ids) {
    UniqueFd fd(bpf_map_get_fd_by_id(id));
    if (!fd) continue;
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) continue;
    BpfMapMemory m{info.name, info.max_entries, 0,
                   info.type == BPF_MAP_TYPE_HASH || info.type == BPF_MAP_TYPE_LRU_HASH ||
                       info.type == BPF_MAP_TYPE_PERCPU_HASH || info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH};
    // The kernel reports the charged memory only in fdinfo.
    std::ifstream fdinfo("/proc/self/fdinfo/" + std::to_string(fd.get()));
    for (std::string line; std::getline(fdinfo, line);)
      if (line.rfind("memlock:", 0) == 0) m.memlock_bytes = std::stoull(line.substr(8));
    out.push_back(m);
  }
  return out;
}

int set_bpf_stats(int enabled) {
  const char* path = "/proc/sys/kernel/bpf_stats_enabled";
  int previous = -1;
  if (std::ifstream in(path); !(in >> previous)) return -1;
  std::ofstream out(path);
  out << enabled << std::flush;
  if (!out) return -1;
  return previous;
}

Result<ProcSample> sample_process(pid_t pid) {
  ProcSample s;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  if (!status) return Error::msg("no process " + std::to_string(pid));
  for (std::string line; std::getline(status, line);) {
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    if (key == "VmRSS:") fields >> s.rss_kb;
    if (key == "VmHWM:") fields >> s.hwm_kb;
  }
  std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(stat_file, stat);
  // Fields after the parenthesised comm: state is field 3, utime 14, stime 15.
  auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return Error::msg("unreadable /proc/" + std::to_string(pid) + "/stat");
  std::istringstream rest(stat.substr(close_paren + 2));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  if (fields.size() < 13) return Error::msg("short /proc/" + std::to_string(pid) + "/stat");
  s.cpu_ticks = std::stoull(fields[11]) + std::stoull(fields[12]);
  return s;
}

nlohmann::json footprint_over(pid_t pid, std::chrono::seconds window) {
  auto before = sample_process(pid);
  if (!before) die("sampling pid " + std::to_string(pid) + ": " + before.error().message);
  std::this_thread::sleep_for(window);
  auto after = sample_process(pid);
  if (!after) die("sampling pid " + std::to_string(pid) + " (did it exit?): " + after.error().message);
  double cpu_s = static_cast<double>(after->cpu_ticks - before->cpu_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return {{"rss_kb", after->rss_kb}, {"hwm_kb", after->hwm_kb},
          {"cpu_percent", 100.0 * cpu_s / std::chrono::duration<double>(window).count()}};
}

pid_t spawn_logged(const std::vector<std::string>& args, const std::string& log_path) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log >= 0) {
      dup2(log, 1);
      dup2(log, 2);
    }
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

double median(std::vector<double> values) { return percentile(std::move(values), 50); }

MeanInterval mean_interval95(const std::vector<double>& values) {
  MeanInterval out;
  if (values.empty()) return out;
  const double n = static_cast<double>(values.size());
  double sum = 0;
  for (double v : values) sum += v;
  out.mean = sum / n;
  if (values.size() < 2) return out;
  double squares = 0;
  for (double v : values) squares += (v - out.mean) * (v - out.mean);
  // Two-sided 95 % quantiles by degrees of freedom, the nearest tabulated one at or above (as bench_stats.py).
  static constexpr std::pair<size_t, double> kT95[] = {{1, 12.71}, {2, 4.30}, {3, 3.18}, {4, 2.78}, {5, 2.57},
                                                       {6, 2.45},  {7, 2.36}, {8, 2.31}, {9, 2.26}, {10, 2.23},
                                                       {12, 2.18}, {15, 2.13}, {20, 2.09}, {25, 2.06}, {30, 2.04},
                                                       {40, 2.02}, {60, 2.00}};
  double t = 1.96;
  for (auto [df, q] : kT95)
    if (values.size() - 1 <= df) {
      t = q;
      break;
    }
  out.half = t * std::sqrt(squares / (n - 1)) / std::sqrt(n);
  return out;
}

Result<void> write_json(const fs::path& path, const nlohmann::json& value) {
  std::ofstream out(path);
  out << value.dump(2) << '\n' << std::flush;
  if (!out) return Error::msg("cannot write " + path.string());
  return {};
}

TracepointProgram::TracepointProgram(const char* event, Body body) {
  Result<UniqueFd> prog = Error::msg("not loaded");
  if (body == Body::empty) {
    prog = load_empty_tracepoint_program(kEmptyName);
  } else {
    const bpf_insn insns[] = {
        {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_ktime_get_ns},
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    UniqueFd loaded(bpf_prog_load(BPF_PROG_TYPE_TRACEPOINT, kClockReadName, "GPL", insns, 3, nullptr));
    if (loaded) prog = std::move(loaded);
  }
  auto perf = open_tracepoint_event("/sys/kernel/tracing", event);
  if (!prog || !perf) return;
  prog_ = std::move(*prog);
  event_ = std::move(*perf);
  // The program goes into the tracepoint's program array, which runs on every CPU (a second event with the same
  // program is refused with EEXIST).
  if (ioctl(event_.get(), PERF_EVENT_IOC_SET_BPF, prog_.get()) != 0 || ioctl(event_.get(), PERF_EVENT_IOC_ENABLE, 0) != 0)
    return;
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_.get(), &info, &len) == 0) id_ = info.id;
}

double ns_per_run(const std::vector<BpfProgRunStats>& before, const std::vector<BpfProgRunStats>& after,
                  const std::string& name) {
  for (const auto& a : after)
    for (const auto& b : before)
      if (a.name == name && b.name == name && a.run_cnt > b.run_cnt)
        return static_cast<double>(a.run_time_ns - b.run_time_ns) / static_cast<double>(a.run_cnt - b.run_cnt);
  return NAN;
}

}  // namespace sigdrain::bench
