// The coordinator in process: placement policies, gang leases, constraints,
// fractional devices, tenants and their quotas, and the wait queue. These
// are decisions, so they are tested here directly and fast; the pool tests
// prove the same paths through poold and gRPC.
#include "pool/coordinator/coordinator.h"
#include "pool/coordinator/node_tokens.h"

#include <future>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pool/coordinator/tenant_config.h"
#include "tests/common/status_is_matcher.h"

namespace accel::pool {
namespace {

using ::accel::testing::StatusIs;
using ::testing::HasSubstr;

constexpr uint64_t kGiB = 1ull << 30;

class NullListener : public LeaseListener {
 public:
  void OnLeaseEnded(const std::string&, const absl::Status&) override {}
  void OnNodeLost() override {}
};

v1::DeviceInfo Device(uint32_t index, uint64_t memory = 16 * kGiB, std::string vendor = "host") {
  v1::DeviceInfo d;
  d.set_backend("host");
  d.set_index(index);
  d.set_name(absl::StrCat("dev", index));
  d.set_vendor(std::move(vendor));
  d.set_arch("x86_64");
  d.set_total_memory(memory);
  return d;
}

std::vector<v1::DeviceInfo> Devices(uint32_t n, uint64_t memory = 16 * kGiB) {
  std::vector<v1::DeviceInfo> out;
  for (uint32_t i = 0; i < n; ++i) out.push_back(Device(i, memory));
  return out;
}

v1::LeaseRequest Request(uint32_t devices = 1) {
  v1::LeaseRequest r;
  r.set_device_count(devices);
  r.set_holder("test");
  return r;
}

v1::LeaseRequest Fraction(uint64_t memory, uint32_t weight = 0) {
  v1::LeaseRequest r = Request();
  r.set_memory(memory);
  r.set_compute_weight(weight);
  return r;
}

class CoordinatorTest : public ::testing::Test {
 protected:
  explicit CoordinatorTest(Coordinator::Options options = {}) : coordinator_(options) {}
  void AddNode(const std::string& name, std::vector<v1::DeviceInfo> devices,
               std::map<std::string, std::string> labels = {}) {
    coordinator_.AddNode(name, name + ":1", labels, std::move(devices), &listener_);
  }
  const Caller anonymous_{};
  NullListener listener_;
  Coordinator coordinator_;
};

// Whatever a client or node sends comes back in errors cut short and
// escaped: never 1 MB of it, never a raw terminal escape.
TEST(ClientTextTest, HugeOrHostileStringsAreNotEchoedWhole) {
  Coordinator::Options options;
  options.join_token = "t";
  Coordinator coordinator(options);
  v1::NodeHello hello;
  hello.set_name(std::string(1 << 20, 'n') + "\x1b[2J");
  hello.set_join_token("t");
  hello.set_address("a:1");
  absl::Status refused = coordinator.RegisterNode(hello, nullptr).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(refused.message().size(), 400u) << refused.message().size();
  v1::LeaseRequest request = Request();
  request.set_policy(std::string(1 << 20, 'p') + "\x1b");
  absl::Status policy = coordinator.Lease(request, Caller{}).status();
  EXPECT_EQ(policy.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(policy.message().size(), 400u);
  EXPECT_EQ(std::string(policy.message()).find('\x1b'), std::string::npos);
}

TEST(NodeTokensTest, TheFileNamesEachNodesTokenHashAndBadLinesAreNamed) {
  ASSERT_OK_AND_ASSIGN(auto tokens,
                       ParseNodeTokens("# nodes\nnode gpu-1 token_sha256=" + std::string(64, 'A') +
                                       "\n\nnode gpu-2 token_sha256=" + std::string(64, 'b')));
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens["gpu-1"], std::string(64, 'a'));
  EXPECT_THAT(ParseNodeTokens("node gpu-1 token_sha256=abc").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1")));
  EXPECT_THAT(ParseNodeTokens("node a token_sha256=" + std::string(64, '0') + "\nnode a " +
                              "token_sha256=" + std::string(64, '1'))
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("listed twice")));
  EXPECT_THAT(ParseNodeTokens("tenant x token_sha256=" + std::string(64, '0')).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected 'node NAME")));
}

TEST_F(CoordinatorTest, AnonymousCallersDoNotSeeEachOthersHolderStrings) {
  AddNode("a", Devices(1));
  v1::LeaseRequest request = Request();
  request.set_holder("alice@desk-17 quarterly-close");
  ASSERT_OK_AND_ASSIGN(auto lease, coordinator_.Lease(request, anonymous_));
  ASSERT_EQ(coordinator_.ListLeases(anonymous_).size(), 1u);
  EXPECT_EQ(coordinator_.ListLeases(anonymous_)[0].holder(), "");
  ASSERT_OK_AND_ASSIGN(auto explained,
                       coordinator_.ExplainLease(lease.lease().lease_id(), anonymous_));
  EXPECT_EQ(explained.holder(), "");
  const Caller op{"", true, "a test operator"};
  EXPECT_EQ(coordinator_.ListLeases(op)[0].holder(), "alice@desk-17 quarterly-close");
}

TEST_F(CoordinatorTest, BinpackFillsTheFullestNodeThatFitsSpreadTheEmptiest) {
  AddNode("a", Devices(4));
  AddNode("b", Devices(2));
  ASSERT_OK_AND_ASSIGN(auto first, coordinator_.Lease(Request(), anonymous_));
  EXPECT_EQ(first.lease().node(), "b");  // 2 free is fewer than 4
  EXPECT_EQ(first.lease().policy(), "binpack");
  EXPECT_THAT(first.lease().reason(), HasSubstr("node b had 2 of 2 device(s) free, the fewest"));
  ASSERT_OK_AND_ASSIGN(auto second, coordinator_.Lease(Request(), anonymous_));
  EXPECT_EQ(second.lease().node(), "b");
  // Two devices fit only on a now.
  ASSERT_OK_AND_ASSIGN(auto pair, coordinator_.Lease(Request(2), anonymous_));
  EXPECT_EQ(pair.lease().node(), "a");

  v1::LeaseRequest spread = Request();
  spread.set_policy("spread");
  ASSERT_OK_AND_ASSIGN(auto third, coordinator_.Lease(spread, anonymous_));
  EXPECT_EQ(third.lease().node(), "a");
  EXPECT_THAT(third.lease().reason(), HasSubstr("spread: node a had 2 of 4 device(s) free"));
}

TEST(CoordinatorPolicyTest, ThePoolsDefaultPolicyAppliesToRequestsThatNameNone) {
  Coordinator::Options options;
  options.default_policy = "spread";
  Coordinator coordinator(options);
  NullListener listener;
  coordinator.AddNode("a", "a:1", {}, Devices(4), &listener);
  coordinator.AddNode("b", "b:1", {}, Devices(4), &listener);
  ASSERT_OK_AND_ASSIGN(auto first, coordinator.Lease(Request(), Caller{}));
  ASSERT_OK_AND_ASSIGN(auto second, coordinator.Lease(Request(), Caller{}));
  EXPECT_NE(first.lease().node(), second.lease().node());
  EXPECT_EQ(second.lease().policy(), "spread");
}

TEST_F(CoordinatorTest, GangLeasesAreAllOrNothingOnOneNode) {
  AddNode("a", Devices(2));
  AddNode("b", Devices(2));
  // Four devices exist, but no node has three: never.
  EXPECT_THAT(coordinator_.Lease(Request(3), anonymous_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("at most 2 on one node")));
  ASSERT_OK_AND_ASSIGN(auto one, coordinator_.Lease(Request(), anonymous_));
  ASSERT_OK_AND_ASSIGN(auto gang, coordinator_.Lease(Request(2), anonymous_));
  EXPECT_EQ(gang.lease().devices_size(), 2);
  EXPECT_NE(gang.lease().node(), one.lease().node());
  // Three devices are in use and one is free: a pair gets nothing at all.
  EXPECT_THAT(coordinator_.Lease(Request(2), anonymous_),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(coordinator_.ListLeases(anonymous_).size(), 2u);
}

// A state store that keeps nothing while `broken`.
class BreakableStore final : public StateStore {
 public:
  bool broken = false;
  absl::StatusOr<PoolState> Load() override { return PoolState(); }
  absl::Status PutTenant(const Tenant&) override { return Result(); }
  absl::Status DeleteTenant(const std::string&) override { return Result(); }
  absl::Status SetDrained(const std::string&, bool) override { return Result(); }
  absl::Status PutLease(const StoredLease&) override { return Result(); }
  absl::Status DeleteLease(const std::string&) override { return Result(); }

 private:
  absl::Status Result() const {
    return broken ? absl::UnavailableError("the disk is gone") : absl::OkStatus();
  }
};

TEST(CoordinatorStoreTest, ALeaseTheStoreDoesNotKeepIsNotGrantedAndHoldsNothing) {
  BreakableStore store;
  Coordinator::Options options;
  options.store = &store;
  Coordinator coordinator(options);
  NullListener listener;
  coordinator.AddNode("a", "a:1", {}, Devices(1), &listener);
  store.broken = true;
  EXPECT_THAT(
      coordinator.Lease(Request(), Caller{}),
      StatusIs(absl::StatusCode::kUnavailable,
               HasSubstr("did not keep the lease, so it is not granted: the disk is gone")));
  EXPECT_TRUE(coordinator.ListLeases(Caller{"", true, "test"}).empty());
  // The device was never taken: once the store keeps writes, it is leased.
  store.broken = false;
  ASSERT_OK_AND_ASSIGN(auto lease, coordinator.Lease(Request(), Caller{}));
  EXPECT_EQ(lease.lease().devices(0).device().id(), "a/host:0");
}

// A state store whose tenant and drain writes wait while held, as a call
// to an etcd without quorum does until it times out; lease writes pass.
class StallingStore final : public StateStore {
 public:
  void Hold() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  // Lets the waiting writes go, failing them with `result`.
  void Release(absl::Status result) {
    absl::MutexLock lock(&mu_);
    held_ = false;
    result_ = std::move(result);
  }
  // Whether a write is waiting, within five seconds.
  bool Stalled() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(
                                    +[](int* n) { return *n > 0; }, &waiting_),
                                absl::Seconds(5));
  }
  absl::StatusOr<PoolState> Load() override { return PoolState(); }
  absl::Status PutTenant(const Tenant&) override { return Stall(); }
  absl::Status DeleteTenant(const std::string&) override { return Stall(); }
  absl::Status SetDrained(const std::string&, bool) override { return Stall(); }
  absl::Status PutLease(const StoredLease&) override { return absl::OkStatus(); }
  absl::Status DeleteLease(const std::string&) override { return absl::OkStatus(); }

 private:
  absl::Status Stall() {
    absl::MutexLock lock(&mu_);
    ++waiting_;
    mu_.Await(absl::Condition(
        +[](bool* held) { return !*held; }, &held_));
    --waiting_;
    return result_;
  }
  absl::Mutex mu_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status result_ ABSL_GUARDED_BY(mu_);
};

// Runs `call` on a thread of its own while `store` holds a write; whether
// it returned within five seconds. If not, the store lets go, so that the
// test fails rather than hangs.
template <typename Call>
bool ReturnsWhileHeld(StallingStore& store, Call call) {
  auto done = std::async(std::launch::async, std::move(call));
  if (done.wait_for(std::chrono::seconds(5)) == std::future_status::ready) return true;
  store.Release(absl::AbortedError("the test gave up waiting"));
  return false;
}

TEST(CoordinatorStoreTest, AnOperatorCallTheStoreHoldsUpStallsNoGrant) {
  StallingStore store;
  Coordinator::Options options;
  options.store = &store;
  Coordinator coordinator(options);
  NullListener listener;
  coordinator.AddNode("a", "a:1", {}, Devices(2), &listener);
  const Caller op{"", true, "a test operator"};
  v1::PutTenantRequest put;
  put.set_create(true);
  put.mutable_tenant()->set_name("risk");
  ASSERT_OK_AND_ASSIGN(auto risk, coordinator.PutTenant(put));
  ASSERT_OK_AND_ASSIGN(const Caller risk_caller, coordinator.Authenticate(risk.token(), false));
  ASSERT_OK_AND_ASSIGN(auto before, coordinator.Lease(Request(), risk_caller));

  // A rotation whose write waits: grants, listings and renewals go on, and
  // the old token still leases until the rotation is kept.
  store.Hold();
  put.set_create(false);
  put.set_rotate_token(true);
  auto rotation = std::async(std::launch::async, [&] { return coordinator.PutTenant(put); });
  ASSERT_TRUE(store.Stalled());
  absl::StatusOr<v1::LeaseResponse> during;
  EXPECT_TRUE(ReturnsWhileHeld(store, [&] { during = coordinator.Lease(Request(), risk_caller); }));
  ASSERT_OK(during.status());
  EXPECT_TRUE(ReturnsWhileHeld(store, [&] { return coordinator.ListLeases(op); }));
  EXPECT_TRUE(ReturnsWhileHeld(store, [&] {
    return coordinator.Renew(before.lease().lease_id(), before.token(), risk_caller);
  }));
  store.Release(absl::OkStatus());
  ASSERT_OK_AND_ASSIGN(auto rotated, rotation.get());
  // Kept, so applied: both leases of the old token end, the one granted
  // while the write waited too.
  EXPECT_THAT(coordinator.Authenticate(risk.token(), false),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_TRUE(coordinator.ListLeases(op).empty());
  ASSERT_OK_AND_ASSIGN(const Caller rotated_caller,
                       coordinator.Authenticate(rotated.token(), false));

  // A drain and a deletion the store fails change nothing, and grants went
  // on while they waited.
  store.Hold();
  auto drain = std::async(std::launch::async, [&] { return coordinator.Drain("a", false); });
  ASSERT_TRUE(store.Stalled());
  EXPECT_TRUE(
      ReturnsWhileHeld(store, [&] { during = coordinator.Lease(Request(), rotated_caller); }));
  ASSERT_OK(during.status());
  store.Release(absl::UnavailableError("etcd has no quorum"));
  EXPECT_THAT(drain.get(), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("etcd")));
  EXPECT_OK(coordinator.Lease(Request(), rotated_caller).status());  // not draining
  store.Hold();
  auto deletion = std::async(std::launch::async, [&] { return coordinator.DeleteTenant("risk"); });
  ASSERT_TRUE(store.Stalled());
  EXPECT_TRUE(ReturnsWhileHeld(store, [&] { return coordinator.ListTenants(op); }));
  store.Release(absl::UnavailableError("etcd has no quorum"));
  EXPECT_THAT(deletion.get(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_OK(coordinator.Authenticate(rotated.token(), false).status());
  EXPECT_EQ(coordinator.ListLeases(op).size(), 2u);
}

// Counts what a node hears of its leases.
class CountingListener : public LeaseListener {
 public:
  void OnLeaseEnded(const std::string& lease_id, const absl::Status&) override {
    ended.push_back(lease_id);
  }
  std::vector<std::string> ended;
};

TEST(CoordinatorGangTest, AGangAcrossNodesIsPackedOrSpreadAndEndsEverywhere) {
  Coordinator coordinator({});
  CountingListener a, b, c;
  coordinator.AddNode("a", "a:1", {}, Devices(2), &a);
  coordinator.AddNode("b", "b:1", {}, Devices(2), &b);
  coordinator.AddNode("c", "c:1", {}, Devices(2), &c);
  v1::LeaseRequest gang = Request(2);
  gang.set_across_nodes(true);
  // binpack keeps a gang on one node while one has room.
  ASSERT_OK_AND_ASSIGN(auto packed, coordinator.Lease(gang, Caller{}));
  EXPECT_EQ(packed.lease().devices(0).device().node(), packed.lease().devices(1).device().node());
  // spread puts each device on another node, emptiest first.
  gang.set_policy("spread");
  ASSERT_OK_AND_ASSIGN(auto spread, coordinator.Lease(gang, Caller{}));
  EXPECT_NE(spread.lease().devices(0).device().node(), spread.lease().devices(1).device().node());
  EXPECT_EQ(spread.lease().devices(0).node_address(),
            spread.lease().devices(0).device().node() + ":1");
  EXPECT_THAT(spread.lease().reason(), HasSubstr("across 2 node(s)"));
  // Two devices are left, one on each of two nodes: only a gang across
  // nodes gets them, binpack or not.
  v1::LeaseRequest one_node = Request(2);
  EXPECT_THAT(coordinator.Lease(one_node, Caller{}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  gang.set_policy("binpack");
  ASSERT_OK_AND_ASSIGN(auto split, coordinator.Lease(gang, Caller{}));
  EXPECT_NE(split.lease().devices(0).device().node(), split.lease().devices(1).device().node());
  // Ending it tells both of its nodes.
  ASSERT_OK(coordinator.AdminRelease(split.lease().lease_id()));
  const size_t told = std::count(a.ended.begin(), a.ended.end(), split.lease().lease_id()) +
                      std::count(b.ended.begin(), b.ended.end(), split.lease().lease_id()) +
                      std::count(c.ended.begin(), c.ended.end(), split.lease().lease_id());
  EXPECT_EQ(told, 2u);
  // One of a gang's sessions closing leaves the lease to the others; the
  // last one closing ends it.
  ASSERT_OK_AND_ASSIGN(auto again, coordinator.Lease(gang, Caller{}));
  const std::string first = again.lease().devices(0).device().node();
  const std::string second = again.lease().devices(1).device().node();
  ASSERT_NE(first, second);
  coordinator.ReportSession(first, again.lease().lease_id(), true);
  coordinator.ReportSession(second, again.lease().lease_id(), true);
  coordinator.ReportSession(first, again.lease().lease_id(), false);
  EXPECT_OK(coordinator.ExplainLease(again.lease().lease_id(), Caller{}).status());
  coordinator.ReportSession(second, again.lease().lease_id(), false);
  EXPECT_THAT(coordinator.ExplainLease(again.lease().lease_id(), Caller{}).status(),
              StatusIs(absl::StatusCode::kNotFound));
  // Seven devices are more than the pool has even across nodes: never.
  gang.set_device_count(7);
  EXPECT_THAT(coordinator.Lease(gang, Caller{}), StatusIs(absl::StatusCode::kNotFound));
  // A fractional lease's devices share one node.
  v1::LeaseRequest fraction = Fraction(kGiB);
  fraction.set_across_nodes(true);
  EXPECT_THAT(coordinator.Lease(fraction, Caller{}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("whole devices")));
}

TEST_F(CoordinatorTest, ConstraintsChooseTheDevices) {
  std::vector<v1::DeviceInfo> mixed = {Device(0, 16 * kGiB, "nvidia"),
                                       Device(1, 64 * kGiB, "hygon")};
  (*mixed[1].mutable_labels())["model"] = "k100";
  AddNode("a", mixed);
  v1::LeaseRequest big = Request();
  big.set_min_free_memory(32 * kGiB);
  ASSERT_OK_AND_ASSIGN(auto lease, coordinator_.Lease(big, anonymous_));
  EXPECT_EQ(lease.lease().devices(0).device().vendor(), "hygon");
  EXPECT_EQ(lease.lease().devices(0).memory_quota(), 64 * kGiB);
  v1::LeaseRequest labelled = Request();
  (*labelled.mutable_labels())["model"] = "k100";
  EXPECT_THAT(coordinator_.Lease(labelled, anonymous_),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("free of leases")));
  v1::LeaseRequest vendor = Request();
  vendor.set_vendor("nvidia");
  ASSERT_OK_AND_ASSIGN(auto nvidia, coordinator_.Lease(vendor, anonymous_));
  EXPECT_EQ(nvidia.lease().devices(0).device().index(), 0u);
  v1::LeaseRequest arch = Request();
  arch.set_arch("gfx942");
  EXPECT_THAT(coordinator_.Lease(arch, anonymous_), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CoordinatorTest, FractionalLeasesShareADeviceUpToItsMemory) {
  AddNode("a", Devices(2));
  std::vector<v1::LeaseResponse> quarters;
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK_AND_ASSIGN(auto lease, coordinator_.Lease(Fraction(4 * kGiB, i + 1), anonymous_));
    quarters.push_back(lease);
  }
  // binpack put all four on one device, exactly filling it.
  for (const auto& q : quarters) {
    EXPECT_EQ(q.lease().devices(0).device().id(), quarters[0].lease().devices(0).device().id());
    EXPECT_EQ(q.lease().devices(0).memory_quota(), 4 * kGiB);
    EXPECT_TRUE(q.lease().devices(0).shared());
  }
  EXPECT_EQ(quarters[2].lease().devices(0).compute_weight(), 3u);
  EXPECT_THAT(quarters[1].lease().reason(), HasSubstr("had 12 GiB of 16 GiB unleased, the least"));
  // The other device is still whole: a whole-device lease takes it, and
  // then nothing has room for another quarter.
  ASSERT_OK_AND_ASSIGN(auto whole, coordinator_.Lease(Request(), anonymous_));
  EXPECT_NE(whole.lease().devices(0).device().id(), quarters[0].lease().devices(0).device().id());
  EXPECT_FALSE(whole.lease().devices(0).shared());
  EXPECT_THAT(coordinator_.Lease(Fraction(1 * kGiB), anonymous_),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("1 GiB unleased")));
  std::vector<v1::DeviceInfo> listed = coordinator_.ListDevices();
  uint32_t leases = 0;
  uint64_t leased = 0;
  for (const v1::DeviceInfo& d : listed) {
    leases += d.leases();
    leased += d.leased_memory();
  }
  EXPECT_EQ(leases, 5u);
  EXPECT_EQ(leased, 32 * kGiB);
  // A released quarter makes room for another.
  ASSERT_OK(coordinator_.Release(quarters[0].lease().lease_id(), quarters[0].token(), anonymous_));
  EXPECT_OK(coordinator_.Lease(Fraction(4 * kGiB), anonymous_).status());
  // More than a device has can never fit.
  EXPECT_THAT(coordinator_.Lease(Fraction(17 * kGiB), anonymous_),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CoordinatorTest, SpreadPutsFractionsOnTheEmptiestDevices) {
  AddNode("a", Devices(2));
  v1::LeaseRequest r = Fraction(4 * kGiB);
  r.set_policy("spread");
  ASSERT_OK_AND_ASSIGN(auto first, coordinator_.Lease(r, anonymous_));
  ASSERT_OK_AND_ASSIGN(auto second, coordinator_.Lease(r, anonymous_));
  EXPECT_NE(first.lease().devices(0).device().id(), second.lease().devices(0).device().id());
  // A whole-device request finds no device free of leases.
  EXPECT_THAT(coordinator_.Lease(Request(), anonymous_),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST_F(CoordinatorTest, BadRequestsAreRefusedClearly) {
  AddNode("a", Devices(1));
  v1::LeaseRequest r = Request();
  r.set_policy("random");
  EXPECT_THAT(coordinator_.Lease(r, anonymous_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("binpack or spread")));
  r = Request();
  r.set_compute_weight(3);
  EXPECT_THAT(coordinator_.Lease(r, anonymous_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fractional")));
  r = Request();
  r.set_wait_seconds(100000);
  EXPECT_THAT(coordinator_.Lease(r, anonymous_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("wait_seconds")));
}

// --- tenants ---------------------------------------------------------------

class TenantTest : public CoordinatorTest {
 protected:
  void SetUp() override {
    AddNode("a", Devices(4));
    v1::PutTenantRequest put;
    put.set_create(true);
    put.mutable_tenant()->set_name("risk");
    put.mutable_tenant()->set_max_leases(2);
    put.mutable_tenant()->set_max_devices(3);
    put.mutable_tenant()->set_max_memory(40 * kGiB);
    ASSERT_OK_AND_ASSIGN(auto risk, coordinator_.PutTenant(put));
    risk_token_ = risk.token();
    // trading has no quotas, and a higher priority.
    put.mutable_tenant()->Clear();
    put.mutable_tenant()->set_name("trading");
    put.mutable_tenant()->set_priority(10);
    ASSERT_OK_AND_ASSIGN(auto trading, coordinator_.PutTenant(put));
    trading_token_ = trading.token();
    ASSERT_OK_AND_ASSIGN(risk_, coordinator_.Authenticate(risk_token_, false));
    ASSERT_OK_AND_ASSIGN(trading_, coordinator_.Authenticate(trading_token_, false));
  }
  std::string risk_token_, trading_token_;
  Caller risk_, trading_;
};

TEST_F(TenantTest, TokensNameTenantsAndNothingElseGetsIn) {
  EXPECT_EQ(risk_.tenant, "risk");
  EXPECT_FALSE(risk_.is_operator);
  EXPECT_EQ(risk_token_.size(), 64u);
  EXPECT_THAT(coordinator_.Authenticate("not-a-token", true),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // No token: an operator through the admin socket, nobody over TCP.
  ASSERT_OK_AND_ASSIGN(Caller local, coordinator_.Authenticate("", true));
  EXPECT_TRUE(local.is_operator);
  EXPECT_THAT(coordinator_.Authenticate("", false),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("tenant's token")));
  // An operator does not lease: leases belong to tenants.
  EXPECT_THAT(coordinator_.Lease(Request(), local), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(TenantTest, QuotasAreEnforcedAndNamed) {
  ASSERT_OK_AND_ASSIGN(auto two, coordinator_.Lease(Request(2), risk_));  // 32 GiB
  EXPECT_EQ(two.lease().tenant(), "risk");
  EXPECT_THAT(coordinator_.Lease(Request(2), risk_),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("device quota: 2 more would make 4 of its quota of 3")));
  EXPECT_THAT(
      coordinator_.Lease(Request(1), risk_),
      StatusIs(absl::StatusCode::kResourceExhausted,
               HasSubstr("memory quota: 16 GiB more would make 48 GiB of its quota of 40 GiB")));
  ASSERT_OK_AND_ASSIGN(auto small, coordinator_.Lease(Fraction(8 * kGiB), risk_));
  EXPECT_THAT(
      coordinator_.Lease(Fraction(1 * kGiB), risk_),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("quota of 2 concurrent lease(s)")));
  // Another tenant is not bound by risk's use.
  EXPECT_OK(coordinator_.Lease(Request(1), trading_).status());
  std::vector<v1::TenantInfo> tenants =
      coordinator_.ListTenants(Caller{"", true, "a test operator"});
  ASSERT_EQ(tenants.size(), 2u);
  EXPECT_EQ(tenants[0].name(), "risk");
  EXPECT_EQ(tenants[0].leases(), 2u);
  EXPECT_EQ(tenants[0].devices(), 3u);
  EXPECT_EQ(tenants[0].memory(), 40 * kGiB);
  // Releasing gives the quota back.
  ASSERT_OK(coordinator_.Release(small.lease().lease_id(), small.token(), risk_));
  EXPECT_OK(coordinator_.Lease(Fraction(8 * kGiB), risk_).status());
}

TEST_F(TenantTest, ATenantCannotSeeRenewOrReleaseAnothersLeases) {
  ASSERT_OK_AND_ASSIGN(auto mine, coordinator_.Lease(Request(), risk_));
  ASSERT_OK_AND_ASSIGN(auto theirs, coordinator_.Lease(Request(), trading_));
  const std::string id = mine.lease().lease_id();
  // Even with the lease's own token, the wrong tenant finds nothing.
  EXPECT_THAT(coordinator_.Release(id, mine.token(), trading_),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(coordinator_.Renew(id, mine.token(), trading_).status(),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(coordinator_.ExplainLease(id, trading_).status(),
              StatusIs(absl::StatusCode::kNotFound));
  std::vector<v1::LeaseInfo> seen = coordinator_.ListLeases(trading_);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].lease_id(), theirs.lease().lease_id());
  EXPECT_EQ(coordinator_.ListTenants(trading_).size(), 1u);  // itself only
  EXPECT_EQ(coordinator_.ListLeases(Caller{"", true, "a test operator"}).size(), 2u);
  EXPECT_OK(coordinator_.Renew(id, mine.token(), risk_).status());
  EXPECT_OK(coordinator_.Release(id, mine.token(), risk_));
}

TEST_F(TenantTest, RotatingOrDeletingATenantEndsItsLeasesAtOnce) {
  ASSERT_OK_AND_ASSIGN(auto lease, coordinator_.Lease(Request(), risk_));
  v1::PutTenantRequest put;
  put.mutable_tenant()->set_name("risk");
  put.set_create(true);
  EXPECT_THAT(coordinator_.PutTenant(put).status(), StatusIs(absl::StatusCode::kAlreadyExists));
  put.set_create(false);
  put.set_rotate_token(true);
  ASSERT_OK_AND_ASSIGN(auto rotated, coordinator_.PutTenant(put));
  EXPECT_NE(rotated.token(), risk_token_);
  EXPECT_THAT(coordinator_.Authenticate(risk_token_, false),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // The lease taken with the old token is over, and its holder hears why
  // (its session ends with UNAUTHENTICATED; a renewal finds it gone).
  EXPECT_THAT(coordinator_.Renew(lease.lease().lease_id(), lease.token(), risk_).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("was rotated")));
  EXPECT_TRUE(coordinator_.ListLeases(Caller{"", true, "a test operator"}).empty());
  // Deleting a tenant that leases ends its leases the same way.
  ASSERT_OK_AND_ASSIGN(auto again, coordinator_.Lease(Request(), risk_));
  EXPECT_OK(coordinator_.DeleteTenant("risk"));
  EXPECT_THAT(coordinator_.Renew(again.lease().lease_id(), again.token(), risk_).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("was deleted")));
  EXPECT_TRUE(coordinator_.ListLeases(Caller{"", true, "a test operator"}).empty());
  put.mutable_tenant()->set_name("bad name");
  EXPECT_THAT(coordinator_.PutTenant(put).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TenantConfigTest, ParsesTenantsAndNamesBadLines) {
  const std::string hash(64, 'a');
  ASSERT_OK_AND_ASSIGN(
      auto tenants,
      ParseTenantConfig("# comment\n\ntenant risk priority=5 devices=4 memory=64GiB leases=8 "
                        "token_sha256=" +
                        hash + "\ntenant ops token_sha256=" + std::string(64, 'b') + "\n"));
  ASSERT_EQ(tenants.size(), 2u);
  EXPECT_EQ(tenants[0].priority, 5);
  EXPECT_EQ(tenants[0].max_memory, 64 * kGiB);
  EXPECT_EQ(tenants[0].max_leases, 8u);
  EXPECT_EQ(tenants[1].max_devices, 0u);
  ASSERT_OK_AND_ASSIGN(
      auto isolated,
      ParseTenantConfig("tenant vault isolation=device max_kernel_seconds=2.5 token_sha256=" +
                        hash));
  EXPECT_TRUE(isolated[0].device_isolation);
  EXPECT_EQ(isolated[0].max_kernel_ms, 2500u);
  EXPECT_THAT(ParseTenantConfig("tenant vault isolation=none token_sha256=" + hash).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'device' or 'shared'")));
  EXPECT_THAT(ParseTenantConfig("tenant risk colour=red token_sha256=" + hash).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1: unknown key")));
  EXPECT_THAT(ParseTenantConfig("tenant risk devices=4").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("token_sha256")));
  EXPECT_THAT(ParseTenantConfig("tenant risk token_sha256=abc").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("64 hex digits")));
  EXPECT_THAT(
      ParseTenantConfig("tenant a token_sha256=" + hash +
                        "\ntenant a token_sha256=" + std::string(64, 'c'))
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2: tenant defined twice")));
  EXPECT_THAT(ParseTenantConfig("tenant a leases=many token_sha256=" + hash).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a number")));
  // Out of range (the fuzzer found -5: its conversion was undefined).
  for (const char* bad : {"-5", "nan", "86401", "1e300"}) {
    EXPECT_THAT(
        ParseTenantConfig(absl::StrCat("tenant a max_kernel_seconds=", bad, " token_sha256=", hash))
            .status(),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a number")))
        << bad;
  }
}

// A request past the starvation limit keeps only the devices it could use:
// others still go to whoever fits.
TEST(CoordinatorStarvationTest, AStarvingRequestKeepsOnlyDevicesItCouldUse) {
  Coordinator::Options options;
  options.starvation_after = std::chrono::milliseconds(0);
  Coordinator coordinator(options);
  NullListener listener;
  std::vector<v1::DeviceInfo> devices = {
      Device(0, 16 * kGiB, "hygon"), Device(1, 16 * kGiB, "hygon"), Device(2, 16 * kGiB, "nvidia")};
  coordinator.AddNode("a", "a:1", {}, devices, &listener);
  v1::LeaseRequest hygon = Request();
  hygon.set_vendor("hygon");
  ASSERT_OK_AND_ASSIGN(auto held, coordinator.Lease(hygon, Caller{}));
  v1::LeaseRequest both = Request(2);
  both.set_vendor("hygon");
  both.set_wait_seconds(20);
  auto starving = std::async(std::launch::async, [&] { return coordinator.Lease(both, Caller{}); });
  for (int i = 0; i < 200 && coordinator.counts().queued_leases != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // The free hygon device is kept for the starving pair; the nvidia one is
  // not, so an unconstrained request gets it.
  ASSERT_OK_AND_ASSIGN(auto other, coordinator.Lease(Request(), Caller{}));
  EXPECT_EQ(other.lease().devices(0).device().vendor(), "nvidia");
  EXPECT_THAT(coordinator.Lease(hygon, Caller{}),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("are kept for it")));
  ASSERT_OK(coordinator.AdminRelease(held.lease().lease_id()));
  ASSERT_OK_AND_ASSIGN(auto pair, starving.get());
  EXPECT_EQ(pair.lease().devices_size(), 2);
}

// A starving request that gives up hands what it kept to those behind it at
// once, not at the next release.
TEST(CoordinatorStarvationTest, WhatAStarvingRequestKeptGoesOnWhenItGivesUp) {
  Coordinator::Options options;
  options.starvation_after = std::chrono::milliseconds(0);
  Coordinator coordinator(options);
  NullListener listener;
  coordinator.AddNode("a", "a:1", {}, Devices(2), &listener);
  ASSERT_OK_AND_ASSIGN(auto held, coordinator.Lease(Request(), Caller{}));
  v1::LeaseRequest pair = Request(2);
  pair.set_wait_seconds(1);
  auto starving = std::async(std::launch::async, [&] { return coordinator.Lease(pair, Caller{}); });
  for (int i = 0; i < 200 && coordinator.counts().queued_leases != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  v1::LeaseRequest one = Request();
  one.set_wait_seconds(20);
  auto behind = std::async(std::launch::async, [&] { return coordinator.Lease(one, Caller{}); });
  EXPECT_THAT(starving.get().status(), StatusIs(absl::StatusCode::kDeadlineExceeded));
  // Nothing else happened in the pool, yet the free device is granted.
  ASSERT_EQ(behind.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_OK(behind.get().status());
}

// --- the wait queue --------------------------------------------------------

class QueueTest : public TenantTest {
 protected:
  // Leases every device of node a, as risk.
  std::vector<v1::LeaseResponse> FillPool() {
    std::vector<v1::LeaseResponse> held;
    for (int i = 0; i < 2; ++i) {
      auto lease = coordinator_.Lease(Request(), i == 0 ? risk_ : trading_);
      EXPECT_OK(lease.status());
      if (lease.ok()) held.push_back(*lease);
    }
    // Two more for trading, so all four are held.
    for (int i = 0; i < 2; ++i) {
      auto lease = coordinator_.Lease(Request(), trading_);
      EXPECT_OK(lease.status());
      if (lease.ok()) held.push_back(*lease);
    }
    return held;
  }
  std::future<absl::StatusOr<v1::LeaseResponse>> Wait(const Caller& caller, uint32_t seconds,
                                                      uint32_t devices = 1) {
    v1::LeaseRequest r = Request(devices);
    r.set_wait_seconds(seconds);
    return std::async(std::launch::async,
                      [this, r, caller] { return coordinator_.Lease(r, caller); });
  }
  // Waits (bounded) until `n` requests are queued.
  bool Queued(size_t n) {
    for (int i = 0; i < 200; ++i) {
      if (coordinator_.counts().queued_leases == n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  void Release(const v1::LeaseResponse& lease) {
    ASSERT_OK(coordinator_.AdminRelease(lease.lease().lease_id()));
  }
};

TEST_F(QueueTest, AFullPoolRefusesAtOnceOrQueuesUntilRoomFrees) {
  std::vector<v1::LeaseResponse> held = FillPool();
  EXPECT_THAT(coordinator_.Lease(Request(), risk_),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("free of leases")));
  auto waiting = Wait(risk_, 20);
  ASSERT_TRUE(Queued(1));
  std::vector<v1::LeaseInfo> listed = coordinator_.ListLeases(risk_);
  auto queued = std::find_if(listed.begin(), listed.end(),
                             [](const v1::LeaseInfo& l) { return l.state() == "queued"; });
  ASSERT_NE(queued, listed.end());
  EXPECT_THAT(queued->reason(), HasSubstr("queued at position 1"));
  ASSERT_OK_AND_ASSIGN(v1::LeaseInfo explained,
                       coordinator_.ExplainLease(queued->lease_id(), risk_));
  EXPECT_THAT(explained.reason(), HasSubstr("free of leases"));
  EXPECT_EQ(coordinator_.ListTenants(risk_)[0].queued(), 1u);
  Release(held[3]);
  ASSERT_OK_AND_ASSIGN(auto granted, waiting.get());
  // Its id is the one it waited under, and the reason says it waited.
  EXPECT_EQ(granted.lease().lease_id(), queued->lease_id());
  EXPECT_THAT(granted.lease().reason(), HasSubstr("in the queue"));
  EXPECT_EQ(coordinator_.counts().queued_leases, 0u);
}

TEST_F(QueueTest, HigherPriorityIsServedFirstThenAge) {
  std::vector<v1::LeaseResponse> held = FillPool();
  ASSERT_OK(coordinator_.AdminRelease(held[0].lease().lease_id()));  // risk: room in its quota
  ASSERT_OK(coordinator_.Lease(Request(), trading_).status());       // and the pool full again
  auto risk_first = Wait(risk_, 20);
  ASSERT_TRUE(Queued(1));
  auto risk_second = Wait(risk_, 20);
  ASSERT_TRUE(Queued(2));
  auto trading = Wait(trading_, 20);  // priority 10 beats risk's 0, though it came last
  ASSERT_TRUE(Queued(3));
  Release(held[1]);
  ASSERT_OK_AND_ASSIGN(auto first, trading.get());
  EXPECT_EQ(first.lease().tenant(), "trading");
  Release(held[2]);
  ASSERT_OK(risk_first.get().status());
  EXPECT_EQ(risk_second.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  Release(held[3]);
  ASSERT_OK(risk_second.get().status());
}

TEST_F(QueueTest, WaitsEndAtTheirTimeoutOrWhenTheCallerGoes) {
  std::vector<v1::LeaseResponse> held = FillPool();
  v1::LeaseRequest r = Request();
  r.set_wait_seconds(1);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(coordinator_.Lease(r, risk_),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("no room within 1 s of waiting: no ready node")));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  EXPECT_EQ(coordinator_.counts().queued_leases, 0u);
  EXPECT_EQ(coordinator_.ListTenants(risk_)[0].leases(), 1u);  // the quota is given back

  std::atomic<bool> gone{false};
  r.set_wait_seconds(60);
  auto cancelled = std::async(std::launch::async, [&] {
    return coordinator_.Lease(r, risk_, [&] { return gone.load(); });
  });
  ASSERT_TRUE(Queued(1));
  gone = true;
  EXPECT_THAT(cancelled.get().status(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(coordinator_.counts().queued_leases, 0u);
  // A request that can never fit is refused at once, wait or not.
  r.set_device_count(5);
  EXPECT_THAT(coordinator_.Lease(r, trading_).status(), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(QueueTest, QueuedRequestsCountAgainstTheTenantsQuota) {
  std::vector<v1::LeaseResponse> held = FillPool();  // risk holds 1 of its 2 leases
  auto waiting = Wait(risk_, 20);
  ASSERT_TRUE(Queued(1));
  EXPECT_THAT(coordinator_.Lease(Request(), risk_),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("2 live or queued")));
  Release(held[1]);
  EXPECT_OK(waiting.get().status());
}

// With backfill, small requests behind a large one take what frees up; once
// the large one has waited past the starvation limit, room is kept for it.
TEST(CoordinatorStarvationTest, ALongWaitingLargeRequestIsNotStarvedBySmallOnes) {
  for (bool starving : {false, true}) {
    SCOPED_TRACE(starving ? "past the starvation limit" : "backfilling");
    Coordinator::Options options;
    options.starvation_after = starving ? std::chrono::milliseconds(0) : std::chrono::hours(1);
    Coordinator coordinator(options);
    NullListener listener;
    coordinator.AddNode("a", "a:1", {}, Devices(2), &listener);
    ASSERT_OK_AND_ASSIGN(auto first, coordinator.Lease(Request(), Caller{}));
    ASSERT_OK_AND_ASSIGN(auto second, coordinator.Lease(Request(), Caller{}));
    v1::LeaseRequest large = Request(2);
    large.set_wait_seconds(20);
    auto big = std::async(std::launch::async, [&] { return coordinator.Lease(large, Caller{}); });
    for (int i = 0; i < 200 && coordinator.counts().queued_leases != 1; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    v1::LeaseRequest small = Request(1);
    small.set_wait_seconds(20);
    auto little =
        std::async(std::launch::async, [&] { return coordinator.Lease(small, Caller{}); });
    for (int i = 0; i < 200 && coordinator.counts().queued_leases != 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(coordinator.counts().queued_leases, 2u);
    ASSERT_OK(coordinator.AdminRelease(first.lease().lease_id()));
    if (!starving) {
      ASSERT_OK_AND_ASSIGN(auto backfilled, little.get());  // the large one still waits
      EXPECT_EQ(big.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
      ASSERT_OK(coordinator.AdminRelease(second.lease().lease_id()));
      ASSERT_OK(coordinator.AdminRelease(backfilled.lease().lease_id()));
      EXPECT_OK(big.get().status());
    } else {
      EXPECT_EQ(little.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
      std::vector<v1::LeaseInfo> listed =
          coordinator.ListLeases(Caller{"", true, "a test operator"});
      bool explained = false;
      for (const v1::LeaseInfo& l : listed) {
        explained |= l.state() == "queued" && absl::StrContains(l.reason(), "are kept for it");
      }
      EXPECT_TRUE(explained);
      ASSERT_OK(coordinator.AdminRelease(second.lease().lease_id()));
      ASSERT_OK_AND_ASSIGN(auto granted, big.get());
      EXPECT_EQ(granted.lease().devices_size(), 2);
      ASSERT_OK(coordinator.AdminRelease(granted.lease().lease_id()));
      EXPECT_OK(little.get().status());
    }
  }
}

TEST_F(CoordinatorTest, AnEndedLeasesDeviceIsGrantedOnlyOnceItsNodeHasClosedTheSession) {
  AddNode("a", Devices(1));
  ASSERT_OK_AND_ASSIGN(auto first, coordinator_.Lease(Request(), anonymous_));
  coordinator_.ReportSession("a", first.lease().lease_id(), true);
  ASSERT_OK(coordinator_.AdminRelease(first.lease().lease_id()));
  // The node is still killing the session's worker: the device is taken,
  // and a request waits for it (briefly, even one that would not wait).
  EXPECT_EQ(coordinator_.ListDevices()[0].leases(), 1u);
  std::future<absl::StatusOr<v1::LeaseResponse>> next =
      std::async(std::launch::async, [&] { return coordinator_.Lease(Request(), anonymous_); });
  EXPECT_EQ(next.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  coordinator_.ReportSession("a", first.lease().lease_id(), false);
  ASSERT_OK_AND_ASSIGN(auto second, next.get());
  EXPECT_EQ(second.lease().devices(0).device().id(), first.lease().devices(0).device().id());
  // A lease whose session never opened frees its device at once.
  ASSERT_OK(coordinator_.AdminRelease(second.lease().lease_id()));
  EXPECT_EQ(coordinator_.ListDevices()[0].leases(), 0u);
  ASSERT_OK(coordinator_.Lease(Request(), anonymous_).status());
}

TEST_F(CoordinatorTest, FractionsBelowThePoolsSmallestAreRefused) {
  AddNode("a", Devices(1));
  EXPECT_THAT(coordinator_.Lease(Fraction(1), anonymous_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("below the pool's smallest")));
}

class CoordinatorLeaseCapTest : public CoordinatorTest {
 protected:
  static Coordinator::Options Capped() {
    Coordinator::Options options;
    options.max_leases_per_tenant = 3;
    return options;
  }
  CoordinatorLeaseCapTest() : CoordinatorTest(Capped()) {}
};

TEST_F(CoordinatorLeaseCapTest, AnonymousHoldersTogetherHoldAtMostTheCap) {
  AddNode("a", Devices(1, 16 * kGiB));
  for (int i = 0; i < 3; ++i) ASSERT_OK(coordinator_.Lease(Fraction(kGiB), anonymous_).status());
  EXPECT_THAT(coordinator_.Lease(Fraction(kGiB), anonymous_).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("max_leases_per_tenant")));
}

TEST_F(TenantTest, ATenantWithDeviceIsolationSharesDevicesWithNoOtherTenant) {
  v1::PutTenantRequest put;
  put.set_create(true);
  put.mutable_tenant()->set_name("vault");
  put.mutable_tenant()->set_device_isolation(true);
  ASSERT_OK_AND_ASSIGN(auto vault_put, coordinator_.PutTenant(put));
  ASSERT_OK_AND_ASSIGN(Caller vault, coordinator_.Authenticate(vault_put.token(), false));

  ASSERT_OK_AND_ASSIGN(auto first, coordinator_.Lease(Fraction(kGiB), vault));
  EXPECT_TRUE(first.lease().device_isolation());
  const std::string device = first.lease().devices(0).device().id();
  // Its own leases may share its device (binpack puts them there)...
  ASSERT_OK_AND_ASSIGN(auto second, coordinator_.Lease(Fraction(kGiB), vault));
  EXPECT_EQ(second.lease().devices(0).device().id(), device);
  // ...another tenant's never do, though binpack would prefer it.
  ASSERT_OK_AND_ASSIGN(auto other, coordinator_.Lease(Fraction(kGiB), trading_));
  EXPECT_NE(other.lease().devices(0).device().id(), device);
  // And vault never joins a device another tenant uses.
  ASSERT_OK_AND_ASSIGN(auto third, coordinator_.Lease(Fraction(kGiB), trading_));
  EXPECT_EQ(third.lease().devices(0).device().id(), other.lease().devices(0).device().id());
  ASSERT_OK(coordinator_.Release(first.lease().lease_id(), first.token(), vault));
  ASSERT_OK(coordinator_.Release(second.lease().lease_id(), second.token(), vault));
  ASSERT_OK_AND_ASSIGN(auto back, coordinator_.Lease(Fraction(kGiB), vault));
  EXPECT_NE(back.lease().devices(0).device().id(), other.lease().devices(0).device().id());
}

}  // namespace
}  // namespace accel::pool
