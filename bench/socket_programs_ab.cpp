// bench_socket_programs_ab BASE.bpf.o CANDIDATE.bpf.o [ROUNDS] [--json FILE]
//
// What a change to bpf/sockets.bpf.c saves, measured rather than argued: the socket programs of two builds of that
// object (bench/socket_programs_ab.sh compiles a git revision's and the work tree's) attached in turn, in the same
// process, interleaved round by round (the order flips each round), each under the same loopback load:
//   - keep-alive: a 64-byte request and answer on one accepted connection (4 traced calls per request);
//   - new connection: connect, accept, one 1-byte request and answer, both ends closed (RST: no TIME_WAIT);
// in the two configurations that matter: every socket counted (`watch_all_cgroups`, as `sigdrain trace` loads it)
// and a cgroup nobody watches (the daemon, for every process on the node that is not a watched container).
// Per request: the programs' own BPF time from the kernel's bpf_stats (run_time_ns summed over the object's
// programs; stable from round to round) and the calling thread's CPU time (noisier; includes the dispatch). Prints
// the mean candidate - base difference with its 95 % interval (Student t over the paired rounds).
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common.hpp"

namespace sigdrain::bench {
namespace {

// One build of the sockets object, loaded once per configuration; attached only while it is measured.
class SocketPrograms {
 public:
  SocketPrograms(const std::string& path, bool watch_all) {
    obj_ = bpf_object__open_file(path.c_str(), nullptr);
    if (!obj_) die("open " + path + ": " + std::strerror(errno));
    const uint8_t all = watch_all ? 1 : 0;
    if (!set_rodata("watch_all_cgroups", &all, sizeof(all), path)) die(path + ": no watch_all_cgroups in .rodata");
    // Builds since layout 4 take cgroup_stats slots per CPU (with watch_all_cgroups): every CPU must be allowed to.
    const int cpus = libbpf_num_possible_cpus();
    const uint32_t possible = cpus > 0 ? static_cast<uint32_t>(cpus) : 1;
    (void)set_rodata("possible_cpus", &possible, sizeof(possible), path);
    if (int err = bpf_object__load(obj_)) die("load " + path + ": " + std::strerror(-err));
  }
  ~SocketPrograms() {
    detach();
    bpf_object__close(obj_);
  }
  SocketPrograms(const SocketPrograms&) = delete;
  SocketPrograms& operator=(const SocketPrograms&) = delete;

  void attach() {
    bpf_program* prog;
    bpf_object__for_each_program(prog, obj_) {
      if (!bpf_program__autoload(prog)) continue;
      bpf_link* link = bpf_program__attach(prog);
      if (!link) die(std::string("attach ") + bpf_program__name(prog) + ": " + std::strerror(errno));
      links_.push_back(link);
    }
  }
  void detach() {
    for (bpf_link* link : links_) bpf_link__destroy(link);
    links_.clear();
  }
  // run_time_ns summed over the object's loaded programs.
  uint64_t run_time_ns() const {
    uint64_t total = 0;
    bpf_program* prog;
    bpf_object__for_each_program(prog, obj_) {
      if (!bpf_program__autoload(prog)) continue;
      bpf_prog_info info{};
      uint32_t len = sizeof(info);
      if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0) total += info.run_time_ns;
    }
    return total;
  }

 private:
  // A `const volatile` global of .rodata, set before load as a skeleton would (this tool has no skeleton: the two
  // objects are different builds of one source).
  // False when the object has no such global (an older build).
  bool set_rodata(const char* name, const void* value, size_t value_size, const std::string& path) {
    const btf* types = bpf_object__btf(obj_);
    bpf_map* rodata = nullptr;
    bpf_map* map;
    bpf_object__for_each_map(map, obj_) {
      if (bpf_map__is_internal(map) && std::strstr(bpf_map__name(map), ".rodata")) rodata = map;
    }
    if (!types || !rodata) die(path + ": no .rodata or BTF");
    int sec_id = btf__find_by_name_kind(types, ".rodata", BTF_KIND_DATASEC);
    if (sec_id < 0) die(path + ": no .rodata in its BTF");
    const btf_type* sec = btf__type_by_id(types, sec_id);
    const btf_var_secinfo* vars = btf_var_secinfos(sec);
    for (int i = 0; i < btf_vlen(sec); ++i) {
      const btf_type* var = btf__type_by_id(types, vars[i].type);
      if (std::strcmp(btf__name_by_offset(types, var->name_off), name) != 0) continue;
      size_t size = 0;
      const void* initial = bpf_map__initial_value(rodata, &size);
      std::vector<char> data(static_cast<const char*>(initial), static_cast<const char*>(initial) + size);
      if (vars[i].size != value_size || vars[i].offset + value_size > data.size()) die(path + ": " + name + " has another size");
      std::memcpy(data.data() + vars[i].offset, value, value_size);
      if (bpf_map__set_initial_value(rodata, data.data(), data.size())) die(path + ": cannot set " + name);
      return true;
    }
    return false;
  }

