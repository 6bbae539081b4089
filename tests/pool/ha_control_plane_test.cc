// A highly available control plane on a real etcd cluster on loopback:
// the etcd state store's fenced writes, then coordinators (poold --state
// etcd://...) electing a leader, a leader killed while a client streams
// lease requests, etcd members killed, and a coordinator started afresh.
// Every wait is bounded; the tests skip, saying why, without etcd.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "accel/client/lease.h"
#include "gtest/gtest.h"
#include "pool/coordinator/etcd_client.h"
#include "pool/coordinator/etcd_compactor.h"
#include "pool/coordinator/etcd_state_mirror.h"
#include "pool/coordinator/etcd_state_store.h"
#include "tests/common/scoped_temp_dir.h"
#include "tests/common/status_matchers.h"
#include "tests/pool/etcd_cluster.h"
#include "tests/pool/pool_test_util.h"
#include "tests/pool/poold_process.h"
#include "tests/pool/saxpy_check.h"

namespace accel::testing {
namespace {

namespace hal = ::accel::hal;
using client::AcquireLease;
using client::Lease;
using client::LeaseRequest;

// The coordinators' --election_ttl, in seconds: short, for a quick
// failover; and etcd's default, which outlasts an etcd election (an etcd
// member killed must change nothing for clients).
constexpr int kElectionTtl = 2;
constexpr int kDefaultElectionTtl = 5;

#define START_ETCD_OR_SKIP(cluster, members)                                        \
  if (EtcdCluster::Program().empty()) {                                             \
    GTEST_SKIP() << "etcd is not installed (scripts/install-deps.sh installs "      \
                    "etcd-server): the highly available control plane is untested"; \
  }                                                                                 \
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdCluster> cluster, EtcdCluster::Start(members))

std::unique_ptr<pool::EtcdClient> ClientOf(const EtcdCluster& cluster) {
  pool::EtcdClient::Options options;
  options.location.endpoints = cluster.endpoints();
  options.location.prefix = "/store-test";
  absl::StatusOr<std::unique_ptr<pool::EtcdClient>> client =
      pool::EtcdClient::Connect(std::move(options));
  return client.ok() ? *std::move(client) : nullptr;
}

// A key of this test's own to fence writes on, as an election would make.
absl::StatusOr<int64_t> PutFenceKey(pool::EtcdClient& etcd, const std::string& key) {
  etcdserverpb::TxnRequest txn;
  txn.add_success()->mutable_request_put()->set_key(key);
  absl::StatusOr<etcdserverpb::TxnResponse> done = etcd.Txn(txn);
  if (!done.ok()) return done.status();
  return done->header().revision();
}

// `store` writes as the leader of a fence key of the test's own.
absl::Status FenceAsLeader(pool::EtcdClient& etcd, pool::EtcdStateStore& store) {
  absl::StatusOr<int64_t> revision = PutFenceKey(etcd, "/store-test/leader/me");
  if (!revision.ok()) return revision.status();
  store.Fence("/store-test/leader/me", *revision, *revision, nullptr);
  return absl::OkStatus();
}

std::set<std::string> LeaseIds(const pool::PoolState& state) {
  std::set<std::string> ids;
  for (const pool::StoredLease& l : state.leases) ids.insert(l.info.lease_id());
  return ids;
}

// The names of the keys under `prefix`, without it.
std::set<std::string> KeysUnder(pool::EtcdClient& etcd, const std::string& prefix) {
  std::set<std::string> keys;
  absl::StatusOr<int64_t> read = etcd.RangePrefix(prefix, [&](const mvccpb::KeyValue& kv) {
    keys.insert(kv.key().substr(prefix.size()));
    return absl::OkStatus();
  });
  EXPECT_OK(read.status());
  return keys;
}

TEST(EtcdStateStoreTest, WritesCommitOnlyWhileTheWritersFenceHolds) {
  START_ETCD_OR_SKIP(cluster, 1);
  std::unique_ptr<pool::EtcdClient> etcd = ClientOf(*cluster);
  ASSERT_NE(etcd, nullptr);
  pool::EtcdStateStore store(*etcd);
  pool::Tenant risk;
  risk.name = "risk";
  risk.priority = 3;
  risk.max_memory = 1 << 30;
  risk.token_sha256 = std::string(64, 'a');
  // Not the leader yet: nothing is written.
  EXPECT_EQ(store.PutTenant(risk).code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_OK_AND_ASSIGN(const int64_t revision, PutFenceKey(*etcd, "/store-test/leader/me"));
  bool lost = false;
  store.Fence("/store-test/leader/me", revision, revision, [&] { lost = true; });
  ASSERT_OK(store.PutTenant(risk));
  ASSERT_OK(store.SetDrained("node-b", true));
  pool::StoredLease lease;
  lease.info.set_lease_id("l-1");
  lease.info.set_tenant("risk");
  lease.token_sha256 = std::string(64, 'b');
  ASSERT_OK(store.PutLease(lease));
  ASSERT_OK_AND_ASSIGN(pool::PoolState state, store.Load());
  ASSERT_EQ(state.tenants.size(), 1u);
  EXPECT_EQ(state.tenants[0].priority, 3);
  EXPECT_EQ(state.tenants[0].max_memory, 1u << 30);
  EXPECT_EQ(state.drained_nodes, std::set<std::string>{"node-b"});
  ASSERT_EQ(state.leases.size(), 1u);
  EXPECT_EQ(state.leases[0].info.tenant(), "risk");
  EXPECT_EQ(state.leases[0].token_sha256, std::string(64, 'b'));

  // Another took over (the key was made again, at a later revision): the
  // old leader's late write does not commit, and it hears that it lost.
  ASSERT_OK(PutFenceKey(*etcd, "/store-test/leader/me").status());
  etcdserverpb::TxnRequest remove;
  remove.add_success()->mutable_request_delete_range()->set_key("/store-test/leader/me");
  ASSERT_OK(etcd->Txn(remove).status());
  ASSERT_OK(PutFenceKey(*etcd, "/store-test/leader/me").status());
  lease.info.set_lease_id("l-2");
  absl::Status late = store.PutLease(lease);
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition) << late;
  EXPECT_TRUE(lost);
  EXPECT_EQ(store.DeleteLease("l-1").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(state, store.Load());
  ASSERT_EQ(state.leases.size(), 1u);
  EXPECT_EQ(state.leases[0].info.lease_id(), "l-1");
}

// The member that leads etcd's raft group, asked of each of `alive` in
// turn: its index in the cluster's endpoints.
absl::StatusOr<size_t> RaftLeaderOf(const EtcdCluster& cluster, const std::set<size_t>& alive) {
  for (size_t i : alive) {
    auto maintenance = etcdserverpb::Maintenance::NewStub(
        grpc::CreateChannel(cluster.endpoints()[i], grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    etcdserverpb::StatusResponse status;
    if (maintenance->Status(&context, {}, &status).ok() && status.leader() != 0 &&
        status.leader() == status.header().member_id()) {
      return i;
    }
  }
  return absl::UnavailableError("no member says it leads");
}

// Values larger in all than one gRPC response holds (64 MiB): the pages
// are asked again smaller, and every key is read once.
TEST(EtcdClientTest, APrefixLargerThanOneResponseIsReadInSmallerPages) {
  START_ETCD_OR_SKIP(cluster, 1);
  std::unique_ptr<pool::EtcdClient> etcd = ClientOf(*cluster);
  ASSERT_NE(etcd, nullptr);
  constexpr int kKeys = 70;
  const std::string value(1 << 20, 'v');  // within etcd's 1.5 MiB a request
  for (int i = 0; i < kKeys; ++i) {
    etcdserverpb::TxnRequest put;
    etcdserverpb::PutRequest* request = put.add_success()->mutable_request_put();
    request->set_key(absl::StrCat("/big/", 100 + i));
    request->set_value(value);
    ASSERT_OK(etcd->Txn(put).status());
  }
  int read = 0;
  ASSERT_OK(etcd->RangePrefix("/big/",
                              [&](const mvccpb::KeyValue& kv) {
                                EXPECT_EQ(kv.key(), absl::StrCat("/big/", 100 + read));
                                EXPECT_EQ(kv.value().size(), value.size());
                                ++read;
                                return absl::OkStatus();
                              })
                .status());
  EXPECT_EQ(read, kKeys);
}

TEST(EtcdClientTest, CallsGoToTheRaftLeaderWhicheverMemberIsListedFirst) {
  START_ETCD_OR_SKIP(cluster, 3);
  ASSERT_OK_AND_ASSIGN(const size_t leader, RaftLeaderOf(*cluster, {0, 1, 2}));
  // A follower first: its writes would be forwarded to the leader.
  pool::EtcdClient::Options options;
  for (size_t i = 1; i <= 3; ++i) {
    options.location.endpoints.push_back(cluster->endpoints()[(leader + i) % 3]);
  }
  options.location.prefix = "/leader-test";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<pool::EtcdClient> etcd,
                       pool::EtcdClient::Connect(std::move(options)));
  ASSERT_OK(PutFenceKey(*etcd, "/leader-test/a").status());
  EXPECT_EQ(etcd->endpoint(), cluster->endpoints()[leader]);

  // The leader dies: calls move on, and then to the member elected next.
  cluster->Kill(static_cast<int>(leader));
  std::set<size_t> alive = {0, 1, 2};
  alive.erase(leader);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string followed;
  for (;;) {
    ASSERT_OK(PutFenceKey(*etcd, "/leader-test/b").status());
    absl::StatusOr<size_t> next = RaftLeaderOf(*cluster, alive);
    followed = etcd->endpoint();
    if (next.ok() && followed == cluster->endpoints()[*next]) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "calls still go to " << followed << ", not to etcd's new leader";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(followed, cluster->endpoints()[leader]);
}

TEST(EtcdCompactorTest, OnlyTheLeaderCompactsAndKeepsOneIntervalOfHistory) {
  START_ETCD_OR_SKIP(cluster, 1);
  std::unique_ptr<pool::EtcdClient> etcd = ClientOf(*cluster);
  ASSERT_NE(etcd, nullptr);
  ASSERT_OK_AND_ASSIGN(const int64_t first, PutFenceKey(*etcd, "/store-test/k"));
  ASSERT_OK(PutFenceKey(*etcd, "/store-test/k").status());
  auto read_at = [&](int64_t revision) {
    etcdserverpb::RangeRequest read;
    read.set_key("/store-test/k");
    read.set_revision(revision);
    return etcd->Range(read).status();
  };
  std::atomic<bool> leading{false};
  pool::EtcdCompactor::Options options;
  options.interval = std::chrono::milliseconds(200);
  options.leading = [&] { return leading.load(); };
  pool::EtcdCompactor compactor(*etcd, options);
  // A standby compacts nothing.
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(compactor.compacted(), 0);
  ASSERT_OK(read_at(first));

  leading = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (compactor.compacted() <= first) {
    ASSERT_OK(PutFenceKey(*etcd, "/store-test/k").status());  // history to compact
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "nothing was compacted";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // History before the compaction is gone; the value now, and the history
  // since (one interval, for watches that lag), are not.
  absl::Status old = read_at(first);
  EXPECT_FALSE(old.ok());
  EXPECT_TRUE(absl::StrContains(old.message(), "compacted")) << old;
  ASSERT_OK(read_at(compactor.compacted()));
  ASSERT_OK(read_at(0));
}

TEST(EtcdStateStoreTest, LoadReadsAPoolLargerThanOnePage) {
  START_ETCD_OR_SKIP(cluster, 1);
  std::unique_ptr<pool::EtcdClient> etcd = ClientOf(*cluster);
  ASSERT_NE(etcd, nullptr);
  pool::EtcdStateStore store(*etcd);
  ASSERT_OK(FenceAsLeader(*etcd, store));
  constexpr int kLeases = 1500;  // pages of 1000
  for (int i = 0; i < kLeases; ++i) {
    pool::StoredLease lease;
    lease.info.set_lease_id(absl::StrCat("l-", i));
    ASSERT_OK(store.PutLease(lease));
  }
  // One write at a time: an entry each, yet the journal stays short (it
  // folds between writes once it is long).
  EXPECT_LE(KeysUnder(*etcd, "/store-test/journal/").size(), 300u);
  ASSERT_OK_AND_ASSIGN(pool::PoolState state, store.Load());
  EXPECT_EQ(state.leases.size(), static_cast<size_t>(kLeases));
  std::set<std::string> ids;
  for (const pool::StoredLease& l : state.leases) ids.insert(l.info.lease_id());
  EXPECT_EQ(ids.size(), static_cast<size_t>(kLeases));
}

// Concurrent grants' writes share transactions (each waiter hears its own
// outcome); a delete nobody waits for is written by the time Flush returns,
// as a leader stepping down gracefully needs.
TEST(EtcdStateStoreTest, QueuedWritesOfManyThreadsAreKeptAndFlushWaitsForDeletes) {
  START_ETCD_OR_SKIP(cluster, 1);
  std::unique_ptr<pool::EtcdClient> etcd = ClientOf(*cluster);
  ASSERT_NE(etcd, nullptr);
  pool::EtcdStateStore store(*etcd);
  ASSERT_OK(FenceAsLeader(*etcd, store));
  constexpr int kThreads = 16, kEach = 20;
  std::vector<std::thread> threads;
  std::vector<absl::Status> failures(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach && failures[t].ok(); ++i) {
        pool::StoredLease lease;
        lease.info.set_lease_id(absl::StrCat("l-", t, "-", i));
        lease.info.set_holder(absl::StrCat("thread ", t));
        failures[t] = store.Wait(store.QueuePutLease(lease));
        // Every other lease is released at once, unwaited.
        if (i % 2 == 1) store.QueueDeleteLease(lease.info.lease_id());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& failure : failures) ASSERT_OK(failure);
  store.Flush();
  ASSERT_OK_AND_ASSIGN(pool::PoolState state, store.Load());
  std::set<std::string> ids;
  for (const pool::StoredLease& l : state.leases) ids.insert(l.info.lease_id());
  std::set<std::string> expected;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kEach; i += 2) expected.insert(absl::StrCat("l-", t, "-", i));
  }
  EXPECT_EQ(ids, expected);
  // A ticket the store never gave out is an error, not a wait forever.
  EXPECT_EQ(store.Wait(1u << 30).code(), absl::StatusCode::kInternal);
}

// Concurrent grants share journal entries (one key each, not one per
// lease); a later leader reads them, and folding them leaves each live
// lease in a key of its own and no journal, the state read back unchanged.
TEST(EtcdStateStoreTest, GrantsShareJournalEntriesThatFoldIntoEachLeasesOwnKey) {
  START_ETCD_OR_SKIP(cluster, 1);
  std::unique_ptr<pool::EtcdClient> etcd = ClientOf(*cluster);
  ASSERT_NE(etcd, nullptr);
  constexpr int kThreads = 16, kEach = 20;
  std::set<std::string> live;
  {
    pool::EtcdStateStore store(*etcd);
    ASSERT_OK(FenceAsLeader(*etcd, store));
    std::vector<std::thread> threads;
    std::vector<absl::Status> failures(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach && failures[t].ok(); ++i) {
          pool::StoredLease lease;
          lease.info.set_lease_id(absl::StrCat("l-", t, "-", i));
          failures[t] = store.Wait(store.QueuePutLease(lease));
          if (i % 2 == 1) store.QueueDeleteLease(lease.info.lease_id());
        }
      });
    }
    for (std::thread& t : threads) t.join();
    for (const absl::Status& failure : failures) ASSERT_OK(failure);
    store.Flush();
    for (int t = 0; t < kThreads; ++t) {
      for (int i = 0; i < kEach; i += 2) live.insert(absl::StrCat("l-", t, "-", i));
    }
    const size_t entries = KeysUnder(*etcd, "/store-test/journal/").size();
    EXPECT_GT(entries, 0u);
    EXPECT_LT(entries, static_cast<size_t>(kThreads * kEach * 3 / 2));  // writes shared keys
  }
  // A new term (its fence made again): the predecessor's journal is read,
  // and folded by the new leader.
  etcdserverpb::TxnRequest remove;
  remove.add_success()->mutable_request_delete_range()->set_key("/store-test/leader/me");
  ASSERT_OK(etcd->Txn(remove).status());
  pool::EtcdStateStore next(*etcd);
  ASSERT_OK(FenceAsLeader(*etcd, next));
  ASSERT_OK_AND_ASSIGN(pool::PoolState before, next.Load());
  EXPECT_EQ(LeaseIds(before), live);
  ASSERT_OK(next.Fold());
  EXPECT_TRUE(KeysUnder(*etcd, "/store-test/journal/").empty());
  EXPECT_EQ(KeysUnder(*etcd, "/store-test/leases/"), live);
  ASSERT_OK_AND_ASSIGN(pool::PoolState after, next.Load());
  EXPECT_EQ(LeaseIds(after), live);

