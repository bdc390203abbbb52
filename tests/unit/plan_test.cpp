#include "policy/plan.hpp"

#include <csignal>

#include <gtest/gtest.h>

#include "process_facts_fixture.hpp"

namespace sigdrain {
namespace {

using testing_support::process_named;

using namespace std::chrono_literals;

PlanStep sig(int signo, TargetKind kind = TargetKind::init, std::string name = "") {
  return PlanStep{signo, PlanTarget{kind, std::move(name)}, 0ms};
}
PlanStep pause(std::chrono::milliseconds d) { return PlanStep{0, {}, d}; }

std::string error_of(std::string_view text) {
  auto r = parse_plan(text);
  return r.ok() ? "(parsed)" : r.error().message;
}

// ---- grammar ----

TEST(PlanGrammar, ParsesTheExample) {
  auto steps = parse_plan("SIGTERM@init, 500ms, SIGINT@name:uwsgi");
  ASSERT_TRUE(steps.ok()) << steps.error().message;
  EXPECT_EQ(*steps, (std::vector<PlanStep>{sig(SIGTERM), pause(500ms), sig(SIGINT, TargetKind::name, "uwsgi")}));
}

TEST(PlanGrammar, TargetsSignalSpellingsAndBlanks) {
  auto steps = parse_plan("  quit ,15@children,SIGHUP @ pgrp,\t2s , 28@listeners, SIGRTMIN+1");
  ASSERT_TRUE(steps.ok()) << steps.error().message;
  EXPECT_EQ(*steps, (std::vector<PlanStep>{sig(SIGQUIT), sig(SIGTERM, TargetKind::children),
                                           sig(SIGHUP, TargetKind::process_group), pause(2000ms),
                                           sig(SIGWINCH, TargetKind::listeners), sig(35)}));
}

TEST(PlanGrammar, StrictWithOneLineErrorsNamingTheItem) {
  EXPECT_NE(error_of("").find("empty plan"), std::string::npos);
  EXPECT_NE(error_of("   ").find("empty plan"), std::string::npos);
  EXPECT_NE(error_of("SIGTERM,").find("item 2 is empty"), std::string::npos) << error_of("SIGTERM,");
  EXPECT_NE(error_of("SIGTERM,,SIGINT").find("item 2 is empty"), std::string::npos);
  EXPECT_NE(error_of("SIGTERM, SIGFOO").find("item 2 \"SIGFOO\""), std::string::npos) << error_of("SIGTERM, SIGFOO");
  EXPECT_NE(error_of("SIGTERM@nowhere").find("unknown target \"nowhere\""), std::string::npos);
  EXPECT_NE(error_of("SIGTERM@").find("unknown target"), std::string::npos);
  EXPECT_NE(error_of("SIGTERM@name:").find("name:"), std::string::npos);
  EXPECT_FALSE(parse_plan("SIGTERM@name:a b").ok());
  EXPECT_FALSE(parse_plan("SIGTERM@name:/usr/bin/uwsgi").ok());
  EXPECT_FALSE(parse_plan("SIGTERM@name:" + std::string(65, 'x')).ok());
  EXPECT_TRUE(parse_plan("SIGTERM@name:" + std::string(64, 'x')).ok());
  EXPECT_NE(error_of("500ms").find("sends no signal"), std::string::npos);
  EXPECT_NE(error_of("SIGTERM, 0ms").find("from 1ms to 600s"), std::string::npos);
  EXPECT_FALSE(parse_plan("SIGTERM, 601s").ok());
  EXPECT_FALSE(parse_plan("SIGTERM, 600001ms").ok());
  EXPECT_FALSE(parse_plan("SIGTERM, 99999999999999999s").ok()) << "no overflow into a small pause";
  EXPECT_FALSE(parse_plan("SIGTERM, 5 ms").ok());
  EXPECT_FALSE(parse_plan("SIGTERM, 1.5s").ok());
  EXPECT_FALSE(parse_plan("SIGTERM, -5ms").ok());
  EXPECT_FALSE(parse_plan("0").ok()) << "signal 0 is no signal";
  EXPECT_FALSE(parse_plan("SIGTERM SIGINT").ok());
  for (std::string_view bad : {"", "SIGTERM,", "SIGFOO", "SIGTERM@x", "1s"})
    EXPECT_EQ(error_of(bad).find('\n'), std::string::npos) << bad;
}

TEST(PlanGrammar, PauseBoundaries) {
  auto steps = parse_plan("SIGTERM, 1ms, 600s, 600000ms");
  ASSERT_TRUE(steps.ok()) << steps.error().message;
  EXPECT_EQ((*steps)[1].pause, 1ms);
  EXPECT_EQ((*steps)[2].pause, 600s);
  EXPECT_EQ((*steps)[3].pause, 600s);
}

TEST(PlanFormat, CanonicalTextRoundTrips) {
  std::vector<PlanStep> steps = {sig(SIGTERM),
                                 pause(500ms),
                                 pause(2000ms),
                                 sig(SIGINT, TargetKind::name, "uwsgi"),
                                 sig(SIGQUIT, TargetKind::children),
                                 sig(SIGHUP, TargetKind::process_group),
                                 sig(SIGWINCH, TargetKind::listeners),
                                 pause(1500ms),
                                 sig(36)};
  const std::string text = format_plan(steps);
  EXPECT_EQ(text,
            "SIGTERM@init, 500ms, 2s, SIGINT@name:uwsgi, SIGQUIT@children, SIGHUP@pgrp, SIGWINCH@listeners, 1500ms, "
            "SIGRTMIN+2@init");
  auto back = parse_plan(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, steps);
  EXPECT_EQ(format_plan(parse_plan("term, 1s, 15@name:php-fpm8.2").value()),
            "SIGTERM@init, 1s, SIGTERM@name:php-fpm8.2");
}

// ---- labels ----

TEST(PlanLabels, KnownKeysAreDocumented) {
  std::vector<std::string> keys;
  for (const auto& k : known_label_keys()) {
    keys.emplace_back(k.key);
    EXPECT_FALSE(k.doc.empty()) << k.key;
    EXPECT_EQ(k.doc.find('\n'), std::string_view::npos) << k.key;
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"sigdrain.io/plan", "sigdrain.io/stop-signal", "sigdrain.io/quiet-ms",
                                            "sigdrain.io/max-drain-ms", "sigdrain.io/min-drain-ms",
                                            "sigdrain.io/guard"}));
}

