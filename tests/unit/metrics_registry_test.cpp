#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "metrics/registry.hpp"

namespace sigdrain::metrics {
namespace {

TEST(MetricsRegistry, CountersAndGaugesWithHelpTypeAndLabels) {
  Registry r;
  auto& holds = r.counter("x_holds_total", "Stop signals held");
  auto& releases = r.counter("x_releases_total", "Drains ended, by reason");
  auto& guarded = r.gauge("x_guarded", "Guarded containers");
  holds.inc();
  holds.inc({}, 2);
  releases.inc({{"reason", "idle"}}, 0);
  releases.inc({{"reason", "deadline"}});
  guarded.set({}, 3);
  EXPECT_EQ(r.render(),
            "# HELP x_holds_total Stop signals held\n"
            "# TYPE x_holds_total counter\n"
            "x_holds_total 3\n"
            "# HELP x_releases_total Drains ended, by reason\n"
            "# TYPE x_releases_total counter\n"
            "x_releases_total{reason=\"deadline\"} 1\n"
            "x_releases_total{reason=\"idle\"} 0\n"
            "# HELP x_guarded Guarded containers\n"
            "# TYPE x_guarded gauge\n"
            "x_guarded 3\n");
}

TEST(MetricsRegistry, GaugeSeriesComeAndGo) {
  Registry r;
  auto& inflight = r.gauge("x_inflight", "In flight");
  inflight.set({{"container", "web"}, {"id", "ab"}}, 2);
  inflight.set({{"container", "api"}, {"id", "cd"}}, 0.5);
  EXPECT_EQ(r.render(),
            "# HELP x_inflight In flight\n"
            "# TYPE x_inflight gauge\n"
            "x_inflight{container=\"api\",id=\"cd\"} 0.5\n"
            "x_inflight{container=\"web\",id=\"ab\"} 2\n");
  inflight.clear();
  EXPECT_EQ(r.render(), "# HELP x_inflight In flight\n# TYPE x_inflight gauge\n") << "a family without series keeps its HELP and TYPE";
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  auto& drain = r.histogram("x_drain_seconds", "Drain time", {5, 0.5, 1});  // sorted on the way in
  drain.declare({});
  EXPECT_EQ(r.render(),
            "# HELP x_drain_seconds Drain time\n"
            "# TYPE x_drain_seconds histogram\n"
            "x_drain_seconds_bucket{le=\"0.5\"} 0\n"
            "x_drain_seconds_bucket{le=\"1\"} 0\n"
            "x_drain_seconds_bucket{le=\"5\"} 0\n"
            "x_drain_seconds_bucket{le=\"+Inf\"} 0\n"
            "x_drain_seconds_sum 0\n"
            "x_drain_seconds_count 0\n");
  drain.observe({}, 0.25);
  drain.observe({}, 1);  // on a bound: counted in that bucket
  drain.observe({}, 7.5);
  EXPECT_EQ(r.render(),
            "# HELP x_drain_seconds Drain time\n"
            "# TYPE x_drain_seconds histogram\n"
            "x_drain_seconds_bucket{le=\"0.5\"} 1\n"
            "x_drain_seconds_bucket{le=\"1\"} 2\n"
            "x_drain_seconds_bucket{le=\"5\"} 2\n"
            "x_drain_seconds_bucket{le=\"+Inf\"} 3\n"
            "x_drain_seconds_sum 8.75\n"
            "x_drain_seconds_count 3\n");
}

TEST(MetricsRegistry, HistogramLabelsComeBeforeLe) {
  Registry r;
  auto& h = r.histogram("x_h", "H", {1});
  h.observe({{"runtime", "podman"}}, 2);
  EXPECT_EQ(r.render(),
            "# HELP x_h H\n"
            "# TYPE x_h histogram\n"
            "x_h_bucket{runtime=\"podman\",le=\"1\"} 0\n"
            "x_h_bucket{runtime=\"podman\",le=\"+Inf\"} 1\n"
            "x_h_sum{runtime=\"podman\"} 2\n"
            "x_h_count{runtime=\"podman\"} 1\n");
}

TEST(MetricsRegistry, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value(R"(a\b"c)"
                               "\n"
                               "d"),
            R"(a\\b\"c\nd)");
  Registry r;
  auto& g = r.gauge("x_g", "back\\slash\nnew line \"quoted\"");
  g.set({{"container", "we\"b\\\n"}}, 1);
  EXPECT_EQ(r.render(),
            "# HELP x_g back\\\\slash\\nnew line \"quoted\"\n"
            "# TYPE x_g gauge\n"
            "x_g{container=\"we\\\"b\\\\\\n\"} 1\n");
}

TEST(MetricsRegistry, SampleValues) {
  EXPECT_EQ(format_sample_value(0), "0");
  EXPECT_EQ(format_sample_value(42), "42");
  EXPECT_EQ(format_sample_value(0.125), "0.125");
  EXPECT_EQ(format_sample_value(18446744073709551615.0), "1.8446744073709552e+19");
  EXPECT_EQ(format_sample_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_sample_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_sample_value(std::nan("")), "NaN");
}

TEST(MetricsRegistry, MirroredCounterTakesTheTotal) {
  Registry r;
  auto& drops = r.counter("x_drops_total", "Drops");
  drops.set_total({}, 7);
  drops.set_total({}, 9);
  EXPECT_EQ(r.render(), "# HELP x_drops_total Drops\n# TYPE x_drops_total counter\nx_drops_total 9\n");
}

}  // namespace
}  // namespace sigdrain::metrics
