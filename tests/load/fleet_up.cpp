// `sigdrain_fleet up`: creates the fleet, then stays as its supervisor (the part conmon plays for CRI-O): reaps
// each init, records how it ended, removes its cgroup; on SIGTERM or SIGINT kills what is left and removes every
// cgroup and the CRI-O state it made.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fleet.hpp"
#include "fleet_server.hpp"
#include "util/fd.hpp"

namespace sigdrain::fleet {
namespace fs = std::filesystem;

namespace {

std::string random_container_id() {
  unsigned char bytes[32];
  if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) die("getrandom failed");
  std::string id;
  for (unsigned char b : bytes) id += fmt::format("{:02x}", b);
  return id;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out.flush()) die(fmt::format("cannot write {}", path.string()));
}

// What CRI-O writes for a Kubernetes container, as far as sigdrain reads it: names, the pod's grace period (the
// stop timeout) and the pod's labels, which CRI-O keeps as JSON inside one annotation.
std::string oci_config(const Member& m) {
  nlohmann::json labels = {{"sigdrain.io/guard", m.guarded ? "true" : "false"}, {"app", "fleet"}};
  nlohmann::json annotations = {
      {"io.kubernetes.container.name", m.name},
      {"io.kubernetes.pod.name", "fleet-" + m.name},
      {"io.kubernetes.pod.namespace", "sigdrain-fleet"},
      {"io.kubernetes.pod.terminationGracePeriod", std::to_string(m.stop_timeout_s)},
      {"io.kubernetes.cri-o.Labels", labels.dump()},
  };
  nlohmann::json config = {
      {"ociVersion", "1.0.2"}, {"process", {{"args", {"fleet_server"}}}}, {"annotations", annotations}};
  return config.dump(2) + "\n";
}

// rmdir a cgroup whose last process has just been reaped; the kernel may take a moment to let it go.
void remove_cgroup(const std::string& path) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::fprintf(stderr, "fleet: cannot remove %s: %s\n", path.c_str(), std::strerror(errno));
}

class Supervisor {
 public:
  explicit Supervisor(const UpOptions& o) : options_(o) {
    slice_ = fmt::format("{}/sigdrain-fleet-{}.slice", o.cgroup_root, ::getpid());
    state_ = o.dir / "crio" / "overlay-containers";
  }

  // Forks each init, writes its runtime state and only then creates its cgroup, so that whoever finds the cgroup
  // finds the state too.
  void create() {
    if (::mkdir(slice_.c_str(), 0755) != 0)
      die(fmt::format("cannot create cgroup {}: {}", slice_, std::strerror(errno)));
    fs::create_directories(state_);
    for (int i = 0; i < options_.guarded + options_.unguarded; ++i) {
      Member m;
      m.id = random_container_id();
      m.guarded = i < options_.guarded;
      m.name = fmt::format("{}-{:03d}", m.guarded ? "web" : "plain", i);
      m.stop_timeout_s = options_.stop_timeout_s;
      m.cgroup = fmt::format("{}/crio-{}.scope", slice_, m.id);
      start(m);
      members_.emplace(m.pid, m);
    }
    std::string manifest;
    for (const auto& [pid, m] : members_)
      manifest += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\n", m.id, m.name, m.pid, m.port, m.guarded ? 1 : 0,
                              m.stop_timeout_s, m.cgroup);
    write_file(manifest_path(options_.dir).string() + ".tmp", manifest);
    fs::rename(manifest_path(options_.dir).string() + ".tmp", manifest_path(options_.dir));
  }

  // Reaps inits until SIGTERM or SIGINT.
  void supervise(int signal_fd) {
    for (;;) {
      signalfd_siginfo info{};
      if (::read(signal_fd, &info, sizeof info) != sizeof info) continue;
      if (info.ssi_signo != SIGCHLD) return;
      reap(WNOHANG);
    }
  }

  void teardown() {
    for (const auto& [pid, m] : members_) ::kill(pid, SIGKILL);
    while (!members_.empty()) reap(0);
    ::rmdir(slice_.c_str());
    std::error_code ec;
    fs::remove_all(options_.dir / "crio", ec);
  }

  size_t size() const { return members_.size(); }

 private:
  void start(Member& m) {
    int go[2], port[2];
    if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(port, O_CLOEXEC) != 0) die("pipe");
    pid_t pid = ::fork();
    if (pid < 0) die(fmt::format("fork: {}", std::strerror(errno)));
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::prctl(PR_SET_NAME, "fleet_server");
      // A mount namespace of its own, as a real container's init has: the daemon's stop gate trusts no runtime kill
      // from a process that shares the container's.
      if (::unshare(CLONE_NEWNS) != 0) ::_exit(1);
      ::close(go[1]);
      ::close(port[0]);
      int null = ::open("/dev/null", O_RDWR);  // not the supervisor's stdout: whoever reads it waits for its end
      ::dup2(null, 0);
      ::dup2(null, 1);
      char byte = 0;
      if (::read(go[0], &byte, 1) != 1) ::_exit(1);  // the supervisor gave up on this one
      ::close(go[0]);
      ::_exit(serve(port[1]));
    }
    UniqueFd go_write(go[1]), port_read(port[0]);
    ::close(go[0]);
    ::close(port[1]);
    m.pid = pid;
    fs::path userdata = state_ / m.id / "userdata";
    fs::create_directories(userdata);
    write_file(userdata / "config.json", oci_config(m));
    write_file(userdata / "pidfile", std::to_string(pid));
    if (::mkdir(m.cgroup.c_str(), 0755) != 0)
      die(fmt::format("cannot create cgroup {}: {}", m.cgroup, std::strerror(errno)));
    write_file(fs::path(m.cgroup) / "cgroup.procs", std::to_string(pid));
    if (::write(go_write.get(), "g", 1) != 1 || ::read(port_read.get(), &m.port, sizeof m.port) != sizeof m.port)
      die(fmt::format("{} (pid {}) did not start serving", m.name, pid));
  }

  void reap(int flags) {
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, flags)) > 0;) {
      auto it = members_.find(pid);
      if (it == members_.end()) continue;
      Exit e{it->second.id, WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0};
      std::ofstream(exits_path(options_.dir), std::ios::app) << fmt::format("{}\t{}\t{}\n", e.id, e.code, e.signal);
      remove_cgroup(it->second.cgroup);
      members_.erase(it);
      if (flags == 0) return;
    }
  }

  UpOptions options_;
  std::string slice_;
  fs::path state_;
  std::map<pid_t, Member> members_;  // by init pid, the ones still running
};

}  // namespace

int run_up(const UpOptions& options) {
  // Blocked before the first fork: the inits inherit the mask and unblock only SIGTERM, the supervisor reads all
  // three from a signalfd.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGCHLD, SIGTERM, SIGINT}) sigaddset(&signals, s);
  ::sigprocmask(SIG_BLOCK, &signals, nullptr);
  UniqueFd signal_fd(::signalfd(-1, &signals, SFD_CLOEXEC));
  if (!signal_fd) die("signalfd");
  fs::create_directories(options.dir);
  fs::remove(exits_path(options.dir));

  Supervisor supervisor(options);
  auto start = std::chrono::steady_clock::now();
  supervisor.create();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  std::printf("ready %zu containers in %lld ms\n", supervisor.size(), static_cast<long long>(ms));
  std::fflush(stdout);
  supervisor.supervise(signal_fd.get());
  supervisor.teardown();
  return 0;
}

}  // namespace sigdrain::fleet