TEST(PlanLabels, ParsesEveryKey) {
  auto s = parse_sigdrain_labels({{"sigdrain.io/plan", "SIGQUIT@init"},
                                  {"sigdrain.io/quiet-ms", " 250 "},
                                  {"sigdrain.io/max-drain-ms", "3600000"},
                                  {"sigdrain.io/min-drain-ms", "5000"},
                                  {"sigdrain.io/guard", "false"},
                                  {"io.podman.annotations.autoremove", "TRUE"},
                                  {"maintainer", "x"}});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->plan, "SIGQUIT@init");
  EXPECT_EQ(s->stop_signal, std::nullopt);
  EXPECT_EQ(s->quiet, 250ms);
  EXPECT_EQ(s->max_drain, 3600000ms);
  EXPECT_EQ(s->min_drain, 5000ms);
  EXPECT_EQ(s->guard, false);
  auto sig = parse_sigdrain_labels({{"sigdrain.io/stop-signal", "quit"}, {"sigdrain.io/guard", "true"}});
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  EXPECT_EQ(sig->stop_signal, SIGQUIT);
  EXPECT_EQ(sig->guard, true);
  auto none = parse_sigdrain_labels({});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->plan || none->stop_signal || none->quiet || none->max_drain || none->min_drain || none->guard);
}

