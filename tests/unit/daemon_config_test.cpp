#include <gtest/gtest.h>

#include "daemon/config.hpp"

namespace sigdrain {
namespace {

TEST(DaemonConfig, ParsesCompilesAndFormats) {
  auto settings = parse_config("# sigdrain\nstate-dir = /var/run/sd\n\nguard = labelled  # only opted in\nmax-hold-ms=30000\nlog-format = json\n");
  ASSERT_TRUE(settings) << settings.error().message;
  auto o = compile_config(*settings, DaemonOptions{});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->state_dir, "/var/run/sd");
  EXPECT_TRUE(o->guard_labelled_only);
  EXPECT_EQ(o->max_hold_ms, 30000);
  EXPECT_EQ(o->log_format, LogFormat::json);
  EXPECT_EQ(o->default_timeout_s, 10) << "unset keys keep their defaults";
  auto again = compile_config(*parse_config(format_config(*o)), DaemonOptions{});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->state_dir, o->state_dir);
  EXPECT_EQ(again->max_hold_ms, o->max_hold_ms);
}

TEST(DaemonConfig, ErrorsNameTheLine) {
  EXPECT_EQ(parse_config("guard = all\nbogus = 1\n").error().message,
            "line 2: unknown key \"bogus\" (known: bpf-pin-dir, containerd-state, crio-state, default-timeout, docker-state, "
            "guard, hold-backend, log-format, max-hold-ms, metrics-address, min-drain-ms, podman, quiet-ms, state-dir)");
  EXPECT_EQ(parse_config("guard\n").error().message, "line 1: want `key = value`, got \"guard\"");
  EXPECT_EQ(parse_config("guard = all\nguard = all\n").error().message, "line 2: guard is already set on line 1");
  EXPECT_EQ(parse_config("quiet-ms =\n").error().message, "line 1: quiet-ms has no value");
  auto bad = [](const char* text) { return compile_config(*parse_config(text), DaemonOptions{}).error().message; };
  EXPECT_EQ(bad("\nmax-hold-ms = 0\n"), "line 2: max-hold-ms = 0: want a whole number from 1 to 3600000");
  EXPECT_EQ(bad("quiet-ms = 1s\n"), "line 1: quiet-ms = 1s: want a whole number from 0 to 600000");
  EXPECT_EQ(bad("min-drain-ms = 3600001\n"), "line 1: min-drain-ms = 3600001: want a whole number from 0 to 3600000");
  EXPECT_EQ(bad("guard = some\n"), "line 1: guard = some: want all or labelled");
  EXPECT_EQ(bad("state-dir = run/sd\n"), "line 1: state-dir must be an absolute path");
  EXPECT_EQ(bad("crio-state = run/crio\n"), "line 1: crio-state must be an absolute path");
  EXPECT_EQ(bad("bpf-pin-dir = sys/fs/bpf\n"), "line 1: bpf-pin-dir = sys/fs/bpf: want an absolute path or none");
}

TEST(DaemonConfig, BpfPinDirCanBeNone) {
  EXPECT_EQ(DaemonOptions{}.bpf_pin_dir, "/sys/fs/bpf/sigdrain");
  auto none = compile_config(*parse_config("bpf-pin-dir = none\n"), DaemonOptions{});
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(none->bpf_pin_dir, "") << "not pinned";
  auto again = compile_config(*parse_config(format_config(*none)), DaemonOptions{});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->bpf_pin_dir, "");
  auto moved = compile_config(*parse_config("bpf-pin-dir = /host/sys/fs/bpf/sigdrain\n"), DaemonOptions{});
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->bpf_pin_dir, "/host/sys/fs/bpf/sigdrain");
}

TEST(DaemonConfig, MinDrainDefaultsToNoneAndRoundTrips) {
  EXPECT_EQ(DaemonOptions{}.min_drain_ms, 0);
  auto o = compile_config(*parse_config("min-drain-ms = 5000\n"), DaemonOptions{});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->min_drain_ms, 5000);
  auto again = compile_config(*parse_config(format_config(*o)), DaemonOptions{});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->min_drain_ms, 5000);
}

TEST(DaemonConfig, RuntimeStateCanMove) {
  // A daemon in a container sees the host's runtime state where the DaemonSet mounts it.
  auto o = compile_config(*parse_config("crio-state = /host/run/containers/storage\npodman = /host/usr/bin/podman\n"),
                          DaemonOptions{});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->roots.crio_state, "/host/run/containers/storage");
  EXPECT_EQ(o->roots.podman_binary, "/host/usr/bin/podman");
  EXPECT_EQ(o->roots.docker_state, HostRoots{}.docker_state) << "unset keys keep the host's paths";
  auto again = compile_config(*parse_config(format_config(*o)), DaemonOptions{});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->roots.crio_state, o->roots.crio_state);
}

}  // namespace
}  // namespace sigdrain
