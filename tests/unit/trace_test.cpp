#include <csignal>
#include <map>

#include <gtest/gtest.h>

#include "policy/plan.hpp"
#include "trace/record_builder.hpp"
#include "trace/signal_story.hpp"
#include "trace/verdict.hpp"
#include "util/json.hpp"
#include "util/text.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kMs = 1'000'000;

class FakeDirectory : public ProcessDirectory {
 public:
  std::map<uint32_t, ProcessView> views;
  std::map<uint64_t, ContainerView> cgroups;
  std::map<uint32_t, uint64_t> cgroup_of_pid;

  std::optional<ProcessView> process(uint32_t pid) override {
    auto it = views.find(pid);
    return it == views.end() ? std::nullopt : std::optional(it->second);
  }
  std::optional<uint32_t> tgid_of(uint32_t pid) override { return views.contains(pid) ? std::optional(pid) : std::nullopt; }
  std::optional<ContainerView> container_of_cgroup(uint64_t id) override {
    auto it = cgroups.find(id);
    return it == cgroups.end() ? std::nullopt : std::optional(it->second);
  }
  std::optional<uint64_t> cgroup_of(uint32_t pid) override {
    auto it = cgroup_of_pid.find(pid);
    return it == cgroup_of_pid.end() ? std::nullopt : std::optional(it->second);
  }
};

SignalEvent signal_event(uint32_t sender, uint32_t target, int sig, uint32_t result, uint64_t t_ns) {
  SignalEvent e{};
  e.kind = SIGDRAIN_EV_SIGNAL;
  e.sig = sig;
  e.sender_tgid = e.sender_tid = sender;
  e.target_pid = target;
  e.result = result;
  e.disposition = SIGDRAIN_DISP_DEFAULT;  // no handler for anything, as bpf/dispositions.bpf.c recorded it
  e.time_ns = t_ns;
  std::snprintf(e.sender_comm, sizeof(e.sender_comm), "runc");
  std::snprintf(e.target_comm, sizeof(e.target_comm), "python3");
  return e;
}

ExitEvent killed_exit(uint32_t tgid, int sig, uint64_t t_ns) {
  ExitEvent ex{};
  ex.kind = SIGDRAIN_EV_EXIT;
  ex.tgid = tgid;
  ex.time_ns = t_ns;
  ex.cause = SIGDRAIN_EXIT_SIGNAL;
  ex.cause_value = static_cast<uint32_t>(sig);
  return ex;
}

struct PodmanStopFixture : ::testing::Test {
  FakeDirectory dir;
  RecordBuilder builder{dir, [](uint64_t) -> std::optional<int64_t> { return 2; },
                        [](uint64_t ns) { return std::chrono::system_clock::time_point(std::chrono::nanoseconds(ns)); }};
  void SetUp() override {
    ContainerView web{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "web", "podman"};
    dir.views[100] = ProcessView{100, 100, "runc", std::nullopt, false};
    dir.views[4242] = ProcessView{4242, 1, "python3", web, false};
    dir.cgroup_of_pid[4242] = 77;
  }
};

TEST_F(PodmanStopFixture, SigtermToInitWithoutHandlerIsExplained) {
  TraceRecord r = builder.build(signal_event(100, 4242, SIGTERM, SIGDRAIN_RESULT_IGNORED, 1000 * kMs));
  EXPECT_EQ(r.result, "ignored");
  EXPECT_EQ(r.disposition, Disposition::default_action);
  EXPECT_EQ(r.verdict, "ignored: PID 1 has no handler, the runtime will SIGKILL it after its timeout");
  EXPECT_EQ(r.inflight, 2);
  auto j = to_json(r);
  EXPECT_EQ(j["event"], "signal");
  EXPECT_EQ(j["signal"], "SIGTERM");
  EXPECT_EQ(j["signo"], 15);
  EXPECT_EQ(j["sender"]["comm"], "runc");
  EXPECT_TRUE(j["sender"]["container"].is_null());
  EXPECT_EQ(j["target"]["container"]["name"], "web");
  EXPECT_EQ(j["target"]["container"]["runtime"], "podman");
  EXPECT_EQ(j["result"], "ignored");
  EXPECT_EQ(j["disposition"], "default");
  EXPECT_EQ(j["inflight"], 2);
}

