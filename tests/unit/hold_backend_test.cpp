// Which backend holds a container's stop signals, the hold-backend setting, and the BPF LSM backend's pure parts.
#include <linux/types.h>

#include <csignal>
#include <cstring>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/config.hpp"
#include "hold/hold_backend.hpp"
#include "hold/lsm_hold.hpp"
#include "lsm_hold.h"
#include "observer/kernel_env.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;

const std::string kTraced = "cannot guard PID 12: traced by PID 34";
const std::string kNoLsm = "BPF LSM is not active: 'bpf' is not in /sys/kernel/security/lsm (lockdown,capability) (boot with lsm=...,bpf)";

TEST(HoldBackendChoice, AutoPrefersPtrace) {
  auto c = choose_hold_backend(HoldBackendSetting::automatic, {.yama_ptrace_scope = 1, .ptrace_error = "", .lsm_unavailable = ""});
  EXPECT_EQ(c.backend, HoldBackend::ptrace) << "the sender's kill() succeeds with ptrace; with BPF LSM it gets EPERM";
  EXPECT_EQ(c.why, "");
}

TEST(HoldBackendChoice, AutoFallsBackToLsmWherePtraceCannotGuard) {
  auto traced = choose_hold_backend(HoldBackendSetting::automatic, {.ptrace_error = kTraced});
  EXPECT_EQ(traced.backend, HoldBackend::lsm);
  EXPECT_EQ(traced.why, kTraced);
  auto yama = choose_hold_backend(HoldBackendSetting::automatic, {.yama_ptrace_scope = 3});
  EXPECT_EQ(yama.backend, HoldBackend::lsm);
  EXPECT_EQ(yama.why, "Yama ptrace_scope is 3: no process may ptrace");
}

TEST(HoldBackendChoice, NothingHoldsWhenNeitherWorks) {
  auto c = choose_hold_backend(HoldBackendSetting::automatic, {.ptrace_error = kTraced, .lsm_unavailable = kNoLsm});
  EXPECT_EQ(c.backend, HoldBackend::none);
  EXPECT_EQ(c.why, kTraced + "; no BPF LSM fallback: " + kNoLsm);
}

TEST(HoldBackendChoice, ExplicitSettingsDoNotFallBack) {
  auto ptrace = choose_hold_backend(HoldBackendSetting::ptrace, {.ptrace_error = kTraced});
  EXPECT_EQ(ptrace.backend, HoldBackend::none);
  EXPECT_EQ(ptrace.why, kTraced);
  auto lsm = choose_hold_backend(HoldBackendSetting::lsm, {.ptrace_error = ""});
  EXPECT_EQ(lsm.backend, HoldBackend::lsm) << "lsm is used even where ptrace would work";
  auto no_lsm = choose_hold_backend(HoldBackendSetting::lsm, {.lsm_unavailable = kNoLsm});
  EXPECT_EQ(no_lsm.backend, HoldBackend::none);
  EXPECT_EQ(no_lsm.why, kNoLsm);
}

TEST(HoldBackendChoice, PtraceIsNotTriedWhereItCannotWorkOrIsNotWanted) {
  EXPECT_TRUE(ptrace_worth_trying(HoldBackendSetting::automatic, -1));
  EXPECT_TRUE(ptrace_worth_trying(HoldBackendSetting::ptrace, 2)) << "scope 2 still lets root (CAP_SYS_PTRACE) attach";
  EXPECT_FALSE(ptrace_worth_trying(HoldBackendSetting::automatic, 3));
  EXPECT_FALSE(ptrace_worth_trying(HoldBackendSetting::lsm, 0));
}

TEST(HoldBackendSetting, ParsesAndNames) {
  EXPECT_EQ(*parse_hold_backend_setting("auto"), HoldBackendSetting::automatic);
  EXPECT_EQ(*parse_hold_backend_setting("ptrace"), HoldBackendSetting::ptrace);
  EXPECT_EQ(*parse_hold_backend_setting("lsm"), HoldBackendSetting::lsm);
  EXPECT_EQ(parse_hold_backend_setting("bpf").error().message, "hold backend \"bpf\": want auto, ptrace or lsm");
  EXPECT_EQ(hold_backend_name(HoldBackend::none), "none");
  EXPECT_EQ(hold_backend_name(HoldBackend::lsm), "lsm");
  EXPECT_EQ(hold_backend_name(HoldBackend::ptrace_at_stop), "ptrace at stop");  // ps: "held by ptrace at stop"
}

