// Which runtime argv counts as a runtime kill (hold/runtime_kill.hpp), and the stop gate's pure parts.
#include <linux/types.h>

#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hold/runtime_kill.hpp"
#include "hold/stop_gate.hpp"
#include "stop_gate.h"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;
const std::string kId(64, 'a');

std::optional<RuntimeKill> parse(std::vector<std::string> argv) { return parse_runtime_kill(argv); }

TEST(RuntimeKill, PodmansKill) {
  auto k = parse({"runc", "--root", "/run/runc", "kill", kId, "15"});
  ASSERT_TRUE(k);
  EXPECT_EQ(*k, (RuntimeKill{"runc", kId, SIGTERM, false}));
}

TEST(RuntimeKill, ContainerdShimsKillWithGlobalOptions) {
  auto k = parse({"/usr/sbin/runc", "--root", "/var/run/docker/runtime-runc/moby", "--log", "/run/x/log.json",
                  "--log-format", "json", "kill", kId, "15"});
  ASSERT_TRUE(k);
  EXPECT_EQ(k->runtime, "runc");
  EXPECT_EQ(k->container_id, kId);
  EXPECT_EQ(k->signo, SIGTERM);
}

TEST(RuntimeKill, SignalDefaultsToSigtermAndTakesEveryForm) {
  EXPECT_EQ(parse({"runc", "kill", kId})->signo, SIGTERM);
  EXPECT_EQ(parse({"crun", "kill", kId, "TERM"})->signo, SIGTERM);
  EXPECT_EQ(parse({"crun", "kill", kId, "SIGTERM"})->signo, SIGTERM);
  EXPECT_EQ(parse({"runc", "kill", kId, "2"})->signo, SIGINT);
  EXPECT_EQ(parse({"runc", "kill", kId, "SIGQUIT"})->signo, SIGQUIT);
  EXPECT_EQ(parse({"runc", "kill", kId, "HUP"})->signo, SIGHUP);
  EXPECT_EQ(parse({"runc", "kill", kId, "9"})->signo, SIGKILL);
  EXPECT_EQ(parse({"runc", "kill", kId, "KILL"})->signo, SIGKILL);
}

TEST(RuntimeKill, AllFlagAndEqualsOptions) {
  auto k = parse({"runc", "--root=/run/runc", "--debug", "kill", "--all", kId, "15"});
  ASSERT_TRUE(k);
  EXPECT_TRUE(k->all);
  EXPECT_TRUE(parse({"runc", "kill", "-a", kId}));
}

TEST(RuntimeKill, EverythingElseIsNotAKill) {
  EXPECT_FALSE(parse({}));
  EXPECT_FALSE(parse({"runc"}));
  EXPECT_FALSE(parse({"kill", kId, "15"}));                       // not a runtime
  EXPECT_FALSE(parse({"/tmp/notrunc", "kill", kId}));
  EXPECT_FALSE(parse({"runc", "delete", "--force", kId}));          // another subcommand
  EXPECT_FALSE(parse({"runc", "--root", "kill", kId, "15"}));       // "kill" is --root's value; kId the subcommand
  EXPECT_FALSE(parse({"runc", "kill"}));                            // no id
  EXPECT_FALSE(parse({"runc", "kill", "--signal", kId}));           // an option kill does not have
  EXPECT_FALSE(parse({"runc", "kill", kId, "USR1"}));               // not a signal a runtime stops with
  EXPECT_FALSE(parse({"runc", "kill", kId, "15", "extra"}));        // trailing words
  EXPECT_FALSE(parse({"runc", "kill", "", "15"}));
  EXPECT_FALSE(parse({"runc", "--log"}));
}

TEST(RuntimeKill, GateNeverHoldsSigkill) {
  const std::vector<int> held{SIGTERM, SIGINT, SIGQUIT, SIGHUP};
  EXPECT_TRUE(gate_holds(*parse({"runc", "kill", kId, "15"}), held));
  EXPECT_FALSE(gate_holds(*parse({"runc", "kill", kId, "9"}), held));
  const std::vector<int> with_kill{SIGKILL};
  EXPECT_FALSE(gate_holds(*parse({"runc", "kill", kId, "KILL"}), with_kill));
}

TEST(RuntimeKill, Basenames) {
  EXPECT_EQ(path_basename("/usr/bin/crun"), "crun");
  EXPECT_TRUE(is_runtime_binary("/usr/sbin/runc"));
  EXPECT_FALSE(is_runtime_binary("/usr/sbin/runc-wrapper"));
}

TEST(StopGate, DecodesItsRecordAndRejectsOtherSizes) {
  sigdrain_gated g{};
  g.stopped_ns = 5;
  g.start_ns = 7;
  g.tgid = 42;
  g.signo = 15;
  std::memcpy(g.container.id, kId.data(), kId.size());
  auto d = decode_gated(std::as_bytes(std::span(&g, 1)));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, (GatedProcess{42, 7, 5, 15, kId}));
  EXPECT_FALSE(decode_gated(std::as_bytes(std::span(&g, 1)).first(sizeof g - 1)));
}

TEST(StopGate, OverdueAfterTheBound) {
  GatedProcess p{1, 0, 1'000'000'000, SIGTERM, kId};
  EXPECT_FALSE(gate_overdue(p, 1'000'000'000 + 249'000'000, 250ms));
  EXPECT_TRUE(gate_overdue(p, 1'000'000'000 + 250'000'000, 250ms));
  EXPECT_TRUE(gate_overdue(p, 10, 250ms));  // a clock that went backwards: never wait on it
}

}  // namespace
}  // namespace sigdrain
