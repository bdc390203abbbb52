#include "containers/run_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <fmt/format.h>

#include "util/fd.hpp"

extern char** environ;

namespace sigdrain {
namespace {

constexpr size_t kMaxOutput = 64u << 20;

// posix_spawn file actions, destroyed on every path out.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  SpawnSetup() { posix_spawn_file_actions_init(&actions); }
  ~SpawnSetup() { posix_spawn_file_actions_destroy(&actions); }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

// Reaps `pid`, killing it first when `kill_first`; returns its wait status.
int reap(pid_t pid, bool kill_first) {
  if (kill_first) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

Result<std::string> run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  if (argv.empty()) return Error::msg("run_command: empty argv");
  const std::string& program = argv[0];

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Error::sys(errno, "pipe2");
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);

  SpawnSetup setup;
  posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&setup.actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t pid = 0;
  if (int err = ::posix_spawnp(&pid, program.c_str(), &setup.actions, nullptr, args.data(), environ); err != 0)
    return Error::sys(err, fmt::format("cannot run {}", program));
  write_end.reset();  // so that read() sees EOF once the child exits

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string output;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      reap(pid, true);
      return Error::msg(fmt::format("{} did not finish within {} ms", program, timeout.count()));
    }
    pollfd pfd{read_end.get(), POLLIN, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      reap(pid, true);
      return Error::sys(err, "poll");
    }
    if (n == 0) continue;  // the deadline check above ends it
    ssize_t got = ::read(read_end.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      int err = errno;
      reap(pid, true);
      return Error::sys(err, fmt::format("reading the output of {}", program));
    }
    if (got == 0) break;
    if (output.size() + static_cast<size_t>(got) > kMaxOutput) {
      reap(pid, true);
      return Error::msg(fmt::format("{} wrote more than {} bytes", program, kMaxOutput));
    }
    output.append(buf, static_cast<size_t>(got));
  }

  // EOF: the child closed stdout, which nearly always means it exited; a child that keeps running with stdout
  // closed still gets the deadline.
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error::sys(errno, fmt::format("waiting for {}", program));
    if (r == pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return output;
      if (WIFEXITED(status)) return Error::msg(fmt::format("{} exited with status {}", program, WEXITSTATUS(status)));
      return Error::msg(fmt::format("{} was killed by signal {}", program, WTERMSIG(status)));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      reap(pid, true);
      return Error::msg(fmt::format("{} did not finish within {} ms", program, timeout.count()));
    }
    ::usleep(1000);
  }
}

}  // namespace sigdrain
