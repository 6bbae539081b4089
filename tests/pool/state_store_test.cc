// The coordinator's state across restarts: the SQLite store on its own, and
// a coordinator restored from it, in process.
#include "pool/coordinator/sqlite_state_store.h"

#include <sqlite3.h>

#include <thread>

#include "gtest/gtest.h"
#include "pool/coordinator/coordinator.h"
#include "tests/common/scoped_temp_dir.h"
#include "tests/common/status_is_matcher.h"

namespace accel::pool {
namespace {

using ::accel::testing::StatusIs;
using ::testing::HasSubstr;

// Nodes join by the pool's join token (or a certificate); never by address.
constexpr char kJoinToken[] = "state-store-test-join-token";

class NullListener : public LeaseListener {
 public:
  void OnLeaseEnded(const std::string&, const absl::Status&) override {}
  void OnNodeLost() override {}
};

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }
  // A coordinator on the store that restores quickly in tests.
  static Coordinator::Options Quick(StateStore* store, std::chrono::milliseconds rejoin_grace) {
    Coordinator::Options options;
    options.store = store;
    options.rejoin_grace = rejoin_grace;
    options.reap_interval = std::chrono::milliseconds(20);
    options.join_token = kJoinToken;
    return options;
  }
  ::accel::testing::ScopedTempDir dir_;
  const std::string path_ = dir_.Path("pool.db");
};

TEST_F(StateStoreTest, ADatabaseOfAnEarlierVersionGainsTheNewTenantColumns) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    const std::string sql =
        "CREATE TABLE tenants (name TEXT PRIMARY KEY, priority INTEGER, max_devices INTEGER, "
        "max_memory INTEGER, max_leases INTEGER, token_sha256 TEXT); "
        "INSERT INTO tenants VALUES ('old', 1, 0, 0, 0, '" +
        std::string(64, 'a') + "');";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStateStore::Open(path_));
  ASSERT_OK_AND_ASSIGN(PoolState state, store->Load());
  ASSERT_EQ(state.tenants.size(), 1u);
  EXPECT_EQ(state.tenants[0].name, "old");
  EXPECT_FALSE(state.tenants[0].device_isolation);
}

TEST_F(StateStoreTest, KeepsTenantsDrainsAndLeasesAcrossReopening) {
  {
    ASSERT_OK_AND_ASSIGN(auto store, SqliteStateStore::Open(path_));
    Tenant t{"risk", 5, 2, 1ull << 30, 3, std::string(64, 'a')};
    t.device_isolation = true;
    t.max_kernel_ms = 2500;
    ASSERT_OK(store->PutTenant(t));
    t.priority = 7;  // an update replaces
    ASSERT_OK(store->PutTenant(t));
    ASSERT_OK(store->PutTenant({"gone", 0, 0, 0, 0, std::string(64, 'b')}));
    ASSERT_OK(store->DeleteTenant("gone"));
    ASSERT_OK(store->SetDrained("n1", true));
    ASSERT_OK(store->SetDrained("n2", true));
    ASSERT_OK(store->SetDrained("n2", false));
    StoredLease lease;
    lease.info.set_lease_id("l-1");
    lease.info.set_node("n1");
    lease.info.set_tenant("risk");
    lease.info.add_devices()->set_memory_quota(4096);
    lease.token_sha256 = std::string(64, 'c');
    ASSERT_OK(store->PutLease(lease));
    lease.info.set_lease_id("l-2");
    ASSERT_OK(store->PutLease(lease));
    ASSERT_OK(store->DeleteLease("l-2"));
  }
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStateStore::Open(path_));
  ASSERT_OK_AND_ASSIGN(PoolState state, store->Load());
  ASSERT_EQ(state.tenants.size(), 1u);
  EXPECT_EQ(state.tenants[0].name, "risk");
  EXPECT_EQ(state.tenants[0].priority, 7);
  EXPECT_EQ(state.tenants[0].max_memory, 1ull << 30);
  EXPECT_EQ(state.tenants[0].token_sha256, std::string(64, 'a'));
  EXPECT_TRUE(state.tenants[0].device_isolation);
  EXPECT_EQ(state.tenants[0].max_kernel_ms, 2500u);
  EXPECT_EQ(state.drained_nodes, std::set<std::string>{"n1"});
  ASSERT_EQ(state.leases.size(), 1u);
  EXPECT_EQ(state.leases[0].info.lease_id(), "l-1");
  EXPECT_EQ(state.leases[0].info.devices(0).memory_quota(), 4096u);
  EXPECT_EQ(state.leases[0].token_sha256, std::string(64, 'c'));
}

TEST_F(StateStoreTest, AnUnusablePathIsAClearError) {
  EXPECT_THAT(SqliteStateStore::Open(dir_.Path("no/such/dir/pool.db")).status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("unable to open")));
}

v1::DeviceInfo HostDevice(uint32_t index) {
  v1::DeviceInfo d;
  d.set_backend("host");
  d.set_index(index);
  d.set_total_memory(1ull << 30);
  return d;
}

v1::NodeHello Hello(const std::string& name, std::vector<std::string> open_leases = {}) {
  v1::NodeHello hello;
  hello.set_name(name);
  hello.set_address(name + ":1");
  hello.set_instance("first");
  hello.set_join_token(kJoinToken);
  *hello.add_devices() = HostDevice(0);
  *hello.add_devices() = HostDevice(1);
  for (const std::string& id : open_leases) hello.add_open_leases(id);
  return hello;
}