TEST_F(PodmanStopFixture, SigkillAfterSigtermIsAnEscalationAndTheExitIsTimed) {
  (void)builder.build(signal_event(100, 4242, SIGTERM, SIGDRAIN_RESULT_IGNORED, 1000 * kMs));
  TraceRecord kill = builder.build(signal_event(100, 4242, SIGKILL, SIGDRAIN_RESULT_DELIVERED, 3005 * kMs));
  EXPECT_EQ(kill.escalation_after_ms, 2005);
  EXPECT_EQ(kill.verdict, "escalation: SIGKILL 2005 ms after the stop signal; the process had not exited");
  EXPECT_EQ(to_json(kill)["escalation_after_ms"], 2005);

  TraceRecord exit = builder.build(killed_exit(4242, SIGKILL, 3010 * kMs));
  EXPECT_EQ(exit.killed_by, SIGKILL);
  EXPECT_EQ(exit.after_signal_ms, 2010);
  EXPECT_EQ(exit.verdict, "killed by SIGKILL, 2010 ms after SIGTERM");
  auto j = to_json(exit);
  EXPECT_EQ(j["event"], "exit");
  EXPECT_EQ(j["pid"], 4242);
  EXPECT_EQ(j["killed_by"], "SIGKILL");
  EXPECT_FALSE(j.contains("code"));
  EXPECT_EQ(j["after_signal_ms"], 2010);
  EXPECT_EQ(j["container"]["name"], "web");
}

// A SIGUSR1 handler that calls _exit(7): the exit is shown (the filter keeps exits with after_signal_ms) and timed.
TEST_F(PodmanStopFixture, ExitAfterANonStopSignalIsTimedAgainstIt) {
  (void)builder.build(signal_event(100, 4242, SIGUSR1, SIGDRAIN_RESULT_DELIVERED, 1000 * kMs));
  ExitEvent ex{};
  ex.kind = SIGDRAIN_EV_EXIT;
  ex.tgid = 4242;
  ex.time_ns = 1020 * kMs;
  ex.cause = SIGDRAIN_EXIT_CODE;
  ex.cause_value = 7;
  TraceRecord exit = builder.build(ex);
  EXPECT_EQ(exit.exit_code, 7);
  EXPECT_EQ(exit.after_signal_ms, 20);
  EXPECT_EQ(exit.verdict, "exited with code 7, 20 ms after SIGUSR1");
}

// A process may name itself "\xff": its record is still one line of valid JSON, with U+FFFD for the bad byte.
TEST_F(PodmanStopFixture, InvalidUtf8CommDoesNotBreakJson) {
  dir.views[4242].comm = "\xff\xfeweb";
  TraceRecord r = builder.build(signal_event(100, 4242, SIGTERM, SIGDRAIN_RESULT_DELIVERED, 1000 * kMs));
  auto j = to_json(r);
  EXPECT_THROW((void)j.dump(), nlohmann::json::type_error) << "the default dump() would have thrown";
  std::string text;
  ASSERT_NO_THROW(text = json_text(j));
  EXPECT_EQ(text.find('\n'), std::string::npos);
  auto back = nlohmann::json::parse(text);
  EXPECT_EQ(back["target"]["comm"], "\xEF\xBF\xBD\xEF\xBF\xBDweb");
}

// A process whose disposition the BPF record does not know (it started while trace was seeding, or the main
// thread of a multi-threaded process blocks the signal): "unknown", not "no handler".
TEST_F(PodmanStopFixture, UnrecordedDispositionIsUnknown) {
  for (uint32_t d : {SIGDRAIN_DISP_UNKNOWN, SIGDRAIN_DISP_UNTRACKED, SIGDRAIN_DISP_BLOCKED_MAYBE}) {
    SignalEvent e = signal_event(100, 4242, SIGHUP, SIGDRAIN_RESULT_DELIVERED, 1000 * kMs);
    e.disposition = d;
    TraceRecord r = builder.build(e);
    EXPECT_FALSE(r.disposition) << d;
    EXPECT_EQ(to_json(r)["disposition"], "unknown");
    EXPECT_EQ(r.verdict, "delivered; disposition unknown (not known to sigdrain at that moment)");
  }
}