TEST(PlanLabels, ErrorsNameTheLabel) {
  auto message = [](std::map<std::string, std::string> labels) {
    auto r = parse_sigdrain_labels(labels);
    return r.ok() ? std::string("(parsed)") : r.error().message;
  };
  auto unknown = message({{"sigdrain.io/quiet", "5"}});
  EXPECT_NE(unknown.find("unknown label sigdrain.io/quiet"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("sigdrain.io/max-drain-ms"), std::string::npos) << "lists the known keys: " << unknown;
  EXPECT_NE(message({{"sigdrain.io/plan", "SIGTERM@moon"}}).find("label sigdrain.io/plan"), std::string::npos);
  EXPECT_NE(message({{"sigdrain.io/stop-signal", "STOP PLEASE"}}).find("sigdrain.io/stop-signal"), std::string::npos);
  EXPECT_NE(message({{"sigdrain.io/quiet-ms", "1s"}}).find("sigdrain.io/quiet-ms"), std::string::npos);
  EXPECT_NE(message({{"sigdrain.io/quiet-ms", "-1"}}).find("sigdrain.io/quiet-ms"), std::string::npos);
  EXPECT_NE(message({{"sigdrain.io/quiet-ms", "600001"}}).find("0 to 600000"), std::string::npos);
  EXPECT_EQ(message({{"sigdrain.io/quiet-ms", "600000"}}), "(parsed)");
  EXPECT_NE(message({{"sigdrain.io/max-drain-ms", "3600001"}}).find("sigdrain.io/max-drain-ms"), std::string::npos);
  EXPECT_NE(message({{"sigdrain.io/min-drain-ms", "-5"}}).find("sigdrain.io/min-drain-ms"), std::string::npos);
  EXPECT_NE(message({{"sigdrain.io/min-drain-ms", "3600001"}}).find("0 to 3600000"), std::string::npos);
  EXPECT_NE(message({{"sigdrain.io/guard", "yes"}}).find("sigdrain.io/guard"), std::string::npos);
  EXPECT_NE(message({{"sigdrain.io/plan", "SIGTERM"}, {"sigdrain.io/stop-signal", "SIGTERM"}}).find("keep one"),
            std::string::npos);
}

// ---- profile choice ----

// The names are the "profile" of check's JSON and the stop record: fixed, one per profile.
TEST(PlanProfileNames, AreTheRecordsValues) {
  std::vector<std::string_view> names;
  for (PlanProfile p : {PlanProfile::command_line, PlanProfile::label, PlanProfile::uwsgi, PlanProfile::nginx,
                        PlanProfile::php_fpm, PlanProfile::httpd, PlanProfile::gunicorn, PlanProfile::supervisord,
                        PlanProfile::no_handler, PlanProfile::wrapper, PlanProfile::runtime_signal})
    names.push_back(plan_profile_name(p));
  EXPECT_EQ(names, (std::vector<std::string_view>{"explicit", "label", "uwsgi", "nginx", "php-fpm", "httpd", "gunicorn",
                                                  "supervisord", "no-handler", "wrapper", "default"}));
}

ProcessFacts proc(pid_t pid, pid_t ppid, std::vector<std::string> argv, std::string comm = "") {
  ProcessFacts p;
  p.pid = pid;
  p.ppid = ppid;
  p.ns_pid = pid == 100 ? 1 : pid - 98;  // 100 is the container's init
  p.argv = std::move(argv);
  if (comm.empty()) {
    std::string_view a0 = p.argv.empty() ? "" : std::string_view(p.argv[0]);
    comm = std::string(a0.substr(a0.rfind('/') + 1).substr(0, 15));
  }
  p.comm = comm;
  return p;
}

ProcessFacts catching(ProcessFacts p, int signo) {
  p.masks.caught |= 1ULL << (signo - 1);
  return p;
}

PlanInputs inputs(std::vector<ProcessFacts> processes) {
  PlanInputs in;
  in.processes = std::move(processes);
  in.init_pid = 100;
  return in;
}

StopPlan chosen(const PlanInputs& in) {
  auto plan = choose_plan(in);
  EXPECT_TRUE(plan.ok()) << plan.error().message;
  return plan.ok() ? plan.value() : StopPlan{};
}

const std::vector<ProcessFacts> kUwsgi = {
    catching(proc(100, 90, {"uwsgi", "--ini", "/app/uwsgi.ini"}), SIGTERM),
    catching(proc(101, 100, {"uwsgi", "--ini", "/app/uwsgi.ini"}), SIGTERM),
};

TEST(PlanChoice, ExplicitPlanOrSignalWinsOverEverything) {
  PlanInputs in = inputs(kUwsgi);
  in.labels = {{"sigdrain.io/stop-signal", "SIGHUP"}};
  in.explicit_plan = "SIGUSR1@children, 1s";
  StopPlan p = chosen(in);
  EXPECT_EQ(p.profile, PlanProfile::command_line);
  EXPECT_EQ(format_plan(p.steps), "SIGUSR1@children, 1s");

  in.explicit_plan.reset();
  in.explicit_signal = SIGQUIT;
  p = chosen(in);
  EXPECT_EQ(p.profile, PlanProfile::command_line);
  EXPECT_EQ(format_plan(p.steps), "SIGQUIT@init");
  EXPECT_NE(p.reason.find("SIGQUIT"), std::string::npos) << p.reason;

  in.explicit_plan = "SIGINT";
  EXPECT_FALSE(choose_plan(in).ok()) << "--plan and --signal together";
  in.explicit_signal.reset();
  in.explicit_plan = "SIGINT@mars";
  auto bad = choose_plan(in);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind("--plan: ", 0), 0u) << bad.error().message;
  in.explicit_plan.reset();
  in.explicit_signal = 0;
  EXPECT_FALSE(choose_plan(in).ok());
}