  // A folded lease released: its key goes with the next fold, and until
  // then the journal's release already counts.
  ASSERT_OK(next.DeleteLease("l-0-0"));
  live.erase("l-0-0");
  ASSERT_OK_AND_ASSIGN(pool::PoolState released, next.Load());
  EXPECT_EQ(LeaseIds(released), live);
  ASSERT_OK(next.Fold());
  EXPECT_EQ(KeysUnder(*etcd, "/store-test/leases/"), live);
}

// A leader whose term ended knows a journal that another leader may have
// changed since: elected again, it folds nothing of it until it has loaded.
TEST(EtcdStateStoreTest, ALeaderFoldsOnlyTheJournalOfATermItLoaded) {
  START_ETCD_OR_SKIP(cluster, 1);
  std::unique_ptr<pool::EtcdClient> etcd = ClientOf(*cluster);
  ASSERT_NE(etcd, nullptr);
  auto new_term = [&](pool::EtcdStateStore& store) {
    etcdserverpb::TxnRequest remove;
    remove.add_success()->mutable_request_delete_range()->set_key("/store-test/leader/me");
    ASSERT_OK(etcd->Txn(remove).status());
    ASSERT_OK(FenceAsLeader(*etcd, store));
  };
  pool::EtcdStateStore first(*etcd), second(*etcd);
  ASSERT_OK(FenceAsLeader(*etcd, first));
  pool::StoredLease lease;
  lease.info.set_lease_id("l-1");
  ASSERT_OK(first.PutLease(lease));
  // Another leads, releases the lease and folds.
  new_term(second);
  ASSERT_OK(second.Load().status());
  ASSERT_OK(second.DeleteLease("l-1"));
  ASSERT_OK(second.Fold());
  EXPECT_TRUE(KeysUnder(*etcd, "/store-test/leases/").empty());
  // The first leads again: its old journal is not folded back in.
  new_term(first);
  EXPECT_EQ(first.Fold().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(KeysUnder(*etcd, "/store-test/leases/").empty());
  ASSERT_OK_AND_ASSIGN(pool::PoolState state, first.Load());
  EXPECT_TRUE(state.leases.empty());
  ASSERT_OK(first.Fold());
  EXPECT_TRUE(KeysUnder(*etcd, "/store-test/leases/").empty());
  EXPECT_TRUE(KeysUnder(*etcd, "/store-test/journal/").empty());
}

// etcd's own authentication: a root user with its password, then on.
absl::Status EnableEtcdAuth(const std::string& endpoint, const std::string& password) {
  auto auth = etcdserverpb::Auth::NewStub(
      grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
  auto call = [](auto&& rpc) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return rpc(&context);
  };
  etcdserverpb::AuthUserAddRequest user;
  user.set_name("root");
  user.set_password(password);
  etcdserverpb::AuthUserAddResponse user_added;
  etcdserverpb::AuthRoleAddRequest role;
  role.set_name("root");
  etcdserverpb::AuthRoleAddResponse role_added;
  etcdserverpb::AuthUserGrantRoleRequest grant;
  grant.set_user("root");
  grant.set_role("root");
  etcdserverpb::AuthUserGrantRoleResponse granted;
  etcdserverpb::AuthEnableResponse enabled;
  for (grpc::Status s :
       {call([&](grpc::ClientContext* c) { return auth->UserAdd(c, user, &user_added); }),
        call([&](grpc::ClientContext* c) { return auth->RoleAdd(c, role, &role_added); }),
        call([&](grpc::ClientContext* c) { return auth->UserGrantRole(c, grant, &granted); }),
        call([&](grpc::ClientContext* c) { return auth->AuthEnable(c, {}, &enabled); })}) {
    if (!s.ok()) return absl::InternalError(s.error_message());
  }
  return absl::OkStatus();
}

TEST(EtcdStateStoreTest, AnEtcdWithAuthenticationIsReachedWithItsPasswordOnly) {
  START_ETCD_OR_SKIP(cluster, 1);
  ASSERT_OK(EnableEtcdAuth(cluster->endpoints()[0], "etcd-root-password"));
  auto connect = [&](const std::string& user, const std::string& password) {
    pool::EtcdClient::Options options;
    options.location.endpoints = cluster->endpoints();
    options.location.prefix = "/auth-test";
    options.user = user;
    options.password = password;
    return pool::EtcdClient::Connect(std::move(options));
  };
  etcdserverpb::RangeRequest read;
  read.set_key("/auth-test/x");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<pool::EtcdClient> nobody, connect("", ""));
  EXPECT_FALSE(nobody->Range(read).ok());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<pool::EtcdClient> wrong, connect("root", "not-it"));
  absl::Status refused = wrong->Range(read).status();
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.message(), "authenticating as root")) << refused;

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<pool::EtcdClient> root,
                       connect("root", "etcd-root-password"));
  pool::EtcdStateStore store(*root);
  ASSERT_OK_AND_ASSIGN(const int64_t revision, PutFenceKey(*root, "/auth-test/leader/me"));
  store.Fence("/auth-test/leader/me", revision, revision, nullptr);
  pool::StoredLease lease;
  lease.info.set_lease_id("l-1");
  ASSERT_OK(store.Wait(store.QueuePutLease(lease)));
  ASSERT_OK_AND_ASSIGN(pool::PoolState state, store.Load());
  EXPECT_EQ(state.leases.size(), 1u);
}

