#include <gtest/gtest.h>

#include "daemon/config.hpp"

namespace sigdrain {
namespace {

TEST(MetricsConfig, MetricsAddressAndLogFormatKeys) {
  auto o = compile_config(*parse_config("metrics-address = [::1]:9464\nlog-format = json\n"), DaemonOptions{});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->metrics_address, "[::1]:9464");
  EXPECT_EQ(o->log_format, LogFormat::json);
  std::string formatted = format_config(*o);
  EXPECT_NE(formatted.find("metrics-address = [::1]:9464\n"), std::string::npos) << formatted;
  EXPECT_NE(formatted.find("log-format = json\n"), std::string::npos) << formatted;
  EXPECT_EQ(format_config(DaemonOptions{}).find("metrics-address"), std::string::npos) << "unset: no HTTP server, not printed";
  EXPECT_EQ(compile_config(*parse_config(formatted), DaemonOptions{})->metrics_address, "[::1]:9464");
}

TEST(MetricsConfig, BadValuesNameTheLine) {
  auto bad = [](const char* text) { return compile_config(*parse_config(text), DaemonOptions{}).error().message; };
  EXPECT_EQ(bad("\nmetrics-address = 9464\n"),
            "line 2: metrics address \"9464\": no port; want HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464");
  EXPECT_EQ(bad("log-format = xml\n"), "line 1: log-format = xml: want text or json");
}

TEST(MetricsConfig, LogFormatNames) {
  EXPECT_EQ(parse_log_format("text"), LogFormat::text);
  EXPECT_EQ(parse_log_format("json"), LogFormat::json);
  EXPECT_EQ(parse_log_format("JSON"), std::nullopt);
  EXPECT_EQ(log_format_name(LogFormat::json), "json");
  EXPECT_EQ(log_format_name(LogFormat::text), "text");
}

}  // namespace
}  // namespace sigdrain
