// Tenants, quotas, fractional leases and the wait queue through a real
// poold on loopback: what the SDK, raw gRPC callers and poolctl see.
#include <cstdlib>
#include <fstream>
#include <future>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "accel/client/lease.h"
#include "accel/hal/hal.h"
#include "gtest/gtest.h"
#include "pool/common/bearer_token.h"
#include "pool/common/sha256.h"
#include "tests/common/scoped_temp_dir.h"
#include "tests/common/status_matchers.h"
#include "tests/pool/pool_test_util.h"
#include "tests/pool/poold_process.h"
#include "tests/pool/saxpy_check.h"

namespace accel::testing {
namespace {

namespace hal = ::accel::hal;
using client::AcquireLease;
using client::Lease;
using client::LeaseRequest;

constexpr char kRiskToken[] = "risk-token-0123456789abcdef";
constexpr char kTradingToken[] = "trading-token-0123456789abcdef";
constexpr char kOperatorToken[] = "operator-token-0123456789abcdef";

std::string Hash(const std::string& token) { return absl::BytesToHexString(pool::Sha256(token)); }

class TenantsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    std::ofstream(dir_.Path("tenants"))
        << "# the test pool's tenants\n"
        << "tenant risk leases=1 memory=512MiB token_sha256=" << Hash(kRiskToken) << "\n"
        << "tenant trading priority=5 token_sha256=" << Hash(kTradingToken) << "\n";
    std::ofstream(dir_.Path("operator")) << kOperatorToken << "\n";
    ASSERT_OK_AND_ASSIGN(
        poold_,
        PooldProcess::Start({"--allow_host_kernels", "--host_devices=2",
                             "--host_device_memory=256MiB", "--tenants=" + dir_.Path("tenants"),
                             "--operator_token_file=" + dir_.Path("operator")}));
  }
  absl::StatusOr<std::unique_ptr<Lease>> LeaseAs(const std::string& token,
                                                 LeaseRequest request = {}) {
    request.token = token;
    return AcquireLease(poold_->address(), request);
  }
  // poolctl with the operator's token (or `token`), output and exit status.
  std::pair<int, std::string> Poolctl(std::vector<std::string> args,
                                      const std::string& token = kOperatorToken) {
    args.insert(args.begin(), {"--pool", poold_->address(), "--token", token});
    absl::StatusOr<std::pair<int, std::string>> run = RunProgram(ACCEL_TEST_POOLCTL, args);
    EXPECT_OK(run.status());
    return run.ok() ? *run : std::pair<int, std::string>{-1, ""};
  }
  // A coordinator call with `token` as its bearer.
  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (v1::Coordinator::Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                               Response*),
                    const Request& request, Response* response, const std::string& token) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    pool::AttachBearerToken(context, token);
    return (*CoordinatorAt(poold_->address()).*rpc)(&context, request, response);
  }
  ScopedTempDir dir_;
  std::unique_ptr<PooldProcess> poold_;
};