TEST(EtcdStateStoreTest, AnEtcdThatRequiresTlsIsReachedWithTheCoordinatorsCertificateOnly) {
  if (EtcdCluster::Program().empty()) GTEST_SKIP() << "etcd is not installed";
  ScopedTempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_OK_AND_ASSIGN(auto made, RunProgram("/bin/bash", {ACCEL_TEST_MAKE_CA, dir.Path("pki"),
                                                           "etcd", "coordinator"}));
  ASSERT_EQ(made.first, 0) << made.second;
  const pool::TlsFiles server{dir.Path("pki/ca.pem"), dir.Path("pki/etcd.pem"),
                              dir.Path("pki/etcd.key")};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdCluster> cluster, EtcdCluster::Start(1, server));
  auto connect = [&](const pool::TlsFiles& tls) {
    pool::EtcdClient::Options options;
    options.location.endpoints = cluster->endpoints();
    options.call_timeout = std::chrono::milliseconds(1500);
    options.tls = tls;
    return pool::EtcdClient::Connect(std::move(options));
  };
  etcdserverpb::RangeRequest read;
  read.set_key("/tls-test/x");
  ASSERT_OK_AND_ASSIGN(auto plaintext, connect({}));
  EXPECT_FALSE(plaintext->Range(read).ok());
  ASSERT_OK_AND_ASSIGN(auto anonymous, connect({dir.Path("pki/ca.pem"), "", ""}));
  EXPECT_FALSE(anonymous->Range(read).ok());
  ASSERT_OK_AND_ASSIGN(auto coordinator,
                       connect({dir.Path("pki/ca.pem"), dir.Path("pki/coordinator.pem"),
                                dir.Path("pki/coordinator.key")}));
  EXPECT_OK(coordinator->Range(read).status());
}

