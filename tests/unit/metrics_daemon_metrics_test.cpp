#include <gtest/gtest.h>

#include "metrics/daemon_metrics.hpp"

namespace sigdrain::metrics {
namespace {

// The lines of `text` that start with `prefix`, joined.
std::string lines_starting(const std::string& text, const std::string& prefix) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl - pos);
    if (line.rfind(prefix, 0) == 0) out += line + "\n";
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

TEST(DaemonMetrics, CountsGateStopsByResult) {
  DaemonMetrics m;
  m.gated("attached");
  m.gated("attached");
  m.gated("let_go");
  EXPECT_TRUE(m.take_changed());
  EXPECT_EQ(lines_starting(m.render(), "sigdrain_gate_stops_total{"),
            "sigdrain_gate_stops_total{result=\"attached\"} 2\nsigdrain_gate_stops_total{result=\"let_go\"} 1\n");
}

TEST(DaemonMetrics, EveryFamilyIsPresentBeforeAnythingHappened) {
  DaemonMetrics m;
  std::string text = m.render();
  for (const char* sample : {"sigdrain_holds_total 0\n", "sigdrain_releases_total{reason=\"idle\"} 0\n",
                             "sigdrain_releases_total{reason=\"deadline\"} 0\n", "sigdrain_releases_total{reason=\"exited\"} 0\n",
                             "sigdrain_releases_total{reason=\"daemon_restart\"} 0\n", "sigdrain_drain_duration_seconds_count 0\n",
                             "sigdrain_drain_duration_seconds_bucket{le=\"+Inf\"} 0\n",
                             "sigdrain_requests_completed_during_holds_total 0\n", "sigdrain_sigkill_escalations_total 0\n",
                             "sigdrain_stops_total{outcome=\"graceful\"} 0\n", "sigdrain_stops_total{outcome=\"killed\"} 0\n",
                             "sigdrain_guarded_containers 0\n", "sigdrain_ringbuf_drops_total 0\n",
                             "sigdrain_bpf_runs_skipped_total 0\n",
                             "sigdrain_gate_stops_total{result=\"attached\"} 0\n", "sigdrain_gate_stops_total{result=\"let_go\"} 0\n"})
    EXPECT_NE(text.find(sample), std::string::npos) << sample << " missing from\n" << text;
  for (const char* type : {"# TYPE sigdrain_info gauge\n", "# TYPE sigdrain_container_inflight_requests gauge\n",
                           "# TYPE sigdrain_container_open_connections gauge\n", "# TYPE sigdrain_drain_duration_seconds histogram\n"})
    EXPECT_NE(text.find(type), std::string::npos) << type;
}

TEST(DaemonMetrics, CountsAStop) {
  DaemonMetrics m;
  m.set_info("0.1.0", "tracepoint", "ptrace");
  EXPECT_TRUE(m.take_changed());
  EXPECT_FALSE(m.take_changed()) << "once per change";
  m.held();
  m.released(ReleasedBy::idle, 3537, 7);
  m.sigkill_escalation();
  m.stopped(StopOutcome::graceful);
  m.set_state({{"web", "abc", 2, 4}, {"api", "def", 0, 1}}, 1, 5, 3);
  EXPECT_TRUE(m.take_changed());
  std::string text = m.render();
  EXPECT_EQ(lines_starting(text, "sigdrain_info"), "sigdrain_info{version=\"0.1.0\",probe_set=\"tracepoint\",hold_backend=\"ptrace\"} 1\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_holds_total"), "sigdrain_holds_total 1\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_releases_total"),
            "sigdrain_releases_total{reason=\"daemon_restart\"} 0\n"
            "sigdrain_releases_total{reason=\"deadline\"} 0\n"
            "sigdrain_releases_total{reason=\"exited\"} 0\n"
            "sigdrain_releases_total{reason=\"idle\"} 1\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_drain_duration_seconds_bucket{le=\"2\"}"), "sigdrain_drain_duration_seconds_bucket{le=\"2\"} 0\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_drain_duration_seconds_bucket{le=\"5\"}"), "sigdrain_drain_duration_seconds_bucket{le=\"5\"} 1\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_drain_duration_seconds_sum"), "sigdrain_drain_duration_seconds_sum 3.537\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_drain_duration_seconds_count"), "sigdrain_drain_duration_seconds_count 1\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_requests_completed_during_holds_total"), "sigdrain_requests_completed_during_holds_total 7\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_sigkill_escalations_total"), "sigdrain_sigkill_escalations_total 1\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_stops_total{outcome=\"graceful\"}"), "sigdrain_stops_total{outcome=\"graceful\"} 1\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_container_inflight_requests{"),
            "sigdrain_container_inflight_requests{container=\"api\",id=\"def\"} 0\n"
            "sigdrain_container_inflight_requests{container=\"web\",id=\"abc\"} 2\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_container_open_connections{"),
            "sigdrain_container_open_connections{container=\"api\",id=\"def\"} 1\n"
            "sigdrain_container_open_connections{container=\"web\",id=\"abc\"} 4\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_guarded_containers "), "sigdrain_guarded_containers 1\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_ringbuf_drops_total "), "sigdrain_ringbuf_drops_total 5\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_bpf_runs_skipped_total "), "sigdrain_bpf_runs_skipped_total 3\n");

  m.set_state({{"web", "abc", 0, 0}}, 0, 5, 3);
  EXPECT_EQ(lines_starting(m.render(), "sigdrain_container_inflight_requests{"),
            "sigdrain_container_inflight_requests{container=\"web\",id=\"abc\"} 0\n")
      << "a container gone is gone from the gauges";
}

TEST(DaemonMetrics, CountsADrainTheRestartEndedAsDaemonRestart) {
  DaemonMetrics m;
  m.released_by_restart(1500, 2);
  m.stopped(StopOutcome::unknown);
  std::string text = m.render();
  EXPECT_EQ(lines_starting(text, "sigdrain_releases_total"),
            "sigdrain_releases_total{reason=\"daemon_restart\"} 1\n"
            "sigdrain_releases_total{reason=\"deadline\"} 0\n"
            "sigdrain_releases_total{reason=\"exited\"} 0\n"
            "sigdrain_releases_total{reason=\"idle\"} 0\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_requests_completed_during_holds_total"), "sigdrain_requests_completed_during_holds_total 2\n");
  EXPECT_EQ(lines_starting(text, "sigdrain_stops_total"),
            "sigdrain_stops_total{outcome=\"graceful\"} 0\n"
            "sigdrain_stops_total{outcome=\"killed\"} 0\n"
            "sigdrain_stops_total{outcome=\"unknown\"} 1\n");
}

}  // namespace
}  // namespace sigdrain::metrics
