// The web dashboard as poold serves it (--http_listen): the page with a
// strict security policy, the pool's state only for the operator's token,
// every string as the pool has it (a hostile holder included), its changes
// on the next read, and the last hour's samples.
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "accel/client/lease.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pool/common/sha256.h"
#include "pool/common/wire.h"
#include "pool/poold/poold.h"
#include "pool/proto/dashboard.pb.h"
#include "tests/common/scoped_temp_dir.h"
#include "tests/common/status_matchers.h"
#include "tests/common/http_get.h"
#include "tests/poold/loopback_poold.h"

namespace accel::pool {
namespace {

using ::accel::testing::HttpAnswer;
using ::accel::testing::HttpRequest;
using ::testing::HasSubstr;

constexpr char kOperatorToken[] = "operator-token-0123456789abcdef";
constexpr char kTenantToken[] = "tenant-risk-token-0123456789abcd";

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    std::ofstream(dir_.Path("operator_token")) << kOperatorToken << "\n";
    std::ofstream(dir_.Path("tenants"))
        << "tenant risk priority=1 devices=2 memory=1GiB leases=4 token_sha256="
        << absl::BytesToHexString(Sha256(kTenantToken)) << "\n";
    PooldOptions options = ::accel::testing::LoopbackPoold("dash", 2);
    options.http_listen = "127.0.0.1:0";
    options.dashboard_sample_seconds = 1;
    options.operator_token_file = dir_.Path("operator_token");
    options.tenants = dir_.Path("tenants");
    ASSERT_OK_AND_ASSIGN(poold_, Poold::Start(options));
    ASSERT_THAT(poold_->dashboard_url(), ::testing::StartsWith("http://127.0.0.1:"));
  }

  HttpAnswer Get(const std::string& path, const std::string& headers = "") {
    absl::StatusOr<HttpAnswer> answer = HttpRequest("GET", poold_->dashboard_url() + path, headers);
    EXPECT_TRUE(answer.ok()) << answer.status();
    return answer.ok() ? *std::move(answer) : HttpAnswer{};
  }

  v1::DashboardState ReadPool() {
    const HttpAnswer answer =
        Get("api/pool", absl::StrCat("Authorization: Bearer ", kOperatorToken));
    EXPECT_EQ(answer.code, 200) << answer.body;
    EXPECT_EQ(answer.headers.at("content-type"), "application/json");
    EXPECT_EQ(answer.headers.at("cache-control"), "no-store");
    v1::DashboardState state;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(answer.body, &state).ok())
        << answer.body;
    return state;
  }

  ::accel::testing::ScopedTempDir dir_;
  std::unique_ptr<Poold> poold_;
};

TEST_F(DashboardTest, ThePageComesWithAStrictPolicyAndHoldsNoData) {
  const HttpAnswer page = Get("");
  EXPECT_EQ(page.code, 200);
  EXPECT_THAT(page.headers.at("content-type"), HasSubstr("text/html"));
  EXPECT_THAT(page.body, HasSubstr("src=\"/dashboard.js\""));
  EXPECT_THAT(page.body, ::testing::Not(HasSubstr("<script>")));  // nothing inline
  const std::string& policy = page.headers.at("content-security-policy");
  EXPECT_THAT(policy, HasSubstr("default-src 'none'"));
  EXPECT_THAT(policy, HasSubstr("script-src 'self'"));
  EXPECT_THAT(policy, HasSubstr("frame-ancestors 'none'"));
  EXPECT_EQ(page.headers.at("x-content-type-options"), "nosniff");
  EXPECT_EQ(page.headers.count("set-cookie"), 0u);
  EXPECT_EQ(Get("dashboard.js").code, 200);
  EXPECT_EQ(Get("dashboard.css").code, 200);
  EXPECT_EQ(Get("favicon.ico").code, 204);
  EXPECT_EQ(Get("no-such-page").code, 404);
  EXPECT_EQ(Get("../../etc/passwd").code, 404);
}

TEST_F(DashboardTest, OnlyTheOperatorsTokenReadsThePool) {
  for (const std::string& headers :
       {std::string(), std::string("Authorization: Bearer wrong-token-000000000000"),
        absl::StrCat("Authorization: Bearer ", kTenantToken),
        absl::StrCat("Authorization: Basic ", kOperatorToken),
        std::string("Authorization: Bearer "), std::string("Authorization: ") + kOperatorToken}) {
    const HttpAnswer answer = Get("api/pool", headers);
    EXPECT_EQ(answer.code, 401) << headers;
    EXPECT_THAT(answer.body, HasSubstr("\"error\"")) << headers;
    EXPECT_THAT(answer.body, ::testing::Not(HasSubstr("dash"))) << headers;
  }
  // The scheme's case does not matter (RFC 9110).
  EXPECT_EQ(Get("api/pool", absl::StrCat("Authorization: bearer ", kOperatorToken)).code, 200);
}