TEST(EtcdStateStoreTest, AStandbysWarmCopyFollowsTheLeadersWritesExactly) {
  START_ETCD_OR_SKIP(cluster, 1);
  std::unique_ptr<pool::EtcdClient> leader_etcd = ClientOf(*cluster);
  std::unique_ptr<pool::EtcdClient> standby_etcd = ClientOf(*cluster);
  ASSERT_NE(leader_etcd, nullptr);
  ASSERT_NE(standby_etcd, nullptr);
  pool::EtcdStateStore store(*leader_etcd);
  ASSERT_OK_AND_ASSIGN(const int64_t revision, PutFenceKey(*leader_etcd, "/store-test/leader/me"));
  store.Fence("/store-test/leader/me", revision, revision, nullptr);
  pool::StoredLease lease;
  lease.info.set_lease_id("l-before");
  ASSERT_OK(store.PutLease(lease));

  // The standby's copy loads what is there, then follows the watch.
  pool::EtcdStateMirror mirror(*standby_etcd);
  for (int i = 0; i < 50; ++i) {
    lease.info.set_lease_id(absl::StrCat("l-", i));
    ASSERT_OK(store.Wait(store.QueuePutLease(lease)));
  }
  ASSERT_OK(store.DeleteLease("l-before"));
  for (int i = 0; i < 50; i += 2) store.QueueDeleteLease(absl::StrCat("l-", i));
  // Queued writes commit in order: once this one is kept, so are the deletes.
  lease.info.set_lease_id("l-last");
  ASSERT_OK(store.Wait(store.QueuePutLease(lease)));
  pool::Tenant risk;
  risk.name = "risk";
  risk.token_sha256 = std::string(64, 'c');
  ASSERT_OK(store.PutTenant(risk));
  // The leader's mark: once the copy has it, it has everything before.
  ASSERT_OK_AND_ASSIGN(const int64_t latest, store.Mark());

  ASSERT_OK_AND_ASSIGN(pool::PoolState warm, mirror.StateAt(latest, std::chrono::seconds(10)));
  ASSERT_OK_AND_ASSIGN(pool::PoolState read, store.Load());
  EXPECT_EQ(LeaseIds(warm), LeaseIds(read));
  EXPECT_EQ(LeaseIds(warm).size(), 26u);
  EXPECT_EQ(LeaseIds(warm).count("l-before"), 0u);
  ASSERT_EQ(warm.tenants.size(), 1u);
  EXPECT_EQ(warm.tenants[0].token_sha256, std::string(64, 'c'));
  // A revision not reached yet is not pretended.
  EXPECT_EQ(mirror.StateAt(latest + 1000, std::chrono::milliseconds(300)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

// What a coordinator says it is: leader, standby, electing, or unreachable.
std::string RoleOf(const std::string& address) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::ControlPlaneResponse response;
  grpc::Status s = CoordinatorAt(address)->GetControlPlane(&context, {}, &response);
  return s.ok() ? response.role() : "unreachable";
}

std::vector<std::string> CoordinatorArgs(const EtcdCluster& cluster, const std::string& prefix,
                                         int lease_ttl, int election_ttl = kElectionTtl) {
  return {"--state=" + cluster.StateUrl(prefix), absl::StrCat("--election_ttl=", election_ttl),
          "--node_heartbeat_ms=500", absl::StrCat("--lease_ttl=", lease_ttl), JoinTokenFlag()};
}

// Leases whole devices, one at a time, as fast as the pool grants them,
// holding a few: checks that no device it holds is ever granted to it again.
class LeaseStream {
 public:
  explicit LeaseStream(std::string pool) : pool_(std::move(pool)) {}
  ~LeaseStream() { Stop(); }

  void Start(size_t max_held) {
    thread_ = std::thread([this, max_held] {
      absl::MutexLock lock(&mu_);
      while (!stopping_) {
        mu_.Unlock();
        LeaseRequest request;
        request.ttl_seconds = 10;
        absl::StatusOr<std::unique_ptr<Lease>> lease = AcquireLease(pool_, request);
        mu_.Lock();
        if (!lease.ok()) {
          ++refused_;
          last_refusal_ = lease.status();
          continue;
        }
        // "NAME @ NODE/DEVICE": the pool's device behind the leased one.
        const std::string device = (*lease)->devices()[0].properties().name;
        for (const auto& [id, held] : held_) {
          if (held->devices()[0].properties().name == device) ++granted_twice_;
        }
        ++granted_;
        order_.push_back((*lease)->id());
        held_[(*lease)->id()] = *std::move(lease);
        // Beyond `max_held` besides the kept ones, the oldest is released.
        if (held_.size() > max_held + kept_.size()) {
          for (auto it = order_.begin(); it != order_.end(); ++it) {
            if (kept_.count(*it) == 0) {
              held_.erase(*it);
              order_.erase(it);
              break;
            }
          }
        }
      }
      held_.clear();
    });
  }
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }
  // The leases held now are kept until the stream stops; returns every
  // lease kept so far.
  std::vector<std::string> KeepHeld() {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, lease] : held_) kept_.insert(id);
    return std::vector<std::string>(kept_.begin(), kept_.end());
  }
  // A device of a kept lease, to run work on while the control plane fails.
  hal::Device KeptDevice(const std::string& id) {
    absl::MutexLock lock(&mu_);
    return held_.at(id)->devices()[0];
  }
  int granted() {
    absl::MutexLock lock(&mu_);
    return granted_;
  }
  int granted_twice() {
    absl::MutexLock lock(&mu_);
    return granted_twice_;
  }
  std::string last_refusal() {
    absl::MutexLock lock(&mu_);
    return last_refusal_.ToString();
  }

 private:
  const std::string pool_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::unique_ptr<Lease>> held_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);  // of held_, oldest first
  std::set<std::string> kept_ ABSL_GUARDED_BY(mu_);
  int granted_ ABSL_GUARDED_BY(mu_) = 0;
  int granted_twice_ ABSL_GUARDED_BY(mu_) = 0;
  int refused_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_refusal_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