// kill -9 microseconds after a SIGTERM that kills: the kernel drops the SIGKILL (the group is already exiting), so
// it is neither an escalation nor the cause.
TEST_F(PodmanStopFixture, SigkillToAnExitingProcessIsNoEscalation) {
  dir.views[4242].ns_pid = 7;  // not a namespace init: SIGTERM kills it
  builder.build(signal_event(100, 4242, SIGTERM, SIGDRAIN_RESULT_DELIVERED, 1000 * kMs));
  TraceRecord kill = builder.build(signal_event(100, 4242, SIGKILL, SIGDRAIN_RESULT_IGNORED, 1000 * kMs + 20'000));
  EXPECT_FALSE(kill.escalation_after_ms);
  EXPECT_EQ(kill.verdict, "ignored: the process is already exiting (an earlier fatal signal or exit)");
  EXPECT_EQ(builder.build(killed_exit(4242, SIGTERM, 1001 * kMs)).verdict, "killed by SIGTERM, 1 ms after SIGTERM");
}

// tgkill to a thread that is not the main one: the target is the process, the thread is named beside it, also
// for a thread already gone (the BPF record's tgid).
TEST_F(PodmanStopFixture, AThreadDirectedSignalNamesTheThread) {
  SignalEvent e = signal_event(100, 4250, SIGUSR1, SIGDRAIN_RESULT_DELIVERED, 1000 * kMs);
  e.target_tgid = 4242;
  TraceRecord r = builder.build(e);
  EXPECT_EQ(r.target.pid, 4242u);
  EXPECT_EQ(r.target.tid, 4250u);
  EXPECT_EQ(to_json(r)["target"]["tid"], 4250);
  EXPECT_FALSE(to_json(builder.build(signal_event(100, 4242, SIGUSR1, SIGDRAIN_RESULT_DELIVERED, 1001 * kMs)))["target"].contains("tid"));
}

TEST(ExitVerdict, AnUnseenCauseIsNotCalledAnExit) {
  EXPECT_EQ(exit_verdict({.cause = SIGDRAIN_EXIT_UNKNOWN, .value = 0, .after_signal_ms = 3, .after_signal = SIGKILL}),
            "ended, how was not seen, 3 ms after SIGKILL");
}

TEST(DispositionAtGeneration, TheKernelsResultOverrulesARecordThatDisagrees) {
  EXPECT_EQ(disposition_at_generation(SIGDRAIN_DISP_HANDLER, SIGDRAIN_RESULT_DELIVERED), Disposition::handler);
  EXPECT_EQ(disposition_at_generation(SIGDRAIN_DISP_BLOCKED, SIGDRAIN_RESULT_DELIVERED), Disposition::blocked);
  EXPECT_EQ(disposition_at_generation(SIGDRAIN_DISP_IGNORE, SIGDRAIN_RESULT_IGNORED), Disposition::ignore);
  // Default-ignored signals (SIGCHLD) and a namespace init's default are dropped at generation too.
  EXPECT_EQ(disposition_at_generation(SIGDRAIN_DISP_DEFAULT, SIGDRAIN_RESULT_IGNORED), Disposition::default_action);
  // A dropped signal had no handler and was not blocked (blocked signals are never dropped at generation).
  EXPECT_FALSE(disposition_at_generation(SIGDRAIN_DISP_HANDLER, SIGDRAIN_RESULT_IGNORED));
  EXPECT_FALSE(disposition_at_generation(SIGDRAIN_DISP_BLOCKED, SIGDRAIN_RESULT_IGNORED));
  EXPECT_FALSE(disposition_at_generation(99, SIGDRAIN_RESULT_DELIVERED));
}

TEST(PrintableText, EscapesEveryByteThatIsNotPrintableAscii) {
  EXPECT_EQ(printable_text("web-1"), "web-1");
  EXPECT_EQ(printable_text("\xff\n\x1b[2J\\"), "\\xff\\x0a\\x1b[2J\\x5c");
}

TEST_F(PodmanStopFixture, HumanRowEscapesTheComm) {
  dir.views[4242].comm = "\xff" "a\nb";
  std::string row = human_row(builder.build(signal_event(100, 4242, SIGTERM, SIGDRAIN_RESULT_DELIVERED, 1000 * kMs)));
  EXPECT_NE(row.find("\\xffa\\x0ab[4242"), std::string::npos) << row;
  EXPECT_EQ(row.find('\xff'), std::string::npos);
}

TEST_F(PodmanStopFixture, ExitWithoutPriorSignalHasNullAfterSignal) {
  ExitEvent ex{};
  ex.kind = SIGDRAIN_EV_EXIT;
  ex.tgid = 4242;
  ex.cause = SIGDRAIN_EXIT_CODE;
  ex.cause_value = 3;
  auto j = to_json(builder.build(ex));
  EXPECT_EQ(j["code"], 3);
  EXPECT_TRUE(j["after_signal_ms"].is_null());
}

TEST_F(PodmanStopFixture, KernelGeneratedSignalHasKernelSender) {
  SignalEvent e = signal_event(4242, 4242, SIGSEGV, SIGDRAIN_RESULT_DELIVERED, 5 * kMs);
  e.code = 1;  // SEGV_MAPERR
  TraceRecord r = builder.build(e);
  EXPECT_TRUE(r.sender.kernel);
  EXPECT_EQ(to_json(r)["sender"]["kernel"], true);
}

TEST_F(PodmanStopFixture, GoneProcessFallsBackToTheEventsComm) {
  TraceRecord r = builder.build(signal_event(100, 9999, SIGTERM, SIGDRAIN_RESULT_DELIVERED, 5 * kMs));
  EXPECT_EQ(r.target.pid, 9999u);
  EXPECT_EQ(r.target.comm, "python3");
  EXPECT_FALSE(r.target.container);
  EXPECT_FALSE(r.inflight) << "in flight is only known for a container";
}

TEST(Verdict, DispositionsInWords) {
  EXPECT_EQ(signal_verdict({.signo = SIGTERM, .result = SIGDRAIN_RESULT_DELIVERED, .disposition = Disposition::handler}),
            "delivered: a handler will run");
  EXPECT_EQ(signal_verdict({.signo = SIGTERM, .result = SIGDRAIN_RESULT_DELIVERED, .disposition = Disposition::default_action}),
            "delivered: no handler, the default action ends the process");
  EXPECT_EQ(signal_verdict({.signo = SIGTERM, .result = SIGDRAIN_RESULT_DELIVERED, .disposition = Disposition::handler,
                            .server_note = server_signal_note(ProcessFacts{.comm = "uwsgi"}, SIGTERM)}),
            "delivered: a handler will run, but SIGTERM makes uWSGI reload, SIGINT stops it");
  EXPECT_FALSE(server_signal_note(ProcessFacts{.comm = "uwsgi"}, SIGINT)) << "SIGINT is uWSGI's graceful stop";
  EXPECT_FALSE(server_signal_note(ProcessFacts{.comm = "gunicorn"}, SIGTERM));
  EXPECT_FALSE(server_signal_note(ProcessFacts{.comm = "nginx"}, SIGUSR1)) << "not a stop signal";
  EXPECT_EQ(server_signal_note(ProcessFacts{.comm = "nginx"}, SIGTERM), "SIGTERM is nginx's fast shutdown, SIGQUIT its graceful one");
  EXPECT_EQ(signal_verdict({.signo = SIGUSR1, .result = SIGDRAIN_RESULT_IGNORED, .disposition = Disposition::ignore}),
            "ignored: the process ignores SIGUSR1 (SIG_IGN)");
  EXPECT_EQ(signal_verdict({.signo = SIGTERM, .result = SIGDRAIN_RESULT_DELIVERED, .disposition = Disposition::blocked}),
            "delivered: blocked, stays pending until unblocked");
  EXPECT_EQ(signal_verdict({.signo = SIGTERM, .result = SIGDRAIN_RESULT_ALREADY_PENDING}), "merged: a SIGTERM was already pending");
  EXPECT_EQ(signal_verdict({.signo = SIGWINCH, .result = SIGDRAIN_RESULT_DELIVERED, .disposition = Disposition::default_action}),
            "delivered: no handler, the default action does nothing");
  EXPECT_EQ(deliver_verdict(SIGTERM, SIGDRAIN_HANDLER_CATCH), "handler runs");
  EXPECT_EQ(deliver_verdict(SIGTERM, SIGDRAIN_HANDLER_DEFAULT), "default action: the process ends");
  EXPECT_EQ(exit_verdict({.cause = SIGDRAIN_EXIT_CODE, .value = 0, .after_signal_ms = 412, .after_signal = SIGTERM}),
            "exited with code 0, 412 ms after SIGTERM");
}

TEST(SignalStory, OnlyStopSignalsStartAStoryAndCapacityIsBounded) {
  SignalStory story(2);
  EXPECT_FALSE(story.on_signal(1, SIGKILL, 10));
  story.on_signal(1, SIGUSR1, 10);
  EXPECT_FALSE(story.last_stop_signal(1));
  story.on_signal(1, SIGTERM, 10 * kMs);
  story.on_signal(2, SIGINT, 20 * kMs);
  story.on_signal(3, SIGQUIT, 30 * kMs);  // evicts pid 1, the oldest
  EXPECT_EQ(story.size(), 2u);
  EXPECT_FALSE(story.last_stop_signal(1));
  EXPECT_EQ(story.on_signal(3, SIGKILL, 130 * kMs), 100);
}

}  // namespace
}  // namespace sigdrain
