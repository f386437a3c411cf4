#include "common/metrics.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace {

using ::testing::HasSubstr;

TEST(MetricRegistryTest, CounterStartsAtZeroAndAdds) {
  MetricRegistry r;
  r.DeclareCounter("fabric_run_restarts_total", "Restarts.");
  EXPECT_THAT(r.Render(), HasSubstr("fabric_run_restarts_total 0\n"));
  r.Add("fabric_run_restarts_total");
  r.Add("fabric_run_restarts_total");
  EXPECT_EQ(r.Value("fabric_run_restarts_total"), 2);
  EXPECT_EQ(r.Render(),
            "# HELP fabric_run_restarts_total Restarts.\n"
            "# TYPE fabric_run_restarts_total counter\n"
            "fabric_run_restarts_total 2\n");
}

TEST(MetricRegistryTest, LabelledSeriesAreEscaped) {
  MetricRegistry r;
  r.DeclareCounter("x_total", "Help with \\ and\nnewline.", /*start_at_zero=*/false);
  r.Add("x_total", {{"cause", "a\"b\\c\nd"}}, 3);
  EXPECT_EQ(r.Render(),
            "# HELP x_total Help with \\\\ and\\nnewline.\n"
            "# TYPE x_total counter\n"
            "x_total{cause=\"a\\\"b\\\\c\\nd\"} 3\n");
}

TEST(MetricRegistryTest, GaugeSetRemoveClear) {
  MetricRegistry r;
  r.DeclareGauge("g", "G.", /*start_at_zero=*/false);
  r.Set("g", {{"rank", "0"}}, 1.5);
  r.Set("g", {{"rank", "1"}}, 2);
  EXPECT_THAT(r.Render(), HasSubstr("g{rank=\"0\"} 1.5\ng{rank=\"1\"} 2\n"));
  r.Remove("g", {{"rank", "0"}});
  EXPECT_THAT(r.Render(), ::testing::Not(HasSubstr("rank=\"0\"")));
  r.Clear("g");
  EXPECT_EQ(r.Render(), "# HELP g G.\n# TYPE g gauge\n");
}

TEST(MetricRegistryTest, HistogramBucketsAreCumulative) {
  MetricRegistry r;
  r.DeclareHistogram("h_seconds", "H.", {0.5, 2});
  r.Observe("h_seconds", {}, 0.1);
  r.Observe("h_seconds", {}, 1);
  r.Observe("h_seconds", {}, 10);
  EXPECT_EQ(r.Render(),
            "# HELP h_seconds H.\n# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"0.5\"} 1\n"
            "h_seconds_bucket{le=\"2\"} 2\n"
            "h_seconds_bucket{le=\"+Inf\"} 3\n"
            "h_seconds_sum 11.1\n"
            "h_seconds_count 3\n");
}

TEST(MetricRegistryTest, WrongTypeAndUnknownNamesAreIgnored) {
  MetricRegistry r;
  r.DeclareGauge("g", "G.");
  r.Add("g");
  r.Add("nope");
  r.Observe("g", {}, 1);
  EXPECT_EQ(r.Value("g"), 0);
}

// The rendered text as Prometheus' own checker reads it (skipped without promtool).
TEST(MetricRegistryTest, PromtoolAcceptsRenderedText) {
  if (access("/usr/bin/promtool", X_OK) != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus; tools/setup.sh)";
  }
  MetricRegistry r;
  r.DeclareCounter("fabric_run_worker_failures_total", "Worker failures by cause.", false);
  r.Add("fabric_run_worker_failures_total", {{"cause", "exit \"1\""}});
  r.DeclareGauge("fabric_run_heartbeat_age_seconds", "Heartbeat age.", false);
  r.Set("fabric_run_heartbeat_age_seconds", {{"rank", "0"}}, 0.25);
  r.DeclareHistogram("fabric_run_restart_seconds", "Restart time.", {0.1, 1, 10});
  r.Observe("fabric_run_restart_seconds", {}, 0.3);
  const char* dir = getenv("TEST_TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/metrics.txt";
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  const std::string text = r.Render();
  fwrite(text.data(), 1, text.size(), f);
  fclose(f);
  const std::string cmd = "/usr/bin/promtool check metrics < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string said;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) said.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << said << "\n" << text;
}

}  // namespace
}  // namespace fabric