TEST(HaControlPlaneTest, AKilledLeaderIsReplacedWithinTwoTtlsAndNothingIsLostOrGrantedTwice) {
  START_ETCD_OR_SKIP(cluster, 3);
  ASSERT_OK_AND_ASSIGN(auto a, PooldProcess::Start(CoordinatorArgs(*cluster, "/ha", 10)));
  ASSERT_TRUE(Eventually([&] { return RoleOf(a->address()) == "leader"; }, 15));
  ASSERT_OK_AND_ASSIGN(auto b, PooldProcess::Start(CoordinatorArgs(*cluster, "/ha", 10)));
  ASSERT_TRUE(Eventually([&] { return RoleOf(b->address()) == "standby"; }, 15));
  const std::string pool = a->address() + "," + b->address();
  ASSERT_OK_AND_ASSIGN(auto node, StartNode(pool, "n1", 4, "zone=a"));
  ASSERT_TRUE(Eventually([&] { return NodeState(a->address(), "n1") == "ready"; }, 15));

  LeaseStream stream(pool);
  stream.Start(/*max_held=*/1);
  ASSERT_TRUE(Eventually([&] { return stream.granted() >= 5; }, 20)) << stream.last_refusal();
  // Two leases from before the kill, held through it.
  std::vector<std::string> kept;
  ASSERT_TRUE(Eventually(
      [&] {
        kept = stream.KeepHeld();
        return kept.size() >= 2;
      },
      10))
      << stream.last_refusal();
  ASSERT_OK(RunSaxpy(stream.KeptDevice(kept[0]), 4096));

  a->Kill();
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually([&] { return RoleOf(b->address()) == "leader"; }, 4 * kElectionTtl));
  const auto took = std::chrono::steady_clock::now() - killed;
  EXPECT_LT(took, std::chrono::seconds(2 * kElectionTtl))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";

  // The node follows, the stream goes on granting, and the leases from
  // before the kill are known to the new leader and still work.
  EXPECT_TRUE(Eventually([&] { return NodeState(b->address(), "n1") == "ready"; }, 15));
  const int before = stream.granted();
  EXPECT_TRUE(Eventually([&] { return stream.granted() >= before + 5; }, 20))
      << stream.last_refusal() << "\nn1: " << NodeState(b->address(), "n1") << "\n"
      << Leases(b->address()).DebugString() << Devices(b->address()).DebugString()
      << "\nthe new leader's log:\n"
      << b->log() << "\nthe node's log:\n"
      << node->log();
  for (const std::string& id : kept) EXPECT_TRUE(HasLease(b->address(), id)) << id;
  // It restored them from its warm copy, not by reading etcd afresh.
  EXPECT_FALSE(absl::StrContains(b->log(), "reading the pool's state from etcd")) << b->log();
  ASSERT_OK(RunSaxpy(stream.KeptDevice(kept[1]), 4096));
  stream.Stop();
  EXPECT_EQ(stream.granted_twice(), 0);
  // Every lease released: the pool is idle again, nothing leaked.
  EXPECT_TRUE(Eventually([&] { return DevicesIdle(b->address()); }, 15));
}

