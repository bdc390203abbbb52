#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <csignal>

#include <gtest/gtest.h>

#include "daemon/daemon.hpp"
#include "daemon/guard.hpp"
#include "daemon/journal.hpp"

namespace sigdrain {
namespace {

namespace fs = std::filesystem;

// The SigBlk mask of the calling thread, from /proc/thread-self/status.
uint64_t own_blocked_mask() {
  std::ifstream status("/proc/thread-self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("SigBlk:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  return 0;
}

// Issue #12: the discovery and metrics threads did not block SIGCHLD, so a tracee's stop was reported to one of
// them and lost. A thread started after block_daemon_signals() (as Daemon::make() starts its threads) blocks it.
TEST(DaemonSignals, ThreadsStartedAfterTheBlockInheritIt) {
  uint64_t before = 0, inherited = 0;
  std::thread outer([&] {  // a thread of its own, so the test runner's mask stays as it was
    before = own_blocked_mask();
    block_daemon_signals();
    std::thread inner([&] { inherited = own_blocked_mask(); });
    inner.join();
  });
  outer.join();
  const uint64_t sigchld_bit = uint64_t{1} << (SIGCHLD - 1);
  EXPECT_EQ(before & sigchld_bit, 0u) << "the test needs a thread that does not block SIGCHLD to start with";
  EXPECT_NE(inherited & sigchld_bit, 0u);
  sigset_t set = daemon_signalfd_signals();
  EXPECT_EQ(sigismember(&set, SIGCHLD), 1);
}

TEST(Guard, AllButOptedOutOrOnlyLabelled) {
  EXPECT_TRUE(decide_guard({}, GuardMode::all).guard);
  EXPECT_FALSE(decide_guard({{"sigdrain.io/guard", "false"}}, GuardMode::all).guard);
  EXPECT_EQ(decide_guard({{"sigdrain.io/guard", "false"}}, GuardMode::all).reason, "opted out: sigdrain.io/guard=false");
  EXPECT_FALSE(decide_guard({{"sigdrain.io/guard", "yes"}}, GuardMode::all).guard) << "malformed: not guessed";
  EXPECT_FALSE(decide_guard({}, GuardMode::labelled).guard);
  EXPECT_TRUE(decide_guard({{"sigdrain.io/guard", "true"}}, GuardMode::labelled).guard);
  EXPECT_FALSE(decide_guard({{"sigdrain.io/guard", "true"}}, GuardMode::all, false).guard) << "undescribed: not guessed";
}

// What a discovery scan changes.
TEST(Reconcile, NewOnesAreAddedVanishedOnesGoUnlessBeingStopped) {
  std::map<std::string, KnownContainer> known{{"a", {100, false}}, {"b", {200, true}}, {"c", {300, false}}};
  std::map<std::string, pid_t> seen{{"a", 100}, {"d", 400}};
  ReconcileChanges changes = plan_reconcile(known, seen);
  EXPECT_EQ(changes.gone, std::vector<std::string>{"c"}) << "b is being stopped: it stays until its stop ends";
  EXPECT_EQ(changes.added, std::vector<std::string>{"d"});
}

TEST(Reconcile, OneItsRuntimeDescribedSinceIsJudgedAnew) {
  std::map<std::string, KnownContainer> known{{"a", {0, false}}, {"b", {0, false}}};
  std::map<std::string, pid_t> seen{{"a", 100}, {"b", 0}};
  ReconcileChanges changes = plan_reconcile(known, seen);
  EXPECT_EQ(changes.gone, std::vector<std::string>{"a"});
  EXPECT_EQ(changes.added, std::vector<std::string>{"a"}) << "its labels can be read now";
  EXPECT_TRUE(plan_reconcile(known, {{"a", 0}, {"b", 0}}).gone.empty()) << "still undescribed: nothing to do";
}

TEST(Reconcile, NothingChangesForTheSameScan) {
  std::map<std::string, KnownContainer> known{{"a", {100, false}}};
  ReconcileChanges changes = plan_reconcile(known, {{"a", 100}});
  EXPECT_TRUE(changes.gone.empty());
  EXPECT_TRUE(changes.added.empty());
}

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sigdrain-journal-" + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(JournalTest, RecordsSurviveAndAreRemoved) {
  auto j = Journal::open(dir_.string());
  ASSERT_TRUE(j) << j.error().message;
  HoldRecord r{"abc123", 4242, 987654, SIGTERM, 1700000000000, 1700000007500, 1700000010000};
  ASSERT_TRUE(j->record(r).ok());
  EXPECT_EQ(fs::status(dir_ / "held").permissions() & fs::perms::all, fs::perms::owner_all);

  auto again = Journal::open(dir_.string());  // what a restarted daemon does
  ASSERT_TRUE(again);
  std::vector<std::string> problems;
  auto loaded = again->load(problems);
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(loaded[0].container_id, "abc123");
  EXPECT_EQ(loaded[0].tgid, 4242);
  EXPECT_EQ(loaded[0].start_time, 987654u);
  EXPECT_EQ(loaded[0].signo, SIGTERM);
  EXPECT_EQ(loaded[0].drain_deadline_ms, 1700000007500);
  again->remove(4242, SIGTERM);
  EXPECT_TRUE(again->load(problems).empty());
}

TEST_F(JournalTest, MalformedAndPlantedFilesAreReportedAndRemoved) {
  auto j = Journal::open(dir_.string());
  ASSERT_TRUE(j);
  std::ofstream(dir_ / "held" / "1-15.json") << "{not json";
  fs::create_symlink("/etc/passwd", dir_ / "held" / "2-15.json");
  std::ofstream(dir_ / "held" / "3-15.json") << R"({"container_id":"x","tgid":-1,"start_time":1,"signo":15,"held_at_ms":0,"drain_deadline_ms":0,"kill_at_ms":0})";
  std::vector<std::string> problems;
  EXPECT_TRUE(j->load(problems).empty());
  EXPECT_EQ(problems.size(), 3u);
  EXPECT_TRUE(fs::exists("/etc/passwd")) << "a planted symlink is removed, never followed";
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir_ / "held" / "2-15.json")));
}

TEST_F(JournalTest, RefusesASymlinkedStateDirectory) {
  fs::create_directories(dir_);
  fs::create_directory_symlink("/tmp", dir_ / "state");
  auto j = Journal::open((dir_ / "state").string());
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message.find("not a directory"), std::string::npos) << j.error().message;
}

TEST(HoldRecord, RoundTripsThroughJson) {
  HoldRecord r{"id", 7, 8, 2, 9, 10, 11};
  auto back = parse_hold_record(to_json_text(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->tgid, 7);
  EXPECT_EQ(back->signo, 2);
  EXPECT_EQ(back->kill_at_ms, 11);
  EXPECT_FALSE(parse_hold_record("[]"));
  EXPECT_FALSE(parse_hold_record(R"({"tgid":"7"})"));
  // Found by the fuzzer: a float where an integer belongs was cast (undefined behaviour); now it is refused.
  std::string floaty = to_json_text(r);
  floaty.replace(floaty.find("\"held_at_ms\":9"), 14, "\"held_at_ms\":1.7e24");
  EXPECT_FALSE(parse_hold_record(floaty)) << floaty;
  EXPECT_FALSE(parse_hold_record(R"({"container_id":"x","tgid":4294967297,"start_time":1,"signo":15,"held_at_ms":0,"drain_deadline_ms":0,"kill_at_ms":0})"));
}

}  // namespace
}  // namespace sigdrain