TEST(HoldBackendSetting, ConfigKeyRoundTrips) {
  auto o = compile_config(*parse_config("hold-backend = lsm\n"), DaemonOptions{});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->hold_backend, HoldBackendSetting::lsm);
  EXPECT_NE(format_config(*o).find("hold-backend = lsm\n"), std::string::npos);
  EXPECT_EQ(compile_config(*parse_config("\nhold-backend = kprobe\n"), DaemonOptions{}).error().message,
            "line 2: hold backend \"kprobe\": want auto, ptrace or lsm");
  EXPECT_EQ(DaemonOptions{}.hold_backend, HoldBackendSetting::automatic);
}

TEST(BpfLsmAvailability, TheActiveListDecidesNotTheAttach) {
  EXPECT_TRUE(lsm_list_has_bpf("lockdown,capability,landlock,yama,apparmor,tomoyo,bpf"));
  EXPECT_TRUE(lsm_list_has_bpf("bpf"));
  EXPECT_FALSE(lsm_list_has_bpf("capability,yama,apparmor"));
  EXPECT_FALSE(lsm_list_has_bpf("capability,bpfx,xbpf"));
  EXPECT_FALSE(lsm_list_has_bpf(""));

  KernelEnv env;
  env.lsms = "capability,yama,apparmor";
  env.lsm_programs = true;  // 5.10: the program type loads and attaches, yet never runs
  EXPECT_EQ(env.bpf_lsm_unavailable_reason(),
            "BPF LSM is not active: 'bpf' is not in /sys/kernel/security/lsm (capability,yama,apparmor) (boot with lsm=...,bpf)");
  env.lsms = "lockdown,capability,landlock,bpf";
  env.lsm_programs = false;
  env.lockdown = "integrity";
  EXPECT_EQ(env.bpf_lsm_unavailable_reason(),
            "the kernel refuses BPF LSM programs (program type lsm does not load; lockdown: integrity)");
  env.lsm_programs = true;
  EXPECT_TRUE(env.bpf_lsm());
}

TEST(LsmHoldPure, SignalMaskNeverHoldsKillOrStop) {
  EXPECT_EQ(*hold_signal_mask({SIGTERM, SIGINT}), (1ULL << (SIGTERM - 1)) | (1ULL << (SIGINT - 1)));
  EXPECT_EQ(*hold_signal_mask({64}), 1ULL << 63);
  EXPECT_EQ(hold_signal_mask({SIGTERM, SIGKILL}).error().message, "cannot hold SIGKILL: no process can refuse it and it never reaches a tracer");
  EXPECT_EQ(hold_signal_mask({SIGSTOP}).error().message, "cannot hold SIGSTOP: no process can refuse it and it never reaches a tracer");
  EXPECT_EQ(hold_signal_mask({0}).error().message, "cannot hold signal 0: no such signal");
  EXPECT_EQ(hold_signal_mask({65}).error().message, "cannot hold signal 65: no such signal");
}

TEST(LsmHoldPure, LeaseExpiry) {
  EXPECT_EQ(lease_expiry_ns(1'000, 5s), 5'000'001'000ULL);
  EXPECT_EQ(lease_expiry_ns(1'000, 0s), 1'000ULL) << "a zero lease is already over";
  EXPECT_EQ(lease_expiry_ns(1'000, -1s), 1'000ULL);
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(lease_expiry_ns(kMax - 10, 5s), kMax) << "saturates instead of wrapping into the past";
}

TEST(LsmHoldPure, DecodesOneRefusal) {
  sigdrain_refused_event e{};
  e.time_ns = 123;
  e.sender_tgid = 10;
  e.sender_tid = 11;
  e.target_tgid = 20;
  e.target_tid = 21;
  e.sig = SIGTERM;
  std::memcpy(e.sender_comm, "runc\0garbage", 12);
  auto bytes = std::as_bytes(std::span(&e, 1));
  auto r = decode_refused_signal(bytes);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->sender_tgid, 10);
  EXPECT_EQ(r->sender_tid, 11);
  EXPECT_EQ(r->sender_comm, "runc");
  EXPECT_EQ(r->target_tgid, 20);
  EXPECT_EQ(r->target_tid, 21);
  EXPECT_EQ(r->signo, SIGTERM);
  EXPECT_EQ(r->time_ns, 123u);
  std::memset(e.sender_comm, 'x', sizeof e.sender_comm);  // no NUL: the whole field
  EXPECT_EQ(decode_refused_signal(bytes)->sender_comm, std::string(16, 'x'));
  EXPECT_FALSE(decode_refused_signal(bytes.first(bytes.size() - 1)));
}

}  // namespace
}  // namespace sigdrain