TEST(HaControlPlaneTest, EtcdMembersKilledOneThenTwoThenRestarted) {
  START_ETCD_OR_SKIP(cluster, 3);
  // A lease TTL longer than the outage: sessions must outlive it.
  ASSERT_OK_AND_ASSIGN(
      auto a, PooldProcess::Start(CoordinatorArgs(*cluster, "/quorum", 60, kDefaultElectionTtl)));
  ASSERT_TRUE(Eventually([&] { return RoleOf(a->address()) == "leader"; }, 15));
  ASSERT_OK_AND_ASSIGN(auto node, StartNode(a->address(), "n1", 3, "zone=a"));
  ASSERT_TRUE(Eventually([&] { return NodeState(a->address(), "n1") == "ready"; }, 15));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> running, AcquireLease(a->address(), {}));
  ASSERT_OK(RunSaxpy(running->devices()[0], 4096));

  // One member gone: nothing changes for clients.
  cluster->Kill(0);
  {
    absl::StatusOr<std::unique_ptr<Lease>> lease = AcquireLease(a->address(), {});
    ASSERT_OK(lease.status());
    ASSERT_OK((*lease)->Release());
  }
  ASSERT_OK(RunSaxpy(running->devices()[0], 4096));

  // Two gone: no quorum. New leases are refused, naming etcd; the running
  // session goes on.
  cluster->Kill(1);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<Lease>> refused = AcquireLease(a->address(), {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status() << "\n"
                                                                     << a->log();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "etcd")) << refused.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  ASSERT_OK(RunSaxpy(running->devices()[0], 4096));

  // Quorum back: leasing resumes without anyone's help, and the running
  // lease is still the pool's.
  ASSERT_OK(cluster->Restart(0));
  ASSERT_OK(cluster->Restart(1));
  ASSERT_OK(cluster->WaitUntilServing(0, 30));
  EXPECT_TRUE(Eventually(
      [&] {
        absl::StatusOr<std::unique_ptr<Lease>> lease = AcquireLease(a->address(), {});
        return lease.ok() && (*lease)->Release().ok();
      },
      30));
  EXPECT_TRUE(HasLease(a->address(), running->id())) << "the coordinator's log:\n"
                                                     << a->log() << "\nthe node's log:\n"
                                                     << node->log();
  ASSERT_OK(RunSaxpy(running->devices()[0], 4096));
  ASSERT_OK(running->Release());
  EXPECT_TRUE(Eventually([&] { return DevicesIdle(a->address()); }, 15));
}