TEST_F(DashboardTest, OnlyReadsAreServed) {
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
    ASSERT_OK_AND_ASSIGN(HttpAnswer answer,
                         HttpRequest(method, poold_->dashboard_url() + "api/pool",
                                     absl::StrCat("Authorization: Bearer ", kOperatorToken)));
    EXPECT_EQ(answer.code, 405) << method;
  }
  // A preflight from another site is refused like any other method: no
  // origin but the page's own may call the API.
  ASSERT_OK_AND_ASSIGN(
      HttpAnswer preflight,
      HttpRequest("OPTIONS", poold_->dashboard_url() + "api/pool",
                  "Origin: http://evil.example\r\nAccess-Control-Request-Method: GET\r\n"
                  "Access-Control-Request-Headers: authorization"));
  EXPECT_EQ(preflight.code, 405);
  EXPECT_EQ(preflight.headers.count("access-control-allow-origin"), 0u);
  EXPECT_EQ(Get("api/pool", absl::StrCat("Origin: http://evil.example\r\nAuthorization: Bearer ",
                                         kOperatorToken))
                .headers.count("access-control-allow-origin"),
            0u);
  ASSERT_OK_AND_ASSIGN(HttpAnswer head, HttpRequest("HEAD", poold_->dashboard_url()));
  EXPECT_EQ(head.code, 200);
  EXPECT_TRUE(head.body.empty());
}

TEST_F(DashboardTest, ThePoolIsShownAsItIsAndItsChangesOnTheNextRead) {
  v1::DashboardState state = ReadPool();
  EXPECT_EQ(state.control_plane().role(), "leader");
  EXPECT_EQ(state.notice(), "");
  ASSERT_EQ(state.nodes_size(), 1);
  EXPECT_EQ(state.nodes(0).name(), "dash");
  EXPECT_EQ(state.nodes(0).state(), "ready");
  ASSERT_EQ(state.devices_size(), 2);
  EXPECT_EQ(state.devices(0).total_memory(), 64u << 20);
  EXPECT_EQ(state.leases_size(), 0);
  ASSERT_EQ(state.tenants_size(), 1);
  EXPECT_EQ(state.tenants(0).name(), "risk");
  EXPECT_EQ(state.history_interval_seconds(), 1u);

  // A holder is whatever a client says: it comes back as the same text.
  const std::string hostile = "<img src=x onerror=\"alert(1)\">&amp; \"\\u0000";
  client::LeaseRequest request;
  request.holder = hostile;
  request.token = kTenantToken;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<client::Lease> lease,
                       client::AcquireLease(poold_->address(), request));
  state = ReadPool();
  ASSERT_EQ(state.leases_size(), 1);
  EXPECT_EQ(state.active_leases(), 1u);
  EXPECT_EQ(state.leases(0).lease_id(), lease->id());
  EXPECT_EQ(state.leases(0).holder(), hostile);
  EXPECT_EQ(state.leases(0).tenant(), "risk");
  EXPECT_FALSE(state.leases(0).reason().empty());  // why it is where it is
  EXPECT_EQ(state.tenants(0).leases(), 1u);
  ASSERT_GE(state.history_size(), 1);
  EXPECT_EQ(state.history(state.history_size() - 1).active_leases(), 1u);
  EXPECT_EQ(state.history(state.history_size() - 1).leased_memory(), 64u << 20);
  EXPECT_EQ(state.history(state.history_size() - 1).total_memory(), 128u << 20);

  ASSERT_OK(lease->Release());
  state = ReadPool();
  EXPECT_EQ(state.leases_size(), 0);
  EXPECT_EQ(state.active_leases(), 0u);
  EXPECT_EQ(state.history(state.history_size() - 1).active_leases(), 0u);
}

TEST_F(DashboardTest, TheHistorySamplesAtItsIntervalOldestFirst) {
  // One sample a second: within 5 s there are several, in time order.
  v1::DashboardState state;
  for (int i = 0; i < 50 && state.history_size() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    state = ReadPool();
  }
  ASSERT_GE(state.history_size(), 4);
  for (int i = 1; i < state.history_size(); ++i) {
    EXPECT_LE(state.history(i - 1).unix_ms(), state.history(i).unix_ms());
    EXPECT_EQ(state.history(i).total_memory(), 128u << 20);
  }
}

TEST(DashboardOptionsTest, TheDashboardNeedsTheOperatorsTokenAndAnAddressItCanServe) {
  PooldOptions options = ::accel::testing::LoopbackPoold("dash", 1);
  options.http_listen = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<Poold>> poold = Poold::Start(options);
  ASSERT_FALSE(poold.ok());
  EXPECT_THAT(poold.status().message(), HasSubstr("--operator_token_file"));

  ::accel::testing::ScopedTempDir dir;
  std::ofstream(dir.Path("operator_token")) << kOperatorToken << "\n";
  options.operator_token_file = dir.Path("operator_token");
  options.http_listen = "8080";
  poold = Poold::Start(options);
  ASSERT_FALSE(poold.ok());
  EXPECT_THAT(poold.status().message(), HasSubstr("--http_listen 8080 is not HOST:PORT"));
  options.http_listen = "256.0.0.1:1";
  poold = Poold::Start(options);
  ASSERT_FALSE(poold.ok());
  EXPECT_EQ(poold.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(poold.status().message(), HasSubstr("cannot serve the dashboard on 256.0.0.1:1"));
}

}  // namespace
}  // namespace accel::pool