TEST(PlanChoice, LabelsComeNext) {
  PlanInputs in = inputs(kUwsgi);
  in.labels = {{"sigdrain.io/plan", "SIGQUIT@pgrp, 1s, SIGTERM"}};
  StopPlan p = chosen(in);
  EXPECT_EQ(p.profile, PlanProfile::label);
  EXPECT_EQ(format_plan(p.steps), "SIGQUIT@pgrp, 1s, SIGTERM@init");
  in.labels = {{"sigdrain.io/stop-signal", "SIGUSR2"}};
  p = chosen(in);
  EXPECT_EQ(p.profile, PlanProfile::label);
  EXPECT_EQ(format_plan(p.steps), "SIGUSR2@init");
  in.labels = {{"sigdrain.io/stop-signal", "SIGNOPE"}};
  auto bad = choose_plan(in);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("sigdrain.io/stop-signal"), std::string::npos);
  in.labels = {{"sigdrain.io/quiet-ms", "soon"}};
  EXPECT_FALSE(choose_plan(in).ok()) << "any malformed sigdrain.io label stops the choice";
}

TEST(PlanChoice, UwsgiAsInitGetsSigint) {
  StopPlan p = chosen(inputs(kUwsgi));
  EXPECT_EQ(p.profile, PlanProfile::uwsgi);
  EXPECT_EQ(format_plan(p.steps), "SIGINT@init");
  EXPECT_EQ(p.reason, "PID 1 is uwsgi: SIGTERM makes uWSGI reload, SIGINT stops it");
}

TEST(PlanChoice, ServerProfilesByName) {
  struct Case {
    std::vector<std::string> argv;
    std::string comm;
    PlanProfile profile;
    std::string plan;
  };
  const std::vector<Case> cases = {
      {{"nginx: master process nginx -g daemon off;"}, "nginx", PlanProfile::nginx, "SIGQUIT@init"},
      {{"php-fpm: master process (/usr/local/etc/php-fpm.conf)"}, "php-fpm8.2", PlanProfile::php_fpm, "SIGQUIT@init"},
      {{"/usr/sbin/php-fpm8.2", "-F"}, "php-fpm8.2", PlanProfile::php_fpm, "SIGQUIT@init"},
      {{"httpd", "-DFOREGROUND"}, "httpd", PlanProfile::httpd, "SIGWINCH@init"},
      {{"/usr/sbin/apache2", "-DFOREGROUND"}, "apache2", PlanProfile::httpd, "SIGWINCH@init"},
      {{"/usr/bin/python3", "/usr/bin/gunicorn", "app:app"}, "gunicorn", PlanProfile::gunicorn, "SIGTERM@init"},
      {{"python3", "-m", "gunicorn", "app:app"}, "python3", PlanProfile::gunicorn, "SIGTERM@init"},
  };
  for (const auto& c : cases) {
    StopPlan p = chosen(inputs({proc(100, 90, c.argv, c.comm)}));
    EXPECT_EQ(p.profile, c.profile) << c.argv[0];
    EXPECT_EQ(format_plan(p.steps), c.plan) << c.argv[0];
    EXPECT_EQ(p.reason.rfind("PID 1 is ", 0), 0u) << p.reason;
    EXPECT_EQ(p.reason.find("python"), std::string::npos) << "names the server, not its interpreter: " << p.reason;
  }
}

TEST(PlanChoice, LooksPastAShellWithoutAHandler) {
  StopPlan p = chosen(inputs({proc(100, 90, {"/bin/sh", "-c", "uwsgi --ini /app/uwsgi.ini"}),
                              proc(101, 100, {"uwsgi", "--ini", "/app/uwsgi.ini"}),
                              proc(102, 101, {"uwsgi", "--ini", "/app/uwsgi.ini"})}));
  EXPECT_EQ(p.profile, PlanProfile::uwsgi);
  EXPECT_EQ(format_plan(p.steps), "SIGINT@children");
  EXPECT_NE(p.reason.find("shell (sh -c)"), std::string::npos) << p.reason;
  EXPECT_NE(p.reason.find("its only child is uwsgi"), std::string::npos) << p.reason;

  // "-ec" counts as -c too.
  p = chosen(inputs({proc(100, 90, {"bash", "-ec", "nginx -g 'daemon off;'"}), proc(101, 100, {"nginx"})}));
  EXPECT_EQ(format_plan(p.steps), "SIGQUIT@children");
}