TEST(HaControlPlaneTest, ACoordinatorStartedAfreshElsewhereRecoversThePoolFromEtcd) {
  START_ETCD_OR_SKIP(cluster, 1);
  ASSERT_OK_AND_ASSIGN(auto a, PooldProcess::Start(CoordinatorArgs(*cluster, "/fresh", 30)));
  ASSERT_TRUE(Eventually([&] { return RoleOf(a->address()) == "leader"; }, 15));
  // The replacement's address is known in advance, as an operator's list
  // of coordinators would be.
  const std::string replacement = absl::StrCat("127.0.0.1:", FreeListenPort());
  const std::string pool = a->address() + "," + replacement;
  ASSERT_OK_AND_ASSIGN(auto node, StartNode(pool, "n1", 2, "zone=a"));
  ASSERT_TRUE(Eventually([&] { return NodeState(a->address(), "n1") == "ready"; }, 15));
  ASSERT_OK_AND_ASSIGN(const std::string token,
                       CreateTenantWithPoolctl(a->address(), "risk", {"--leases", "3"}));
  LeaseRequest request;
  request.token = token;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(pool, request));

  // The coordinator and everything it had on disk are gone; a new one, in
  // a new directory on another port, has only etcd.
  a->Kill();
  ASSERT_OK_AND_ASSIGN(auto b,
                       PooldProcess::Start(CoordinatorArgs(*cluster, "/fresh", 30), replacement));
  ASSERT_TRUE(Eventually([&] { return RoleOf(b->address()) == "leader"; }, 4 * kElectionTtl));
  EXPECT_TRUE(HasLease(b->address(), lease->id()));
  bool has_risk = false;
  const v1::ListTenantsResponse tenants =
      List<v1::ListTenantsResponse>(b->address(), &v1::Coordinator::Stub::ListTenants);
  for (const v1::TenantInfo& t : tenants.tenants()) {
    has_risk |= t.name() == "risk" && t.max_leases() == 3;
  }
  EXPECT_TRUE(has_risk);
  EXPECT_TRUE(Eventually([&] { return NodeState(b->address(), "n1") == "ready"; }, 15));
  ASSERT_OK(RunSaxpy(lease->devices()[0], 4096));
  // poolctl, given both, finds the one that leads and what it keeps.
  ASSERT_OK_AND_ASSIGN(auto status, RunProgram(ACCEL_TEST_POOLCTL, {"--pool", pool, "status"}));
  EXPECT_EQ(status.first, 0) << status.second;
  EXPECT_TRUE(absl::StrContains(status.second, b->address() + "  leader")) << status.second;
  EXPECT_TRUE(absl::StrContains(status.second, a->address() + "  unreachable")) << status.second;
  // The tenant's token still opens leases with the new coordinator.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> second, AcquireLease(pool, request));
  ASSERT_OK(second->Release());
  ASSERT_OK(lease->Release());
  EXPECT_TRUE(Eventually([&] { return DevicesIdle(b->address()); }, 15));
}

}  // namespace
}  // namespace accel::testing