  bpf_object* obj_ = nullptr;
  std::vector<bpf_link*> links_;
};

double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

void exchange(int client, int server, size_t bytes) {
  char buf[64] = {};
  if (send(client, buf, bytes, 0) != static_cast<ssize_t>(bytes) || recv(server, buf, bytes, MSG_WAITALL) <= 0 ||
      send(server, buf, bytes, 0) != static_cast<ssize_t>(bytes) || recv(client, buf, bytes, MSG_WAITALL) <= 0)
    die(std::string("loopback exchange: ") + std::strerror(errno));
}

void close_with_reset(UniqueFd& fd) {
  linger hard{1, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  fd.reset();
}

struct Workload {
  const char* name;
  int requests;
  void (*run)(const LoopbackListener&, int requests);
};

const Workload kWorkloads[] = {
    {"keep-alive", 100000,
     [](const LoopbackListener& listener, int requests) {
       TcpPair pair = need(tcp_pair(listener), "tcp pair");
       for (int i = 0; i < requests; ++i) exchange(pair.client.get(), pair.server.get(), 64);
       close_with_reset(pair.client);
     }},
    {"new connection", 5000,
     [](const LoopbackListener& listener, int requests) {
       for (int i = 0; i < requests; ++i) {
         TcpPair pair = need(tcp_pair(listener), "tcp pair");
         exchange(pair.client.get(), pair.server.get(), 1);
         close_with_reset(pair.client);
         close_with_reset(pair.server);
       }
     }},
};

struct PerRequest {
  double bpf_ns = 0;
  double cpu_ns = 0;
};

PerRequest measure(SocketPrograms& programs, const Workload& w, const LoopbackListener& listener) {
  programs.attach();
  const uint64_t bpf_before = programs.run_time_ns();
  const double cpu_before = thread_cpu_ns();
  w.run(listener, w.requests);
  PerRequest out{(programs.run_time_ns() - bpf_before) / double(w.requests),
                 (thread_cpu_ns() - cpu_before) / double(w.requests)};
  programs.detach();
  return out;
}

// Mean and 95 % half-width (Student t) of paired differences.
struct Interval {
  double mean = 0, half = 0;
};
Interval paired(const std::vector<double>& d) {
  static const double t95[] = {0, 12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.20, 2.18, 2.16,
                               2.14, 2.13, 2.12, 2.11, 2.10, 2.09, 2.09, 2.08, 2.07, 2.07, 2.06, 2.06, 2.06, 2.05,
                               2.05, 2.05, 2.04};
  Interval r;
  const size_t n = d.size();
  for (double x : d) r.mean += x / n;
  if (n < 2) return r;
  double ss = 0;
  for (double x : d) ss += (x - r.mean) * (x - r.mean);
  r.half = t95[std::min<size_t>(n - 1, 30)] * std::sqrt(ss / (n - 1) / n);
  return r;
}

}  // namespace
}  // namespace sigdrain::bench

int main(int argc, char** argv) {
  using namespace sigdrain::bench;
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_socket_programs_ab BASE.bpf.o CANDIDATE.bpf.o [ROUNDS] [--json FILE]\n");
    return 2;
  }
  const std::string base_path = argv[1], candidate_path = argv[2];
  int rounds = 8;
  std::string json_path;
  for (int i = 3; i < argc; ++i) {
    if (std::string(argv[i]) == "--json" && i + 1 < argc)
      json_path = argv[++i];
    else
      rounds = std::max(2, std::atoi(argv[i]));
  }
  libbpf_set_print([](libbpf_print_level level, const char* format, va_list args) {
    return level == LIBBPF_WARN ? std::vfprintf(stderr, format, args) : 0;
  });
  const int stats_before = set_bpf_stats(1);
  if (stats_before < 0) die("kernel.bpf_stats_enabled cannot be set");
  LoopbackListener listener = need(listen_loopback(64), "listener");

  nlohmann::json out = nlohmann::json::array();
  std::printf("%-18s %-15s %12s %12s %22s %12s %12s %22s\n", "configuration", "workload", "base bpf ns",
              "cand bpf ns", "bpf ns/request, diff", "base cpu ns", "cand cpu ns", "cpu ns/request, diff");
  for (bool watch_all : {true, false}) {
    SocketPrograms base(base_path, watch_all), candidate(candidate_path, watch_all);
    for (const Workload& w : kWorkloads) {
      std::vector<double> base_bpf, cand_bpf, base_cpu, cand_cpu, d_bpf, d_cpu;
      measure(base, w, listener);  // warm-up: the maps' first entries, the caches
      measure(candidate, w, listener);
      for (int r = 0; r < rounds; ++r) {
        PerRequest a, b;
        if (r % 2 == 0) {
          a = measure(base, w, listener);
          b = measure(candidate, w, listener);
        } else {
          b = measure(candidate, w, listener);
          a = measure(base, w, listener);
        }
        base_bpf.push_back(a.bpf_ns), cand_bpf.push_back(b.bpf_ns), d_bpf.push_back(b.bpf_ns - a.bpf_ns);
        base_cpu.push_back(a.cpu_ns), cand_cpu.push_back(b.cpu_ns), d_cpu.push_back(b.cpu_ns - a.cpu_ns);
      }
      const Interval bpf = paired(d_bpf), cpu = paired(d_cpu);
      const char* config = watch_all ? "every socket" : "cgroup not watched";
      std::printf("%-18s %-15s %12.0f %12.0f %22s %12.0f %12.0f %22s\n", config, w.name, median(base_bpf),
                  median(cand_bpf), fmt::format("{:+.0f} +- {:.0f}", bpf.mean, bpf.half).c_str(), median(base_cpu),
                  median(cand_cpu), fmt::format("{:+.0f} +- {:.0f}", cpu.mean, cpu.half).c_str());
      out.push_back({{"configuration", config},
                     {"workload", w.name},
                     {"rounds", rounds},
                     {"base_bpf_ns", median(base_bpf)},
                     {"candidate_bpf_ns", median(cand_bpf)},
                     {"bpf_diff_ns", bpf.mean},
                     {"bpf_diff_half_95", bpf.half},
                     {"base_cpu_ns", median(base_cpu)},
                     {"candidate_cpu_ns", median(cand_cpu)},
                     {"cpu_diff_ns", cpu.mean},
                     {"cpu_diff_half_95", cpu.half}});
    }
  }
  set_bpf_stats(stats_before);
  if (!json_path.empty()) need(write_json(json_path, out), "write " + json_path);
  return 0;
}
