// The audit trail after a scripted day on a real pool: every event with the
// identity behind it, no secret anywhere, and a chain that poolctl audit
// verify checks and that any edit or dropped line breaks.
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "accel/client/lease.h"
#include "gtest/gtest.h"
#include "pool/common/sha256.h"
#include "tests/common/scoped_temp_dir.h"
#include "tests/common/status_matchers.h"
#include "tests/pool/pool_test_util.h"
#include "tests/pool/poold_process.h"
#include "tests/pool/saxpy_check.h"

namespace accel::testing {
namespace {

using client::AcquireLease;
using client::Lease;
using client::LeaseRequest;

constexpr char kRiskToken[] = "audit-risk-token-7d1c0e55aa93";
constexpr char kOperatorToken[] = "audit-operator-token-41e2b6f09c";
constexpr char kJoinToken[] = "audit-join-token-0b9e4471d2";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The lines of the log whose event is `event`.
std::vector<std::string> Events(const std::string& log, const std::string& event) {
  std::vector<std::string> found;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    if (absl::StrContains(line, absl::StrCat("\"event\":\"", event, "\""))) {
      found.emplace_back(line);
    }
  }
  return found;
}

bool AnyHas(const std::vector<std::string>& lines, const std::vector<std::string>& parts) {
  for (const std::string& line : lines) {
    bool all = true;
    for (const std::string& part : parts) all = all && absl::StrContains(line, part);
    if (all) return true;
  }
  return false;
}

TEST(AuditTest, AScriptedDayIsRecordedWithItsIdentitiesAndNoSecret) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string log_path = dir.Path("audit.jsonl");
  std::ofstream(dir.Path("tenants"))
      << "tenant risk token_sha256=" << absl::BytesToHexString(pool::Sha256(kRiskToken)) << "\n";
  std::ofstream(dir.Path("operator")) << kOperatorToken << "\n";
  std::ofstream(dir.Path("join")) << kJoinToken << "\n";
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<PooldProcess> pool,
      PooldProcess::Start({"--host_devices=1", "--host_device_memory=256MiB",
                           "--allow_host_kernels", "--tenants=" + dir.Path("tenants"),
                           "--operator_token_file=" + dir.Path("operator"),
                           "--join_token_file=" + dir.Path("join"), "--node_heartbeat_ms=300",
                           "--audit_log=" + log_path}));
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<PooldProcess> node,
      PooldProcess::Start({"--coordinator=" + pool->address(), "--node_name=b", "--host_devices=1",
                           "--host_device_memory=64MiB", "--allow_host_kernels",
                           "--join_token_file=" + dir.Path("join")}));
  LeaseRequest risk;
  risk.token = kRiskToken;
  risk.holder = "batch \"nightly\"\nrisk run";  // a holder string a client chose
  risk.labels = {};
  // A grant, used; a refusal; a failed login.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(pool->address(), risk));
  ASSERT_OK(RunSaxpy(lease->devices()[0], 4096));
  LeaseRequest too_many = risk;
  too_many.devices = 5;
  EXPECT_FALSE(AcquireLease(pool->address(), too_many).ok());
  LeaseRequest intruder;
  intruder.token = "not-a-token-of-this-pool";
  EXPECT_STATUS(AcquireLease(pool->address(), intruder), kUnauthenticated);
  // An operator on the admin socket revokes the lease; the operator token
  // rotates the tenant's.
  ASSERT_OK_AND_ASSIGN(
      auto revoked,
      RunProgram(ACCEL_TEST_POOLCTL, {"--pool", pool->address(), "lease", "revoke", lease->id()}));
  ASSERT_EQ(revoked.first, 0) << revoked.second;
  ASSERT_OK_AND_ASSIGN(
      auto rotated,
      RunProgram(ACCEL_TEST_POOLCTL, {"--pool", pool->address(), "--token", kOperatorToken,
                                      "tenant", "update", "risk", "--rotate-token"}));
  ASSERT_EQ(rotated.first, 0) << rotated.second;
  const size_t shown = rotated.second.find("ACCEL_POOL_TOKEN): ");
  ASSERT_NE(shown, std::string::npos) << rotated.second;
  const std::string new_token = rotated.second.substr(shown + 19, 64);
  // A node is lost.
  node->Kill();
  ASSERT_TRUE(Eventually([&] { return NodeState(pool->address(), "b") == "lost"; }, 10));

  const std::string log = ReadFile(log_path);
  EXPECT_TRUE(AnyHas(Events(log, "node_joined"), {"\"node\":\"b\"", "the join token"})) << log;
  EXPECT_TRUE(AnyHas(Events(log, "lease_granted"),
                     {"\"lease\":\"" + lease->id() + "\"", "\"by\":\"tenant risk\"",
                      "\"holder\":\"batch \\\"nightly\\\"\\u000arisk run\""}))
      << log;
  EXPECT_TRUE(AnyHas(Events(log, "lease_refused"), {"\"tenant\":\"risk\"", "\"devices\":\"5\""}))
      << log;
  EXPECT_TRUE(AnyHas(Events(log, "auth_failed"), {"ipv4:127.0.0.1"})) << log;
  EXPECT_TRUE(
      AnyHas(Events(log, "operator_action"),
             {"lease revoke", absl::StrCat("\"by\":\"admin socket uid ", geteuid()), lease->id()}))
      << log;
  EXPECT_TRUE(AnyHas(Events(log, "lease_ended"), {lease->id(), "\"reason\":\"revoked\""})) << log;
  EXPECT_TRUE(
      AnyHas(Events(log, "operator_action"),
             {"tenant rotate token", "\"by\":\"the operator token\"", "\"tenant\":\"risk\""}))
      << log;
  EXPECT_TRUE(AnyHas(Events(log, "node_lost"), {"\"node\":\"b\""})) << log;
  for (const std::string& secret :
       {std::string(kRiskToken), std::string(kOperatorToken), std::string(kJoinToken), new_token,
        std::string("not-a-token-of-this-pool")}) {
    EXPECT_FALSE(absl::StrContains(log, secret)) << "a secret in the audit log: " << secret;
  }

  // The chain is whole...
  ASSERT_OK_AND_ASSIGN(auto verified,
                       RunProgram(ACCEL_TEST_POOLCTL, {"audit", "verify", log_path}));
  EXPECT_EQ(verified.first, 0) << verified.second;
  EXPECT_TRUE(absl::StrContains(verified.second, "chain intact")) << verified.second;
  // ...and breaks, named, where one line is edited or dropped.
  std::vector<std::string> lines = absl::StrSplit(log, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 5u);
  auto write = [&](const std::string& path, const std::vector<std::string>& out) {
    std::ofstream file(path);
    for (const std::string& l : out) file << l << "\n";
  };
  std::vector<std::string> edited = lines;
  edited[2] = absl::StrReplaceAll(edited[2], {{"risk", "rusk"}, {"\"b\"", "\"c\""}});
  ASSERT_NE(edited[2], lines[2]);
  write(dir.Path("edited.jsonl"), edited);
  ASSERT_OK_AND_ASSIGN(
      auto caught, RunProgram(ACCEL_TEST_POOLCTL, {"audit", "verify", dir.Path("edited.jsonl")}));
  EXPECT_NE(caught.first, 0);
  EXPECT_TRUE(absl::StrContains(caught.second, "line 3 ")) << caught.second;
  std::vector<std::string> dropped = lines;
  dropped.erase(dropped.begin() + 1);
  write(dir.Path("dropped.jsonl"), dropped);
  ASSERT_OK_AND_ASSIGN(
      auto gap, RunProgram(ACCEL_TEST_POOLCTL, {"audit", "verify", dir.Path("dropped.jsonl")}));
  EXPECT_NE(gap.first, 0);
  EXPECT_TRUE(absl::StrContains(gap.second, "line 2 ")) << gap.second;
  // A poold will not extend a broken log.
  absl::StatusOr<std::unique_ptr<PooldProcess>> on_broken =
      PooldProcess::Start({"--host_devices=1", "--audit_log=" + dir.Path("edited.jsonl")});
  ASSERT_FALSE(on_broken.ok());
  EXPECT_TRUE(absl::StrContains(on_broken.status().message(), "is broken")) << on_broken.status();
}

}  // namespace
}  // namespace accel::testing
