#include <csignal>

#include <gtest/gtest.h>

#include "policy/explain.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;

ProcessFacts process(pid_t pid, pid_t ppid, std::vector<std::string> argv, uint64_t caught = 0) {
  ProcessFacts p{};
  p.pid = pid;
  p.ppid = ppid;
  p.ns_pid = pid == 100 ? 1 : pid;
  p.argv = argv;
  p.comm = argv[0].substr(argv[0].rfind('/') + 1).substr(0, 15);
  p.masks.caught = caught;
  return p;
}

constexpr uint64_t kCatchesTerm = 1ULL << (SIGTERM - 1);

StopExplanation explain(std::vector<ProcessFacts> ps) {
  PlanInputs in;
  in.processes = std::move(ps);
  in.init_pid = 100;
  auto plan = choose_plan(in);
  EXPECT_TRUE(plan) << plan.error().message;
  return explain_plain_stop(in, *plan, 10s);
}

TEST(ExplainPlainStop, PythonPid1WithoutHandlerIsKilledAtTheTimeout) {
  auto e = explain({process(100, 0, {"/usr/bin/python3", "/app/plain_http.py"})});
  EXPECT_NE(e.plain_stop.find("SIGTERM is dropped: PID 1 (python3) has no handler"), std::string::npos) << e.plain_stop;
  EXPECT_NE(e.plain_stop.find("SIGKILLs it after 10 s"), std::string::npos);
  EXPECT_NE(e.advice.find("sigdrain daemon"), std::string::npos);
}

TEST(ExplainPlainStop, UwsgiReloadsBrutally) {
  auto e = explain({process(100, 0, {"uwsgi", "--master"}, kCatchesTerm), process(101, 100, {"uwsgi", "--master"}, kCatchesTerm)});
  EXPECT_NE(e.plain_stop.find("reload brutally"), std::string::npos) << e.plain_stop;
  EXPECT_NE(e.advice.find("SIGINT"), std::string::npos);
}

TEST(ExplainPlainStop, ShellWrapperForwardsNothing) {
  auto e = explain({process(100, 0, {"sh", "-c", "python3 /app/plain_http.py; echo done"}),
                    process(101, 100, {"python3", "/app/plain_http.py"})});
  EXPECT_EQ(e.forwards, "PID 1 (sh) does not forward SIGTERM to its child");
  EXPECT_NE(e.plain_stop.find("reaches only the wrapper"), std::string::npos);
  EXPECT_NE(e.advice.find("exec"), std::string::npos);
}

TEST(ExplainPlainStop, NginxAndSupervisordAndAHandler) {
  auto nginx = explain({process(100, 0, {"nginx: master process /usr/sbin/nginx"}, kCatchesTerm)});
  EXPECT_NE(nginx.plain_stop.find("fast shutdown"), std::string::npos) << nginx.plain_stop;
  EXPECT_NE(nginx.advice.find("SIGQUIT"), std::string::npos);
  auto sup = explain({process(100, 0, {"/usr/bin/python3", "/usr/bin/supervisord", "-n"}, kCatchesTerm),
                      process(101, 100, {"uwsgi"}, kCatchesTerm)});
  EXPECT_NE(sup.forwards.find("supervisord forwards its own stopsignal"), std::string::npos) << sup.forwards;
  auto handler = explain({process(100, 0, {"/usr/bin/python3", "/app/flask_trap.py"}, kCatchesTerm)});
  EXPECT_NE(handler.plain_stop.find("runs python3's handler"), std::string::npos) << handler.plain_stop;
}

}  // namespace
}  // namespace sigdrain
