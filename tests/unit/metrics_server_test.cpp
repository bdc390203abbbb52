#include <gtest/gtest.h>

#include <thread>

#include <httplib.h>

#include "metrics/server.hpp"

namespace sigdrain::metrics {
namespace {

using namespace std::chrono_literals;

TEST(MetricsServer, ServesTheLatestSnapshotHealthAndReadiness) {
  auto server = MetricsServer::start(ListenAddress{"127.0.0.1", 0}, 200ms);
  ASSERT_TRUE(server) << server.error().message;
  ASSERT_GT((*server)->port(), 0);
  httplib::Client client("127.0.0.1", (*server)->port());

  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(metrics->body, "");
  (*server)->publish("# TYPE x counter\nx 1\n");
  EXPECT_EQ(client.Get("/metrics")->body, "# TYPE x counter\nx 1\n");

  EXPECT_EQ(client.Get("/healthz")->status, 200) << "starting up counts as alive";
  std::this_thread::sleep_for(300ms);
  auto stalled = client.Get("/healthz");
  EXPECT_EQ(stalled->status, 503);
  EXPECT_NE(stalled->body.find("the daemon's loop last ran"), std::string::npos) << stalled->body;
  (*server)->beat();
  EXPECT_EQ(client.Get("/healthz")->status, 200);

  EXPECT_EQ(client.Get("/readyz")->status, 503);
  (*server)->mark_ready();
  EXPECT_EQ(client.Get("/readyz")->status, 200);
  EXPECT_EQ(client.Get("/nothing")->status, 404);
}

TEST(MetricsServer, BindFailureIsOneLineAndTheDestructorStopsServing) {
  uint16_t port = 0;
  {
    auto first = MetricsServer::start(ListenAddress{"127.0.0.1", 0});
    ASSERT_TRUE(first) << first.error().message;
    port = (*first)->port();
    auto second = MetricsServer::start(ListenAddress{"127.0.0.1", port});
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().message, "cannot listen on 127.0.0.1:" + std::to_string(port) + " for metrics: Address already in use");
  }
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1s);
  EXPECT_FALSE(client.Get("/metrics")) << "nothing serves once the server is destroyed";
}

}  // namespace
}  // namespace sigdrain::metrics
