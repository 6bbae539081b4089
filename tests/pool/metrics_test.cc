// poold's Prometheus endpoint, scraped over HTTP as Prometheus would and
// parsed as the text exposition format: every sample line is well formed,
// and the values follow the pool's state (nodes, device memory, leases,
// grants, refusals, ends).
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "accel/client/lease.h"
#include "accel/hal/hal.h"
#include "gtest/gtest.h"
#include "tests/common/http_get.h"
#include "tests/common/scoped_temp_dir.h"
#include "tests/common/status_matchers.h"
#include "tests/pool/pool_test_util.h"
#include "tests/pool/poold_process.h"
#include "tests/pool/saxpy_check.h"

namespace accel::testing {
namespace {

// GET http://127.0.0.1:port/metrics (with `authorization`, a header value);
// returns the body, after checking that the status is `code`.
std::string Scrape(int port, const std::string& authorization = "", int code = 200) {
  absl::StatusOr<HttpAnswer> answer =
      HttpRequest("GET", absl::StrCat("http://127.0.0.1:", port, "/metrics"),
                  authorization.empty() ? "" : "Authorization: " + authorization);
  EXPECT_TRUE(answer.ok()) << answer.status();
  if (!answer.ok()) return "";
  EXPECT_EQ(answer->code, code) << answer->body.substr(0, 200);
  return answer->body;
}

// Parses the text exposition format: "name{labels} value" per sample,
// "# HELP" / "# TYPE" comments. Fails the test on a malformed line.
// Returns sample -> value, keyed by the line's name and labels as written.
std::map<std::string, double> Parse(const std::string& text) {
  static const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})?) )"
      R"(([-+]?([0-9.]+([eE][-+]?[0-9]+)?|Nan|NaN|[+-]?Inf))$)");
  static const std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  std::map<std::string, double> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    std::smatch m;
    if (line[0] == '#') {
      EXPECT_TRUE(std::regex_match(line, comment)) << "malformed comment: " << line;
      continue;
    }
    if (!std::regex_match(line, m, sample)) {
      ADD_FAILURE() << "malformed sample: " << line;
      continue;
    }
    out[m[1]] = std::strtod(m[5].str().c_str(), nullptr);
  }
  return out;
}

// The value of the first sample whose key starts with `name{` (or is
// `name`) and contains every fragment; -1 if there is none.
double Value(const std::map<std::string, double>& samples, const std::string& name,
             std::vector<std::string> fragments = {}) {
  for (const auto& [key, value] : samples) {
    if (key != name && key.rfind(name + "{", 0) != 0) continue;
    bool all = true;
    for (const std::string& f : fragments) all &= key.find(f) != std::string::npos;
    if (all) return value;
  }
  return -1;
}

// The metrics port poold printed at start.
absl::StatusOr<int> MetricsPort(const PooldProcess& poold) {
  std::smatch m;
  const std::string& out = poold.startup_output();
  if (!std::regex_search(out, m, std::regex(R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)"))) {
    return absl::NotFoundError(absl::StrCat("poold printed no metrics address: ", out));
  }
  return std::stoi(m[1]);
}

TEST(MetricsTest, ScrapedMetricsFollowThePool) {
  ASSERT_OK_AND_ASSIGN(auto poold,
                       PooldProcess::Start({"--host_devices=2", "--host_device_memory=64MiB",
                                            "--node_name=m", "--metrics_listen=127.0.0.1:0"}));
  ASSERT_OK_AND_ASSIGN(const int port, MetricsPort(*poold));

  auto samples = Parse(Scrape(port));
  EXPECT_EQ(Value(samples, "accelpool_node_up", {"node=\"m\""}), 1);
  EXPECT_EQ(Value(samples, "accelpool_device_memory_total_bytes", {"device=\"m/host:1\""}),
            64 << 20);
  EXPECT_EQ(Value(samples, "accelpool_leases_active"), 0);
  // A pool of one coordinator: it leads, and has no etcd to wait on.
  EXPECT_EQ(Value(samples, "accelpool_coordinator_leader"), 1);
  EXPECT_EQ(Value(samples, "accelpool_etcd_round_trip_seconds"), 0);

  client::LeaseRequest too_many;
  too_many.devices = 5;
  EXPECT_STATUS(client::AcquireLease(poold->address(), too_many), kNotFound);
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<client::Lease> lease,
                         client::AcquireLease(poold->address(), {}));
    ASSERT_OK_AND_ASSIGN(hal::Buffer b, lease->devices()[0].Allocate(3 << 20));
    ASSERT_TRUE(Eventually(
        [&] {
          samples = Parse(Scrape(port));
          return Value(samples, "accelpool_device_memory_used_bytes", {"device=\"m/host:0\""}) ==
                 (3 << 20);
        },
        10));
    EXPECT_EQ(Value(samples, "accelpool_device_memory_leased_bytes", {"device=\"m/host:0\""}),
              64 << 20);
    EXPECT_EQ(Value(samples, "accelpool_device_leases", {"device=\"m/host:0\""}), 1);
    EXPECT_EQ(Value(samples, "accelpool_leases_active"), 1);
    EXPECT_EQ(Value(samples, "accelpool_leases_granted_total"), 1);
    EXPECT_EQ(Value(samples, "accelpool_lease_requests_refused_total", {"code=\"NOT_FOUND\""}), 1);
    ASSERT_OK(lease->Release());
  }
  // The device is the pool's again once its session's worker is gone.
  EXPECT_TRUE(Eventually(
      [&] {
        samples = Parse(Scrape(port));
        return Value(samples, "accelpool_device_leases", {"device=\"m/host:0\""}) == 0;
      },
      10));
  EXPECT_EQ(Value(samples, "accelpool_leases_active"), 0);
  EXPECT_EQ(Value(samples, "accelpool_leases_ended_total", {"reason=\"released\""}), 1);
  EXPECT_EQ(Value(samples, "accelpool_leases_queued"), 0);
  EXPECT_EQ(Value(samples, "accelpool_lease_queue_wait_seconds_count"), 1);
  EXPECT_EQ(Value(samples, "accelpool_lease_queue_wait_seconds_bucket", {"le=\"+Inf\""}), 1);
}