TEST_F(TenantsTest, OnlyTenantsLeaseAndEachSeesOnlyItsOwn) {
  EXPECT_STATUS(AcquireLease(poold_->address(), {}), kUnauthenticated);
  EXPECT_STATUS(LeaseAs("no-such-token"), kUnauthenticated);
  EXPECT_STATUS(LeaseAs(kOperatorToken), kPermissionDenied);  // operators do not lease

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> risk, LeaseAs(kRiskToken));
  ASSERT_OK(RunSaxpy(risk->devices()[0], 1 << 16));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> trading, LeaseAs(kTradingToken));

  // trading lists only its own lease, cannot explain risk's, and cannot
  // release it even holding risk's lease token.
  v1::ListLeasesResponse seen;
  ASSERT_TRUE(
      Call(&v1::Coordinator::Stub::ListLeases, v1::ListLeasesRequest(), &seen, kTradingToken).ok());
  ASSERT_EQ(seen.leases_size(), 1);
  EXPECT_EQ(seen.leases(0).lease_id(), trading->id());
  EXPECT_EQ(seen.leases(0).tenant(), "trading");
  v1::ExplainLeaseRequest explain;
  explain.set_lease_id(risk->id());
  v1::LeaseInfo info;
  EXPECT_EQ(Call(&v1::Coordinator::Stub::ExplainLease, explain, &info, kTradingToken).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::AdminReleaseRequest revoke;
  revoke.set_lease_id(risk->id());
  v1::ReleaseResponse released;
  EXPECT_EQ(
      Call(&v1::Coordinator::Stub::AdminRelease, revoke, &released, kTradingToken).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  // Without a token, even from this host, nothing is listed: the pool has
  // an operator token.
  EXPECT_EQ(
      Call(&v1::Coordinator::Stub::ListLeases, v1::ListLeasesRequest(), &seen, "").error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_OK(RunSaxpy(risk->devices()[0], 1 << 16));  // risk's lease is untouched

  // risk is at its quota of one lease; the refusal names it.
  absl::StatusOr<std::unique_ptr<Lease>> second = LeaseAs(kRiskToken);
  EXPECT_STATUS(second, kResourceExhausted);
  EXPECT_TRUE(absl::StrContains(second.status().message(), "quota of 1 concurrent lease"))
      << second.status();

  // The operator sees both, with their tenants.
  auto [code, table] = Poolctl({"leases"});
  EXPECT_EQ(code, 0) << table;
  EXPECT_TRUE(absl::StrContains(table, risk->id()) && absl::StrContains(table, trading->id()))
      << table;
  EXPECT_TRUE(absl::StrContains(table, "risk") && absl::StrContains(table, "trading")) << table;
  // A tenant's poolctl shows its own.
  auto [own_code, own] = Poolctl({"leases"}, kRiskToken);
  EXPECT_EQ(own_code, 0) << own;
  EXPECT_TRUE(absl::StrContains(own, risk->id()) && !absl::StrContains(own, trading->id())) << own;
}

TEST_F(TenantsTest, OperatorsManageTenantsWithPoolctl) {
  ASSERT_OK_AND_ASSIGN(
      const std::string token,
      CreateTenantWithPoolctl(poold_->address(), "quants",
                              {"--devices", "1", "--memory", "128MiB", "--priority", "3"},
                              kOperatorToken));
  ASSERT_EQ(token.size(), 64u) << token;

  // The new token leases; a whole 256 MiB device is over its memory quota,
  // a 100 MiB share is not.
  absl::StatusOr<std::unique_ptr<Lease>> whole = LeaseAs(token);
  EXPECT_STATUS(whole, kResourceExhausted);
  EXPECT_TRUE(absl::StrContains(whole.status().message(), "memory quota")) << whole.status();
  LeaseRequest share;
  share.memory = 100 << 20;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, LeaseAs(token, share));
  EXPECT_EQ(lease->devices()[0].properties().total_memory, 100u << 20);

  auto [listed_code, listed] = Poolctl({"tenants"});
  EXPECT_EQ(listed_code, 0) << listed;
  EXPECT_TRUE(absl::StrContains(listed, "quants")) << listed;
  EXPECT_TRUE(absl::StrContains(listed, "100 MiB/128 MiB")) << listed;
  auto [json_code, json] = Poolctl({"-o", "json", "tenants"});
  EXPECT_EQ(json_code, 0) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"max_devices\": 1")) << json;
  // Isolation and a kernel time limit of its own.
  auto [isolated_code, isolated] =
      Poolctl({"tenant", "update", "quants", "--devices", "1", "--memory", "128MiB", "--isolation",
               "device", "--max-kernel-seconds", "5"});
  EXPECT_EQ(isolated_code, 0) << isolated;
  auto [shown_code, shown] = Poolctl({"-o", "json", "tenants"});
  EXPECT_TRUE(absl::StrContains(shown, "\"device_isolation\": true")) << shown;
  EXPECT_TRUE(absl::StrContains(shown, "\"max_kernel_ms\": 5000")) << shown;

  // Tenants cannot manage tenants.
  auto [denied_code, denied] = Poolctl({"tenant", "create", "mine"}, kRiskToken);
  EXPECT_NE(denied_code, 0);
  EXPECT_TRUE(absl::StrContains(denied, "operator")) << denied;

  auto [updated_code, updated] = Poolctl({"tenant", "update", "quants", "--leases", "4"});
  EXPECT_EQ(updated_code, 0) << updated;
  auto [after_code, after] = Poolctl({"-o", "json", "tenants"});
  EXPECT_TRUE(absl::StrContains(after, "\"max_leases\": 4") &&
              absl::StrContains(after, "\"priority\": 3"))  // kept by the update
      << after;
  ASSERT_OK(lease->Release());
  auto [deleted_code, deleted] = Poolctl({"tenant", "delete", "quants"});
  EXPECT_EQ(deleted_code, 0) << deleted;
  EXPECT_STATUS(LeaseAs(token), kUnauthenticated);
}

