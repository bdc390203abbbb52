#include "signals/signal_names.hpp"

#include <csignal>

#include <gtest/gtest.h>

namespace sigdrain {
namespace {

TEST(SignalNames, NamesKnownAndRealtimeSignals) {
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
  EXPECT_EQ(signal_name(SIGWINCH), "SIGWINCH");
  EXPECT_EQ(signal_name(34), "SIGRTMIN");
  EXPECT_EQ(signal_name(37), "SIGRTMIN+3");
  EXPECT_EQ(signal_name(0), "SIG0");
  EXPECT_EQ(signal_name(99), "SIG99");
}

TEST(SignalNames, ParsesNamesNumbersAndAliases) {
  EXPECT_EQ(parse_signal("SIGTERM"), SIGTERM);
  EXPECT_EQ(parse_signal("term"), SIGTERM);
  EXPECT_EQ(parse_signal("QUIT"), SIGQUIT);
  EXPECT_EQ(parse_signal("15"), 15);
  EXPECT_EQ(parse_signal("SIGRTMIN+2"), 36);
  EXPECT_EQ(parse_signal("iot"), SIGABRT);
  // signal_name() spells the unnamed numbers SIG32 and SIG33; they read back (found by the fuzzer).
  EXPECT_EQ(parse_signal(signal_name(32)), 32);
  EXPECT_EQ(parse_signal("SIG33"), 33);
  EXPECT_EQ(parse_signal("SIG65"), std::nullopt);
}

TEST(SignalNames, RejectsWhatIsNoSignal) {
  EXPECT_EQ(parse_signal(""), std::nullopt);
  EXPECT_EQ(parse_signal("0"), std::nullopt);
  EXPECT_EQ(parse_signal("65"), std::nullopt);
  EXPECT_EQ(parse_signal("SIGFOO"), std::nullopt);
  EXPECT_EQ(parse_signal("15x"), std::nullopt);
  EXPECT_EQ(parse_signal("SIGRTMIN+40"), std::nullopt);
  EXPECT_EQ(parse_signal("-9"), std::nullopt);
}

TEST(SignalNames, StopSignalsAreTheFourThatEndServers) {
  EXPECT_TRUE(is_stop_signal(SIGTERM));
  EXPECT_TRUE(is_stop_signal(SIGHUP));
  EXPECT_FALSE(is_stop_signal(SIGKILL));
  EXPECT_FALSE(is_stop_signal(SIGUSR1));
}

}  // namespace
}  // namespace sigdrain

// One convention with the kernel's sigset_t, /proc's SigCgt and bpf/signals.bpf.c: signal n is bit n-1.
TEST(SignalNames, SignalNIsBitNMinusOne) {
  EXPECT_EQ(sigdrain::signal_bit(1), 1ULL);
  EXPECT_EQ(sigdrain::signal_bit(SIGTERM), 1ULL << 14);
  EXPECT_EQ(sigdrain::signal_bit(64), 1ULL << 63);
  EXPECT_EQ(sigdrain::signal_bit(0), 0ULL);
  EXPECT_EQ(sigdrain::signal_bit(65), 0ULL);
}