TEST(MetricsTest, TenantsLaunchesAndBytesAreCountedPerTenant) {
  ASSERT_OK_AND_ASSIGN(
      auto poold, PooldProcess::Start({"--host_devices=2", "--host_device_memory=64MiB",
                                       "--allow_host_kernels", "--metrics_listen=127.0.0.1:0"}));
  ASSERT_OK_AND_ASSIGN(const int port, MetricsPort(*poold));
  client::LeaseRequest request;
  ASSERT_OK_AND_ASSIGN(request.token,
                       CreateTenantWithPoolctl(poold->address(), "risk", {"--devices", "2"}));
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<client::Lease> lease,
                         client::AcquireLease(poold->address(), request));
    auto samples = Parse(Scrape(port));
    EXPECT_EQ(Value(samples, "accelpool_tenant_leases", {"tenant=\"risk\""}), 1);
    EXPECT_EQ(Value(samples, "accelpool_tenant_devices", {"tenant=\"risk\""}), 1);
    EXPECT_EQ(Value(samples, "accelpool_tenant_memory_leased_bytes", {"tenant=\"risk\""}),
              64 << 20);
    ASSERT_OK(RunSaxpy(lease->devices()[0], 1 << 16));  // copies 3 x 256 KiB, one launch
    ASSERT_OK(lease->Release());
  }
  // The session's last report arrives before its close ends the lease.
  ASSERT_TRUE(Eventually(
      [&] {
        auto samples = Parse(Scrape(port));
        return Value(samples, "accelpool_tenant_launches_total", {"tenant=\"risk\""}) >= 1;
      },
      10));
  auto samples = Parse(Scrape(port));
  EXPECT_GE(Value(samples, "accelpool_tenant_copied_bytes_total",
                  {"tenant=\"risk\"", "direction=\"to_device\""}),
            2 << 18);
  EXPECT_GE(Value(samples, "accelpool_tenant_copied_bytes_total",
                  {"tenant=\"risk\"", "direction=\"to_host\""}),
            1 << 18);
  EXPECT_EQ(Value(samples, "accelpool_tenant_leases", {"tenant=\"risk\""}), 0);
}

TEST(MetricsTest, APasswordGuardsTheEndpointWhenGiven) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.ok());
  std::ofstream(dir.Path("password")) << "scrape-me-9f8e7d\n";
  ASSERT_OK_AND_ASSIGN(auto poold,
                       PooldProcess::Start({"--host_devices=1", "--metrics_listen=127.0.0.1:0",
                                            "--metrics_password_file=" + dir.Path("password")}));
  ASSERT_OK_AND_ASSIGN(const int port, MetricsPort(*poold));
  EXPECT_EQ(Scrape(port, "", 401).find("accelpool_"), std::string::npos);
  EXPECT_EQ(Scrape(port, "Basic " + absl::Base64Escape("prometheus:wrong"), 401).find("accelpool_"),
            std::string::npos);
  const std::string body =
      Scrape(port, "Basic " + absl::Base64Escape("prometheus:scrape-me-9f8e7d"));
  EXPECT_NE(body.find("accelpool_node_up"), std::string::npos) << body;
}

TEST(MetricsTest, AnUnusableMetricsAddressIsAClearStartupError) {
  ASSERT_OK_AND_ASSIGN(auto run, RunProgram(ACCEL_TEST_POOLD, {"--listen=127.0.0.1:0",
                                                               "--metrics_listen=256.0.0.1:1"}));
  EXPECT_NE(run.first, 0);
  EXPECT_NE(run.second.find("cannot serve metrics on 256.0.0.1:1"), std::string::npos)
      << run.second;
}

}  // namespace
}  // namespace accel::testing