TEST(PlanChoice, KeepsAShellThatHandlesTheSignalOrHasSeveralChildren) {
  // A shell with a trap forwards by itself; init has a handler, so the runtime's signal is right.
  StopPlan p = chosen(inputs({catching(proc(100, 90, {"/bin/bash", "-c", "trap 'kill $pid' TERM; ..."}), SIGTERM),
                              proc(101, 100, {"uwsgi"})}));
  EXPECT_EQ(p.profile, PlanProfile::runtime_signal);
  EXPECT_EQ(format_plan(p.steps), "SIGTERM@init");
  // Two children: no single serving process to look at; the shell itself drops SIGTERM.
  p = chosen(inputs({proc(100, 90, {"sh", "-c", "a & b"}), proc(101, 100, {"uwsgi"}), proc(102, 100, {"nginx"})}));
  EXPECT_EQ(p.profile, PlanProfile::no_handler);
  EXPECT_EQ(format_plan(p.steps), "SIGKILL@init");
  // A shell running a script file, not -c: kept as init.
  p = chosen(inputs({proc(100, 90, {"/bin/sh", "/entrypoint.sh"}), proc(101, 100, {"uwsgi"})}));
  EXPECT_EQ(p.profile, PlanProfile::no_handler);
}

TEST(PlanChoice, LooksPastInitShims) {
  for (std::string shim : {"/sbin/tini", "/usr/bin/dumb-init", "catatonit", "/sbin/docker-init"}) {
    StopPlan p = chosen(inputs({catching(proc(100, 90, {shim, "--", "nginx"}), SIGTERM),
                                proc(101, 100, {"nginx: master process nginx"}, "nginx"),
                                proc(102, 101, {"nginx: worker process"}, "nginx")}));
    EXPECT_EQ(p.profile, PlanProfile::nginx) << shim;
    EXPECT_EQ(format_plan(p.steps), "SIGQUIT@children") << shim;
    EXPECT_NE(p.reason.find("init shim"), std::string::npos) << p.reason;
  }
}

TEST(PlanChoice, WrapperWithoutAProfileForwardsTheRuntimeSignalToTheChild) {
  PlanInputs in = inputs({catching(proc(100, 90, {"tini", "--", "node", "server.js"}), SIGTERM),
                          catching(proc(101, 100, {"node", "server.js"}), SIGTERM)});
  in.runtime_stop_signal = SIGINT;
  StopPlan p = chosen(in);
  EXPECT_EQ(p.profile, PlanProfile::wrapper);
  EXPECT_EQ(format_plan(p.steps), "SIGINT@children");
}

TEST(PlanChoice, SupervisordStopsFirstThenEachProgramGetsItsOwnSignal) {
  StopPlan p = chosen(inputs(
      {catching(proc(100, 90, {"/usr/bin/python3", "/usr/bin/supervisord", "-n"}, "python3"), SIGTERM),
       proc(101, 100, {"uwsgi", "--ini", "/app/uwsgi.ini"}), proc(102, 101, {"uwsgi", "--ini", "/app/uwsgi.ini"}),
       proc(103, 100, {"nginx: master process /usr/sbin/nginx"}, "nginx"),
       proc(104, 103, {"nginx: worker process"}, "nginx"), proc(105, 100, {"/usr/bin/cron", "-f"}),
       proc(106, 100, {"uwsgi", "--ini", "/app/other.ini"})}));
  EXPECT_EQ(p.profile, PlanProfile::supervisord);
  EXPECT_EQ(format_plan(p.steps), "SIGTERM@init, 500ms, SIGINT@name:uwsgi, SIGQUIT@name:nginx")
      << "cron has no profile; a second uwsgi master is reached by the same name target";
  EXPECT_NE(p.reason.find("supervisord"), std::string::npos);
  EXPECT_NE(p.reason.find("uwsgi gets SIGINT"), std::string::npos) << p.reason;
}