TEST_F(StateStoreTest, ARestoredCoordinatorKeepsLeasesWhoseSessionsSurvived) {
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStateStore::Open(path_));
  const Coordinator::Options options = Quick(store.get(), std::chrono::milliseconds(300));
  auto listener = std::make_shared<NullListener>();
  v1::LeaseResponse kept, dropped, orphan;
  std::string token;
  {
    Coordinator before(options);
    ASSERT_OK(before.Restore());
    ASSERT_OK(before.RegisterNode(Hello("a"), listener).status());
    ASSERT_OK(before.RegisterNode(Hello("b"), listener).status());
    v1::PutTenantRequest put;
    put.set_create(true);
    put.mutable_tenant()->set_name("risk");
    put.mutable_tenant()->set_max_leases(5);
    ASSERT_OK_AND_ASSIGN(auto created, before.PutTenant(put));
    token = created.token();
    ASSERT_OK_AND_ASSIGN(Caller risk, before.Authenticate(token, false));
    v1::LeaseRequest r;
    r.set_memory(64 << 20);  // fractional: both on a, binpacked
    ASSERT_OK_AND_ASSIGN(kept, before.Lease(r, risk));
    ASSERT_OK_AND_ASSIGN(dropped, before.Lease(r, risk));
    ASSERT_EQ(kept.lease().node(), dropped.lease().node());
    ASSERT_OK(before.Drain(kept.lease().node() == "a" ? "b" : "a", false));
    r.set_memory(0);
    r.clear_labels();
    // One whole device on the drained node is impossible; take the other
    // device of the same node instead.
    ASSERT_OK_AND_ASSIGN(orphan, before.Lease(r, risk));
  }  // as good as killed: nothing ended

  Coordinator after(options);
  ASSERT_OK(after.Restore());
  ASSERT_OK_AND_ASSIGN(Caller risk, after.Authenticate(token, false));  // the tenant survived
  EXPECT_EQ(after.ListTenants(Caller{"", true, "a test operator"})[0].leases(), 3u);
  EXPECT_EQ(after.ListLeases(risk).size(), 3u);
  const std::string node = kept.lease().node();
  const std::string drained = node == "a" ? "b" : "a";
  // Until it rejoins, the node is lost; the drained one stays drained.
  std::vector<v1::NodeInfo> nodes = after.ListNodes();
  ASSERT_EQ(nodes.size(), 2u);
  for (const v1::NodeInfo& n : nodes) EXPECT_EQ(n.state(), "lost") << n.name();
  // The tenant file cannot undo what operators changed since (the store
  // has the tenant): the file's definition is not applied.
  Tenant from_file{"risk", 0, 0, 0, 0, std::string(64, 'f')};
  ASSERT_OK_AND_ASSIGN(bool added, after.SeedTenant(from_file));
  EXPECT_FALSE(added);
  EXPECT_EQ(after.ListTenants(Caller{"", true, "a test operator"})[0].max_leases(), 5u);
  // The lease's holder can renew with its old token.
  EXPECT_OK(after.Renew(kept.lease().lease_id(), kept.token(), risk).status());
  // The node rejoins with one of its sessions: the other two leases end.
  ASSERT_OK(after.RegisterNode(Hello(node, {kept.lease().lease_id()}), listener).status());
  ASSERT_OK(after.RegisterNode(Hello(drained), listener).status());
  std::vector<v1::LeaseInfo> leases = after.ListLeases(risk);
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].lease_id(), kept.lease().lease_id());
  EXPECT_THAT(after.Renew(dropped.lease().lease_id(), dropped.token(), risk).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no longer has this lease")));
  for (const v1::NodeInfo& n : after.ListNodes()) {
    EXPECT_EQ(n.state(), n.name() == drained ? "draining" : "ready") << n.name();
  }
  // The kept lease still holds its share of the device: a whole-device
  // lease cannot take that device, only the other one.
  v1::LeaseRequest whole;
  ASSERT_OK_AND_ASSIGN(auto other, after.Lease(whole, risk));
  EXPECT_NE(other.lease().devices(0).device().id(), kept.lease().devices(0).device().id());
  EXPECT_THAT(after.Lease(whole, risk).status(), StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST_F(StateStoreTest, LeasesOfANodeThatDoesNotRejoinEndAfterTheGrace) {
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStateStore::Open(path_));
  const Coordinator::Options options = Quick(store.get(), std::chrono::milliseconds(200));
  auto listener = std::make_shared<NullListener>();
  v1::LeaseResponse lease;
  {
    Coordinator before(options);
    ASSERT_OK(before.RegisterNode(Hello("a"), listener).status());
    ASSERT_OK_AND_ASSIGN(lease, before.Lease({}, Caller{}));
  }
  Coordinator after(options);
  ASSERT_OK(after.Restore());
  EXPECT_EQ(after.ListLeases(Caller{}).size(), 1u);
  for (int i = 0; i < 100 && !after.ListLeases(Caller{}).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(after.ListLeases(Caller{}).empty());
  EXPECT_THAT(after.Renew(lease.lease().lease_id(), lease.token(), Caller{}).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("did not rejoin")));
  // And the store forgot it too.
  ASSERT_OK_AND_ASSIGN(PoolState state, store->Load());
  EXPECT_TRUE(state.leases.empty());
}

}  // namespace
}  // namespace accel::pool
