#include "proc/proc.hpp"

#include <csignal>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace sigdrain {
namespace {

const std::string kData = std::string(SIGDRAIN_TEST_DATA) + "/proc";

std::string fixture(const std::string& name) {
  std::ifstream in(kData + "/status/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<pid_t> pids_of(const std::vector<ProcessFacts>& ps) {
  std::vector<pid_t> out;
  for (const auto& p : ps) out.push_back(p.pid);
  return out;
}

// Captured from `python3 -c 'signal.signal(SIGTERM, handler); signal.signal(SIGINT, SIG_IGN); ...'`, started as
// a background job of a non-interactive shell (which also ignores SIGQUIT for it).
TEST(ProcStatus, RealStatusWithAHandler) {
  auto st = parse_proc_status(fixture("python-handler.status"));
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(st->name, "python3");
  EXPECT_EQ(st->tgid, 6926);
  EXPECT_EQ(st->ppid, 6922);
  EXPECT_EQ(st->tracer_pid, 0);
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->nspid, std::vector<pid_t>{6926});
  EXPECT_EQ(st->masks.caught, 0x4000u);
  EXPECT_EQ(st->masks.disposition(SIGTERM), Disposition::handler);
  EXPECT_EQ(st->masks.disposition(SIGINT), Disposition::ignore);
  EXPECT_EQ(st->masks.disposition(SIGQUIT), Disposition::ignore);
  EXPECT_EQ(st->masks.disposition(SIGPIPE), Disposition::ignore) << "python ignores SIGPIPE itself";
  EXPECT_EQ(st->masks.disposition(SIGHUP), Disposition::default_action);
}

// Captured from `sh -c 'trap "" TERM; exec sleep 30'`: SIG_IGN survives exec, handlers do not.
TEST(ProcStatus, RealStatusWithSigIgn) {
  auto st = parse_proc_status(fixture("sleep-sigign.status"));
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(st->name, "sleep");
  EXPECT_EQ(st->masks.caught, 0u);
  EXPECT_EQ(st->masks.disposition(SIGTERM), Disposition::ignore);
  EXPECT_EQ(st->masks.disposition(SIGUSR1), Disposition::default_action);
}

// Captured from `unshare --pid --fork sleep`: PID 1 of a new pid namespace, 9831 on the host.
TEST(ProcStatus, NSpidWithTwoLevelsEndsWithTheInnermost) {
  auto st = parse_proc_status(fixture("sleep-nspid.status"));
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(st->nspid, (std::vector<pid_t>{9831, 1}));
  EXPECT_EQ(st->tgid, 9831);
}

TEST(ProcStatus, CommKeepsSpacesAndColons) {
  auto st = parse_proc_status("Name:\tweb: worker 1 \nTgid:\t7\nPPid:\t1\nSigBlk:\t0\nSigIgn:\t0\nSigCgt:\t0\n");
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(st->name, "web: worker 1 ");
  EXPECT_EQ(st->nspid, std::vector<pid_t>{7}) << "no NSpid line (kernel < 4.1): the pid itself";
}

TEST(ProcStatus, PendingJoinsThreadAndProcessWideSignals) {
  auto st = parse_proc_status(
      "Name:\tx\nTgid:\t7\nPPid:\t1\nSigPnd:\t0000000000000001\nShdPnd:\t0000000000004000\nSigBlk:\t0000000000004000\n"
      "SigIgn:\t0\nSigCgt:\t0\n");
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(st->masks.pending, 0x4001u);
  EXPECT_EQ(st->masks.disposition(SIGTERM), Disposition::blocked);
}

TEST(ProcStatus, MalformedTextIsAnError) {
  EXPECT_FALSE(parse_proc_status("").ok());
  EXPECT_FALSE(parse_proc_status("hello world\n").ok());
  auto missing = parse_proc_status("Name:\tx\nTgid:\t7\nPPid:\t1\nSigBlk:\t0\nSigIgn:\t0\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("SigCgt"), std::string::npos) << missing.error().message;
  auto bad_hex = parse_proc_status("Name:\tx\nTgid:\t7\nPPid:\t1\nSigBlk:\t0\nSigIgn:\tzz\nSigCgt:\t0\n");
  ASSERT_FALSE(bad_hex.ok());
  EXPECT_NE(bad_hex.error().message.find("SigIgn"), std::string::npos) << bad_hex.error().message;
  EXPECT_FALSE(parse_proc_status("Name:\tx\nTgid:\t7x\nPPid:\t1\nSigBlk:\t0\nSigIgn:\t0\nSigCgt:\t0\n").ok());
  EXPECT_FALSE(
      parse_proc_status("Name:\tx\nTgid:\t7\nPPid:\t1\nNSpid:\t7 a\nSigBlk:\t0\nSigIgn:\t0\nSigCgt:\t0\n").ok());
  EXPECT_FALSE(parse_proc_status("Name:\tx\nTgid:\t7\nPPid:\t1\nSigBlk:\t0\nSigIgn:\t0\nSigCgt:\t-1\n").ok());
}

TEST(SignalMasks, HandlerAndIgnoreWinOverBlocked) {
  SignalMasks m;
  m.blocked = ~0ULL;
  m.caught = 1ULL << (SIGTERM - 1);
  m.ignored = 1ULL << (SIGINT - 1);
  EXPECT_EQ(m.disposition(SIGTERM), Disposition::handler);
  EXPECT_EQ(m.disposition(SIGINT), Disposition::ignore);
  EXPECT_EQ(m.disposition(SIGQUIT), Disposition::blocked);
  EXPECT_EQ(m.disposition(64), Disposition::blocked) << "bit 63 is signal 64";
  EXPECT_EQ(m.disposition(0), Disposition::default_action);
  EXPECT_EQ(m.disposition(65), Disposition::default_action);
  EXPECT_EQ(disposition_name(Disposition::default_action), "default");
  EXPECT_EQ(disposition_name(Disposition::ignore), "ignore");
  EXPECT_EQ(disposition_name(Disposition::handler), "handler");
  EXPECT_EQ(disposition_name(Disposition::blocked), "blocked");
}

TEST(ProcCmdline, SplitsOnNulAndKeepsARewrittenTitle) {
  using namespace std::string_literals;
  EXPECT_EQ(parse_cmdline("uwsgi\0--ini\0/app/uwsgi.ini\0"s),
            (std::vector<std::string>{"uwsgi", "--ini", "/app/uwsgi.ini"}));
  EXPECT_EQ(parse_cmdline("nginx: worker process"s), std::vector<std::string>{"nginx: worker process"});
  EXPECT_EQ(parse_cmdline("a\0\0b\0"s), (std::vector<std::string>{"a", "", "b"})) << "an empty argument stays";
  EXPECT_TRUE(parse_cmdline("").empty());
}

TEST(ProcStat, StartTimeIsField22) {
  // Real line from `cat /proc/<pid>/stat` of python3; start time 46262.
  auto t = parse_stat_start_time(
      "6926 (python3) S 6922 6922 4713 0 -1 4194304 2900 6572 0 0 3 0 3 1 20 0 1 0 46262 16961536 3351 "
      "18446744073709551615 94803068747776 94803068748117 140722351782368 0 0 0 0 16781318 16384 1 0 0 17 1 0 0 0 0 "
      "0\n");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(*t, 46262u);
}

TEST(ProcStat, CommWithSpacesAndParentheses) {
  auto t = parse_stat_start_time("42 (a) S (b) c) R 1 42 42 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(*t, 777u);
}

TEST(ProcStat, MalformedStatIsAnError) {
  EXPECT_FALSE(parse_stat_start_time("").ok());
  EXPECT_FALSE(parse_stat_start_time("42 noparens S 1 2 3").ok());
  EXPECT_FALSE(parse_stat_start_time("42 (x) S 1 42 42 0 -1").ok()) << "too few fields";
  EXPECT_FALSE(parse_stat_start_time("42 (x) S 1 42 42 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 -5 0").ok());
}

TEST(ProcFs, ReadsAFixtureTree) {
  ProcFs proc(kData + "/tree");
  EXPECT_EQ(proc.root(), kData + "/tree");
  EXPECT_EQ(proc.all_pids(), (std::vector<pid_t>{4200, 4201, 4202, 4203, 4206, 4207, 4300}))
      << "non-numeric entries skipped";
  auto st = proc.status(4201);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(st->name, "uwsgi");
  EXPECT_EQ(st->nspid, (std::vector<pid_t>{4201, 2}));
  auto argv = proc.cmdline(4201);
  ASSERT_TRUE(argv.ok());
  EXPECT_EQ(*argv, (std::vector<std::string>{"uwsgi", "--ini", "/app/uwsgi.ini"}));
  auto start = proc.start_time(4201);
  ASSERT_TRUE(start.ok()) << start.error().message;
  EXPECT_EQ(*start, 47455u + 4201u);
  auto threads = proc.threads(4201);
  ASSERT_TRUE(threads.ok());
  EXPECT_EQ(*threads, (std::vector<pid_t>{4201, 4205}));
  auto cgroup = proc.cgroup_file(4200);
  ASSERT_TRUE(cgroup.ok());
  EXPECT_NE(cgroup->find("0::/libpod_parent/libpod-"), std::string::npos);
}

TEST(ProcFs, ChildrenOfEveryThread) {
  ProcFs proc(kData + "/tree");
  EXPECT_EQ(proc.children(4201), (std::vector<pid_t>{4202, 4203, 4206})) << "4203 and 4206 were forked by thread 4205";
  EXPECT_EQ(proc.children(4200), std::vector<pid_t>{4201});
  EXPECT_TRUE(proc.children(4202).empty());
  EXPECT_TRUE(proc.children(99999).empty());
}

TEST(ProcFs, MissingProcessIsAnErrorNamingIt) {
  ProcFs proc(kData + "/tree");
  auto st = proc.status(99999);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ENOENT);
  EXPECT_NE(st.error().message.find("99999"), std::string::npos) << st.error().message;
  EXPECT_FALSE(proc.threads(99999).ok());
  EXPECT_FALSE(proc.cmdline(99999).ok());
  EXPECT_FALSE(proc.start_time(99999).ok());
}

TEST(ProcessTree, TheContainersProcessesOnly) {
  ProcFs proc(kData + "/tree");
  auto tree = process_tree(proc, 4200);
  // 4203 sits in a sub-cgroup of the container: in. 4206 was moved to another cgroup: out, with its child 4207.
  // 4300 is in a sibling cgroup whose name starts like the container's: out (and not a descendant anyway).
  EXPECT_EQ(pids_of(tree), (std::vector<pid_t>{4200, 4201, 4202, 4203}));
  ASSERT_EQ(tree.size(), 4u);
  EXPECT_EQ(tree[0].comm, "tini");
  EXPECT_EQ(tree[0].ns_pid, 1);
  EXPECT_EQ(tree[1].ppid, 4200);
  EXPECT_EQ(tree[1].ns_pid, 2);
  EXPECT_EQ(tree[1].argv[0], "uwsgi");
  EXPECT_EQ(tree[1].masks.disposition(SIGTERM), Disposition::handler);
  EXPECT_EQ(tree[1].masks.disposition(SIGPIPE), Disposition::ignore);
}

TEST(ProcessTree, UnknownRootGivesNothing) {
  ProcFs proc(kData + "/tree");
  EXPECT_TRUE(process_tree(proc, 99999).empty());
  EXPECT_EQ(pids_of(process_tree(proc, 4202)), std::vector<pid_t>{4202});
}

TEST(ProcessTree, RealProcSeesItself) {
  ProcFs proc;
  auto tree = process_tree(proc, ::getpid());
  ASSERT_FALSE(tree.empty());
  EXPECT_EQ(tree[0].pid, ::getpid());
  EXPECT_FALSE(tree[0].argv.empty());
}

TEST(CgroupKey, UnifiedLineOrTheWholeText) {
  EXPECT_EQ(cgroup_key("9:name=systemd:/\n4:memory:/x\n0::/libpod_parent/libpod-abc\n"), "/libpod_parent/libpod-abc");
  EXPECT_EQ(cgroup_key("0::/\n"), "/");
  EXPECT_EQ(cgroup_key("4:memory:/x\n"), "4:memory:/x\n");
  EXPECT_TRUE(cgroup_within("/a/b", "/a/b"));
  EXPECT_TRUE(cgroup_within("/a/b/c", "/a/b"));
  EXPECT_FALSE(cgroup_within("/a/bc", "/a/b"));
  EXPECT_FALSE(cgroup_within("/a", "/a/b"));
  EXPECT_TRUE(cgroup_within("/anything", "/"));
  EXPECT_TRUE(cgroup_within("4:memory:/x\n", "4:memory:/x\n"));
  EXPECT_FALSE(cgroup_within("4:memory:/x/y\n", "4:memory:/x\n"));
}

}  // namespace
}  // namespace sigdrain