TEST(PlanChoice, SupervisordByCommAndBehindAShim) {
  StopPlan p = chosen(
      inputs({catching(proc(100, 90, {"/usr/bin/python3", "-u", "/usr/bin/supervisord"}, "supervisord"), SIGTERM)}));
  EXPECT_EQ(format_plan(p.steps), "SIGTERM@init, 500ms");
  p = chosen(inputs({proc(100, 90, {"tini", "--", "supervisord"}),
                     catching(proc(101, 100, {"/usr/bin/python3", "/usr/bin/supervisord"}, "supervisord"), SIGTERM),
                     proc(102, 101, {"/usr/sbin/php-fpm8.2", "-F"}, "php-fpm8.2")}));
  EXPECT_EQ(format_plan(p.steps), "SIGTERM@children, 500ms, SIGQUIT@name:php-fpm8.2");
}

TEST(PlanChoice, NamespaceInitWithoutAHandlerGetsSigkill) {
  for (bool ignoring : {false, true}) {
    ProcessFacts init = proc(100, 90, {"python3", "app.py"});
    if (ignoring) init.masks.ignored = 1ULL << (SIGTERM - 1);
    init.masks.caught = 1ULL << (SIGINT - 1);  // python's KeyboardInterrupt handler, not the stop signal
    StopPlan p = chosen(inputs({init}));
    EXPECT_EQ(p.profile, PlanProfile::no_handler);
    EXPECT_EQ(format_plan(p.steps), "SIGKILL@init");
    EXPECT_NE(p.reason.find("no handler for SIGTERM"), std::string::npos) << p.reason;
    EXPECT_NE(p.reason.find(ignoring ? "disposition: ignore" : "disposition: default"), std::string::npos) << p.reason;
  }
}

TEST(PlanChoice, TheRuntimeStopSignalDecidesWhatCountsAsHandled) {
  PlanInputs in = inputs({catching(proc(100, 90, {"python3", "app.py"}), SIGTERM)});
  EXPECT_EQ(chosen(in).profile, PlanProfile::runtime_signal);
  EXPECT_EQ(format_plan(chosen(in).steps), "SIGTERM@init");
  in.runtime_stop_signal = SIGQUIT;  // the image's STOPSIGNAL, which app.py does not handle
  EXPECT_EQ(chosen(in).profile, PlanProfile::no_handler);
}

TEST(PlanChoice, InitOfTheHostPidNamespaceIsNotSpecial) {
  ProcessFacts init = proc(100, 90, {"python3", "app.py"});
  init.ns_pid = 100;  // --pid=host: the default action of SIGTERM ends it
  StopPlan p = chosen(inputs({init}));
  EXPECT_EQ(p.profile, PlanProfile::runtime_signal);
  EXPECT_EQ(format_plan(p.steps), "SIGTERM@init");
  EXPECT_NE(p.reason.find("not a pid-namespace init"), std::string::npos) << p.reason;
}

TEST(PlanChoice, UnknownInitFallsBackToTheRuntimeSignal) {
  PlanInputs in = inputs({});
  in.runtime_stop_signal = SIGQUIT;
  StopPlan p = chosen(in);
  EXPECT_EQ(p.profile, PlanProfile::runtime_signal);
  EXPECT_EQ(format_plan(p.steps), "SIGQUIT@init");
}

TEST(StopTargets, ResolveEachKind) {
  std::vector<ProcessFacts> ps = {process_named(10, 1, "sh"), process_named(11, 10, "nginx"), process_named(12, 11, "nginx"), process_named(13, 10, "logger")};
  EXPECT_EQ(resolve_target({TargetKind::init, ""}, ps, 10, {}), std::vector<pid_t>{10});
  EXPECT_EQ(resolve_target({TargetKind::children, ""}, ps, 10, {}), (std::vector<pid_t>{11, 13}));
  EXPECT_EQ(resolve_target({TargetKind::name, "nginx"}, ps, 10, {}), std::vector<pid_t>{11});
  EXPECT_EQ(resolve_target({TargetKind::listeners, ""}, ps, 10, {12, 12, 99}), std::vector<pid_t>{12}) << "only the container's";
  EXPECT_EQ(resolve_target({TargetKind::process_group, ""}, ps, 10, {}).size(), 4u);
  EXPECT_EQ(format_target({TargetKind::name, "uwsgi"}), "name:uwsgi");
}

}  // namespace
}  // namespace sigdrain
