// One poold started in process from options, as main, the benchmarks and
// these tests start it: a bad option is a clear error naming its flag and
// leaves nothing serving; a good start leases, and Shutdown() ends it all.
#include "pool/poold/poold.h"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "accel/client/lease.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/status_matchers.h"
#include "tests/poold/loopback_poold.h"

namespace accel::pool {
namespace {

using ::testing::HasSubstr;

PooldOptions Loopback() { return ::accel::testing::LoopbackPoold("inproc", 1); }

void ExpectRefused(PooldOptions options, absl::StatusCode code, const std::string& names) {
  absl::StatusOr<std::unique_ptr<Poold>> poold = Poold::Start(std::move(options));
  ASSERT_FALSE(poold.ok());
  EXPECT_EQ(poold.status().code(), code) << poold.status();
  EXPECT_THAT(poold.status().message(), HasSubstr(names));
}

TEST(PooldStartTest, ABadOptionIsAClearErrorNamingItsFlag) {
  // Each: what is wrong, and what the error must name. All are
  // INVALID_ARGUMENT, found before anything starts.
  const std::vector<std::pair<std::function<void(PooldOptions&)>, std::string>> bad = {
      {[](PooldOptions& o) { o.lease_ttl = 0; }, "--lease_ttl"},
      {[](PooldOptions& o) { o.placement = "random"; }, "--placement"},
      {[](PooldOptions& o) { o.bulk_port = 70000; }, "--bulk_port"},
      {[](PooldOptions& o) { o.max_sessions = 0; }, "--max_sessions"},
      {[](PooldOptions& o) { o.host_device_memory = "lots"; }, "lots"},
      {[](PooldOptions& o) { o.etcd_compaction_minutes = -1; }, "--etcd_compaction_minutes"},
      {[](PooldOptions& o) {
         o.listen = "0.0.0.0:0";
         o.coordinator = "127.0.0.1:1";
       },
       "--advertise_address"},
      {[](PooldOptions& o) {
         o.coordinator = "127.0.0.1:1";
         o.http_listen = "127.0.0.1:0";
       },
       "--http_listen"},
  };
  for (const auto& [spoil, names] : bad) {
    PooldOptions o = Loopback();
    spoil(o);
    ExpectRefused(o, absl::StatusCode::kInvalidArgument, names);
  }
}

TEST(PooldStartTest, AStartedPoolLeasesAndShutsDownCleanly) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Poold> poold, Poold::Start(Loopback()));
  EXPECT_EQ(poold->node_name(), "inproc");
  ASSERT_EQ(poold->devices().size(), 1u);
  EXPECT_TRUE(poold->admin_socket_path().empty());
  EXPECT_TRUE(poold->dashboard_url().empty());
  const std::string address = poold->address();
  {
    client::LeaseRequest request;
    request.holder = "poold test";
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<client::Lease> lease,
                         client::AcquireLease(address, request));
    ASSERT_EQ(lease->devices().size(), 1u);
    ASSERT_OK_AND_ASSIGN(hal::Buffer buffer, lease->devices()[0].Allocate(4096));
    EXPECT_OK(lease->devices()[0].Fill(buffer, "\x5a", 1));
    EXPECT_OK(lease->Release());
  }
  poold->Shutdown();
  poold->Shutdown();  // a second time does nothing
  client::LeaseRequest after;
  after.holder = "after shutdown";
  EXPECT_STATUS(client::AcquireLease(address, after), kUnavailable);
}

}  // namespace
}  // namespace accel::pool