TEST_F(TenantsTest, FractionalLeasesShareADeviceWithinTheirMemory) {
  LeaseRequest share;
  share.memory = 96 << 20;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> a, LeaseAs(kTradingToken, share));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> b, LeaseAs(kTradingToken, share));
  const hal::Device& da = a->devices()[0];
  const hal::Device& db = b->devices()[0];
  EXPECT_EQ(da.properties().total_memory, 96u << 20);
  // Both on one device (binpack), each limited to its share.
  v1::ListDevicesResponse devices;
  ASSERT_TRUE(
      Call(&v1::Coordinator::Stub::ListDevices, v1::ListDevicesRequest(), &devices, kTradingToken)
          .ok());
  int shared = 0;
  for (const v1::DeviceInfo& d : devices.devices()) {
    if (d.leases() == 2) {
      ++shared;
      EXPECT_EQ(d.leased_memory(), 192u << 20);
    }
  }
  EXPECT_EQ(shared, 1);
  ASSERT_OK_AND_ASSIGN(hal::Buffer most, da.Allocate(80 << 20));
  EXPECT_STATUS(da.Allocate(32 << 20), kResourceExhausted);
  ASSERT_OK_AND_ASSIGN(hal::Buffer all, db.Allocate(96 << 20));
  EXPECT_STATUS(db.Allocate(1), kResourceExhausted);
  ASSERT_OK(RunSaxpy(da, 1 << 14));  // in what is left of a's share
  // The whole other device is still free for a whole-device lease.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> whole, LeaseAs(kTradingToken));
  EXPECT_EQ(whole->devices()[0].properties().total_memory, 256u << 20);
}

// Rotating a tenant's token revokes the old one: its clients lose their
// leases at their next renewal, with the reason, and the devices are freed.
// Revoking a tenant's credential takes its sessions at once, not at the
// lease's next renewal: the lease TTL here is the default 30 s.
TEST_F(TenantsTest, RotatingOrDeletingATenantEndsItsSessionsAtOnce) {
  ASSERT_OK_AND_ASSIGN(const std::string token,
                       CreateTenantWithPoolctl(poold_->address(), "ops", {}, kOperatorToken));
  auto ended_with = [](const client::Lease& lease, const std::string& why) {
    return Eventually(
        [&] {
          absl::StatusOr<hal::Buffer> b = lease.devices()[0].Allocate(64);
          return b.status().code() == absl::StatusCode::kUnauthenticated &&
                 absl::StrContains(b.status().message(), why);
        },
        3);
  };
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, LeaseAs(token));
  ASSERT_OK(RunSaxpy(lease->devices()[0], 1 << 12));
  auto [code, rotated] = Poolctl({"tenant", "update", "ops", "--rotate-token"});
  ASSERT_EQ(code, 0) << rotated;
  EXPECT_TRUE(ended_with(*lease, "was rotated"));
  EXPECT_STATUS(LeaseAs(token), kUnauthenticated);
  lease.reset();

  // The new token leases; deleting the tenant ends that session too.
  const size_t shown = rotated.find("ACCEL_POOL_TOKEN): ");
  ASSERT_NE(shown, std::string::npos) << rotated;
  const std::string new_token = rotated.substr(shown + 19, 64);
  ASSERT_OK_AND_ASSIGN(lease, LeaseAs(new_token));
  auto [deleted_code, deleted] = Poolctl({"tenant", "delete", "ops"});
  ASSERT_EQ(deleted_code, 0) << deleted;
  EXPECT_TRUE(ended_with(*lease, "was deleted"));
}

TEST_F(TenantsTest, AFullPoolQueuesByPriorityAndExplainsWhy) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> first, LeaseAs(kTradingToken));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> second, LeaseAs(kTradingToken));
  LeaseRequest patient;
  patient.wait_seconds = 1;
  EXPECT_STATUS(LeaseAs(kRiskToken, patient), kDeadlineExceeded);  // the client-side timeout

  patient.wait_seconds = 30;
  auto waiting = std::async(std::launch::async, [&] { return LeaseAs(kRiskToken, patient); });
  std::string queued_id;
  ASSERT_TRUE(Eventually(
      [&] {
        auto [code, table] = Poolctl({"-o", "json", "leases"});
        if (!absl::StrContains(table, "\"queued\"")) return false;
        for (absl::string_view line : absl::StrSplit(table, '\n')) {
          if (absl::StrContains(line, "\"lease_id\"")) {
            std::vector<std::string> parts = absl::StrSplit(line, '"');
            if (parts.size() >= 4 && parts[3] != first->id() && parts[3] != second->id()) {
              queued_id = parts[3];
            }
          }
        }
        return !queued_id.empty();
      },
      10));
  auto [code, explained] = Poolctl({"lease", "explain", queued_id});
  EXPECT_EQ(code, 0) << explained;
  EXPECT_TRUE(absl::StrContains(explained, "queued at position 1")) << explained;
  EXPECT_TRUE(absl::StrContains(explained, "free of leases")) << explained;

  ASSERT_OK(first->Release());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> granted, waiting.get());
  EXPECT_EQ(granted->id(), queued_id);
  ASSERT_OK(RunSaxpy(granted->devices()[0], 1 << 12));
  auto [placed_code, placed] = Poolctl({"lease", "explain", queued_id});
  EXPECT_TRUE(absl::StrContains(placed, "binpack") && absl::StrContains(placed, "in the queue"))
      << placed;
}

}  // namespace
}  // namespace accel::testing
