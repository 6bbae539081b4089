// Many nodes in one pool, on loopback: a coordinator and node-mode poolds
// (each with its own host devices and labels) started as real processes.
// Nodes join, leases follow labels to the right node, a node killed with
// SIGKILL is marked lost and its leases end, a restarted node re-registers
// without duplicating devices, a node with the wrong join token is refused,
// and nodes rejoin a restarted coordinator.
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "accel/client/lease.h"
#include "accel/hal/hal.h"
#include "gtest/gtest.h"
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

// The node a lease was placed on, from the coordinator's listing.
std::string LeaseNode(const std::string& pool, const std::string& lease_id) {
  std::optional<v1::LeaseInfo> lease = FindLease(pool, lease_id);
  return lease ? lease->node() : "none";
}

class MultiNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(
        coordinator_,
        PooldProcess::Start({"--backends=none", "--node_name=coordinator",
                             "--node_heartbeat_ms=500", "--lease_ttl=3", JoinTokenFlag()}));
    ASSERT_OK_AND_ASSIGN(a_, StartNode(coordinator_->address(), "a", 1, "zone=a"));
    ASSERT_OK_AND_ASSIGN(b_, StartNode(coordinator_->address(), "b", 2, "zone=b,vendor=domestic"));
  }
  const std::string& pool() const { return coordinator_->address(); }

  std::unique_ptr<PooldProcess> coordinator_, a_, b_;
};

TEST_F(MultiNodeTest, NodesJoinAndLeasesFollowLabelsToTheirNode) {
  EXPECT_EQ(NodeState(pool(), "a"), "ready");
  EXPECT_EQ(NodeState(pool(), "b"), "ready");
  EXPECT_EQ(Devices(pool()).devices_size(), 3);

  LeaseRequest request;
  request.labels = {{"zone", "b"}};
  request.devices = 2;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> on_b, AcquireLease(pool(), request));
  EXPECT_EQ(LeaseNode(pool(), on_b->id()), "b");
  ASSERT_EQ(on_b->devices().size(), 2u);
  EXPECT_OK(RunSaxpy(on_b->devices()[1], 4096));

  request.labels = {{"zone", "a"}};
  request.devices = 1;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> on_a, AcquireLease(pool(), request));
  EXPECT_EQ(LeaseNode(pool(), on_a->id()), "a");
  EXPECT_OK(RunSaxpy(on_a->devices()[0], 4096));
  // The pool is full now, and says so.
  EXPECT_STATUS(AcquireLease(pool(), {}), kResourceExhausted);

  // Usage reported by the nodes reaches the coordinator's listing.
  ASSERT_OK_AND_ASSIGN(hal::Buffer held, on_a->devices()[0].Allocate(3 << 20));
  EXPECT_TRUE(Eventually(
      [&] {
        v1::ListLeasesResponse leases = Leases(pool());
        for (const v1::LeaseInfo& l : leases.leases()) {
          if (l.node() == "a") return l.memory_in_use() == (3u << 20) && l.session_open();
        }
        return false;
      },
      10));

  ASSERT_OK(on_b->Release());
  ASSERT_OK(on_a->Release());
  EXPECT_TRUE(Eventually([&] { return Leases(pool()).leases_size() == 0; }, 10));
}

// binpack fills the node with the fewest free devices (a: one), spread the
// one with the most (b: two); poolctl says why.
TEST_F(MultiNodeTest, PoliciesChooseNodesAndPoolctlExplainsWhy) {
  LeaseRequest request;
  request.policy = "binpack";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> packed, AcquireLease(pool(), request));
  EXPECT_EQ(LeaseNode(pool(), packed->id()), "a");
  ASSERT_OK(packed->Release());
  request.policy = "spread";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> spread, AcquireLease(pool(), request));
  EXPECT_EQ(LeaseNode(pool(), spread->id()), "b");
  ASSERT_OK_AND_ASSIGN(auto listed, RunProgram(ACCEL_TEST_POOLCTL, {"--pool", pool(), "leases"}));
  EXPECT_TRUE(absl::StrContains(listed.second, "spread: node b had 2 of 2 device(s) free"))
      << listed.second;
  ASSERT_OK_AND_ASSIGN(auto explained, RunProgram(ACCEL_TEST_POOLCTL, {"--pool", pool(), "lease",
                                                                       "explain", spread->id()}));
  EXPECT_TRUE(absl::StrContains(explained.second, "the most of the ready nodes"))
      << explained.second;
}

// A gang of three devices from nodes a (one device) and b (two): the client
// opens a session on each node and uses all three; losing one node ends
// the lease on the other too.
TEST_F(MultiNodeTest, AGangAcrossNodesWorksOnEachNodeAndEndsTogether) {
  LeaseRequest request;
  request.devices = 3;
  EXPECT_STATUS(AcquireLease(pool(), request), kNotFound);  // no node has three
  request.across_nodes = true;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> gang, AcquireLease(pool(), request));
  ASSERT_EQ(gang->devices().size(), 3u);
  std::optional<v1::LeaseInfo> listed = FindLease(pool(), gang->id());
  ASSERT_TRUE(listed.has_value());
  std::set<std::string> nodes;
  for (const v1::LeasedDevice& d : listed->devices()) nodes.insert(d.device().node());
  EXPECT_EQ(nodes, (std::set<std::string>{"a", "b"}));
  for (const hal::Device& d : gang->devices()) EXPECT_OK(RunSaxpy(d, 4096));

  // Node a dies: the lease ends, and b's session with it.
  size_t on_b = 0;
  while (listed->devices(static_cast<int>(on_b)).device().node() != "b") ++on_b;
  a_->Kill();
  EXPECT_TRUE(Eventually([&] { return !HasLease(pool(), gang->id()); }, 10));
  EXPECT_TRUE(Eventually(
      [&] {
        absl::StatusOr<hal::Buffer> b = gang->devices()[on_b].Allocate(64);
        return !b.ok() && absl::StrContains(b.status().message(), "lease lost");
      },
      10));
  EXPECT_TRUE(Eventually(
      [&] {
        const v1::ListDevicesResponse devices = Devices(pool());
        for (const v1::DeviceInfo& d : devices.devices()) {
          if (d.node() == "b" && (d.leases() != 0 || d.used_memory() != 0)) return false;
        }
        return true;
      },
      10));
}

TEST_F(MultiNodeTest, KilledNodeIsLostItsLeasesEndAndItRejoinsWithoutDuplicates) {
  LeaseRequest request;
  request.labels = {{"zone", "b"}};
  request.ttl_seconds = 3;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(pool(), request));
  const hal::Device& device = lease->devices()[0];
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device.CreateStream());
  ASSERT_OK(stream.Synchronize());

  b_->Kill();
  // Lost at once (its link breaks), or after three silent heartbeat
  // periods (1.5 s) at most; bounded at 10 s here.
  EXPECT_TRUE(Eventually([&] { return NodeState(pool(), "b") == "lost"; }, 10));
  EXPECT_TRUE(Eventually([&] { return Leases(pool()).leases_size() == 0; }, 10));
  // The holder's calls fail with UNAVAILABLE, never hang.
  auto synced = std::async(std::launch::async, [&] {
    absl::Status last;
    for (int i = 0; i < 100 && last.ok(); ++i) {
      last = stream.Synchronize();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return last;
  });
  ASSERT_EQ(synced.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "hang";
  EXPECT_STATUS(synced.get(), kUnavailable);
  // A lost node's devices are not offered.
  request.ttl_seconds = 0;
  EXPECT_STATUS(AcquireLease(pool(), request), kResourceExhausted);

  // The node comes back under its name: its devices are the same three, not five.
  ASSERT_OK_AND_ASSIGN(b_, StartNode(pool(), "b", 2, "zone=b,vendor=domestic"));
  EXPECT_EQ(NodeState(pool(), "b"), "ready");
  EXPECT_EQ(Devices(pool()).devices_size(), 3);
  EXPECT_EQ(Nodes(pool()).nodes_size(), 3);  // the coordinator, a and b
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> again, AcquireLease(pool(), request));
  EXPECT_OK(RunSaxpy(again->devices()[0], 1024));
}

TEST_F(MultiNodeTest, SilentNodeIsLostAndRejoinsWhenItWakes) {
  // SIGSTOP: the node's link stays up but it says nothing. After three
  // silent heartbeat periods it is lost; woken, it is told so and registers
  // again, with its drain intact.
  grpc::ClientContext context;
  v1::DrainNodeRequest drain;
  drain.set_node("b");
  v1::DrainNodeResponse drained;
  ASSERT_TRUE(OperatorAt(pool())->DrainNode(&context, drain, &drained).ok());
  kill(b_->pid(), SIGSTOP);
  EXPECT_TRUE(Eventually([&] { return NodeState(pool(), "b") == "lost"; }, 10));
  kill(b_->pid(), SIGCONT);
  EXPECT_TRUE(Eventually([&] { return NodeState(pool(), "b") == "draining"; }, 10));
  EXPECT_EQ(Devices(pool()).devices_size(), 3);
}

TEST_F(MultiNodeTest, ANodeCannotTakeTheCoordinatorsOwnName) {
  ASSERT_OK_AND_ASSIGN(auto refused,
                       RunProgram(ACCEL_TEST_POOLD,
                                  {"--listen=127.0.0.1:0", "--coordinator=" + pool(),
                                   "--node_name=coordinator", "--host_devices=1", JoinTokenFlag()},
                                  20));
  EXPECT_NE(refused.first, 0);
  EXPECT_NE(refused.second.find("coordinator's own node"), std::string::npos) << refused.second;
  EXPECT_EQ(NodeState(pool(), "coordinator"), "ready");
}

// Open descriptors and threads of a process, from /proc.
std::pair<int, int> FdsAndThreads(pid_t pid) {
  int fds = 0;
  if (DIR* dir = opendir(absl::StrCat("/proc/", pid, "/fd").c_str())) {
    while (readdir(dir) != nullptr) ++fds;
    closedir(dir);
  }
  int threads = 0;
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Threads:", 0) == 0) threads = std::atoi(line.c_str() + 8);
  }
  return {fds, threads};
}

TEST_F(MultiNodeTest, AThousandLeaseCyclesLeakNothingOnAnyNode) {
  // A thousand in the plain build; under AddressSanitizer, whose leak check
  // runs in every process as well, a cycle costs several times as much, so
  // a quarter of them keeps the test within its time.
#if defined(__SANITIZE_ADDRESS__)
  constexpr int kCycles = 250;
#else
  constexpr int kCycles = 1000;
#endif
  // Warm up once, so that lazily created pools (gRPC's threads, the module
  // cache) are there before the baseline is taken.
  auto cycle = [&](int i) -> absl::Status {
    LeaseRequest request;
    request.labels = {{"zone", i % 2 == 0 ? "a" : "b"}};
    absl::StatusOr<std::unique_ptr<Lease>> lease = AcquireLease(pool(), request);
    if (!lease.ok()) return lease.status();
    const hal::Device& device = (*lease)->devices()[0];
    absl::StatusOr<hal::Buffer> b = device.Allocate(64 << 10);
    if (!b.ok()) return b.status();
    absl::StatusOr<hal::Stream> stream = device.CreateStream();
    if (!stream.ok()) return stream.status();
    std::vector<std::byte> bytes(64 << 10, std::byte{1});
    if (absl::Status s = stream->CopyToDevice(bytes, *b); !s.ok()) return s;
    if (absl::Status s = stream->CopyToHost(*b, absl::MakeSpan(bytes)); !s.ok()) return s;
    if (absl::Status s = stream->Synchronize(); !s.ok()) return s;
    return i % 3 == 0 ? absl::OkStatus() : (*lease)->Release();  // some just go away
  };
  ASSERT_OK(cycle(0));
  ASSERT_OK(cycle(1));
  ASSERT_TRUE(Eventually([&] { return Leases(pool()).leases_size() == 0; }, 10));
  const auto a_before = FdsAndThreads(a_->pid()), b_before = FdsAndThreads(b_->pid());
  const auto coordinator_before = FdsAndThreads(coordinator_->pid());
  ASSERT_GT(a_before.first, 0);  // /proc is readable: the checks below mean something
  ASSERT_GT(a_before.second, 1);

  for (int i = 0; i < kCycles; ++i) {
    const absl::Status s = cycle(i);
    ASSERT_TRUE(s.ok()) << "cycle " << i << ": " << s;
  }

  // Nothing is held anywhere: no lease, no memory, no extra descriptors or
  // threads on the nodes or the coordinator (a few may still be closing).
  EXPECT_TRUE(Eventually([&] { return Leases(pool()).leases_size() == 0; }, 10));
  EXPECT_TRUE(Eventually([&] { return DevicesIdle(pool()); }, 10));
  for (auto [process, before] :
       {std::make_pair(a_.get(), a_before), std::make_pair(b_.get(), b_before),
        std::make_pair(coordinator_.get(), coordinator_before)}) {
    EXPECT_TRUE(Eventually(
        [&] {
          const auto now = FdsAndThreads(process->pid());
          return now.first <= before.first + 4 && now.second <= before.second + 4;
        },
        10))
        << "pid " << process->pid() << ": fds " << before.first << " -> "
        << FdsAndThreads(process->pid()).first << ", threads " << before.second << " -> "
        << FdsAndThreads(process->pid()).second;
  }
}

TEST_F(MultiNodeTest, OperatorsCordonDrainAndWatchNodes) {
  auto poolctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--pool", pool()});
    return RunProgram(ACCEL_TEST_POOLCTL, args);
  };
  LeaseRequest on_b;
  on_b.labels = {{"zone", "b"}};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(pool(), on_b));
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, lease->devices()[0].CreateStream());

  // Cordoned: no new lease there, the live one keeps working.
  ASSERT_OK_AND_ASSIGN(auto cordoned, poolctl({"cordon", "b"}));
  EXPECT_EQ(cordoned.first, 0) << cordoned.second;
  EXPECT_EQ(NodeState(pool(), "b"), "draining");
  EXPECT_STATUS(AcquireLease(pool(), on_b), kResourceExhausted);
  EXPECT_OK(stream.Synchronize());

  // Drained: its leases are revoked too, and their holders told so.
  ASSERT_OK_AND_ASSIGN(auto drained, poolctl({"drain", "b"}));
  EXPECT_EQ(drained.first, 0) << drained.second;
  EXPECT_NE(drained.second.find("1 lease(s) revoked"), std::string::npos) << drained.second;
  ASSERT_TRUE(Eventually([&] { return !stream.Synchronize().ok(); }, 10));
  absl::Status revoked = stream.Synchronize();
  EXPECT_STATUS(revoked, kUnavailable);
  EXPECT_NE(revoked.message().find("revoked"), std::string::npos) << revoked;

  ASSERT_OK_AND_ASSIGN(auto uncordoned, poolctl({"uncordon", "b"}));
  EXPECT_EQ(uncordoned.first, 0) << uncordoned.second;
  EXPECT_EQ(NodeState(pool(), "b"), "ready");
  EXPECT_OK(AcquireLease(pool(), on_b));

  // top redraws the devices a bounded number of times.
  ASSERT_OK_AND_ASSIGN(auto top, poolctl({"top", "--interval", "0.1", "--iterations", "2"}));
  EXPECT_EQ(top.first, 0) << top.second;
  size_t frames = 0;
  for (size_t at = top.second.find("poolctl top:"); at != std::string::npos;
       at = top.second.find("poolctl top:", at + 1)) {
    ++frames;
  }
  EXPECT_EQ(frames, 2u) << top.second;
  EXPECT_NE(top.second.find("b/host:1"), std::string::npos) << top.second;
}

TEST_F(MultiNodeTest, GracefullyStoppedNodeLeavesThePool) {
  ASSERT_OK_AND_ASSIGN(int status, a_->Stop());
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(Eventually([&] { return NodeState(pool(), "a") == "lost"; }, 10));
}

TEST(MultiNodeRestartTest, NodesRejoinARestartedCoordinator) {
  const std::string listen = absl::StrCat("127.0.0.1:", FreeListenPort());
  const std::vector<std::string> args = {"--backends=none", "--node_name=coordinator",
                                         "--node_heartbeat_ms=500", JoinTokenFlag()};
  ASSERT_OK_AND_ASSIGN(auto coordinator, PooldProcess::Start(args, listen));
  ASSERT_OK_AND_ASSIGN(auto node, StartNode(listen, "n", 1, "zone=a"));
  EXPECT_EQ(NodeState(listen, "n"), "ready");

  coordinator->Kill();
  ASSERT_OK_AND_ASSIGN(coordinator, PooldProcess::Start(args, listen));
  // The node retries at most every 2 s; bounded at 15 s here.
  EXPECT_TRUE(Eventually([&] { return NodeState(listen, "n") == "ready"; }, 15));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(listen, {}));
  EXPECT_EQ(LeaseNode(listen, lease->id()), "n");
  EXPECT_OK(RunSaxpy(lease->devices()[0], 1024));
}

// The coordinator is killed with live leases and restarted on its state
// file: sessions on nodes keep working meanwhile, the client's lease is
// still there and renews, tenants and drains are kept, and the lease of a
// node that did not come back ends with the reason.
TEST(MultiNodeRestartTest, AKilledCoordinatorComesBackWithItsStateAndLiveLeases) {
#ifndef ACCEL_TEST_HAVE_STATE
  GTEST_SKIP() << "poold was built without SQLite (libsqlite3-dev): no --state";
#endif
  ScopedTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string listen = absl::StrCat("127.0.0.1:", FreeListenPort());
  const std::vector<std::string> args = {
      "--backends=none", "--node_name=coordinator",        "--node_heartbeat_ms=500",
      "--lease_ttl=6",   "--state=" + dir.Path("pool.db"), JoinTokenFlag()};
  ASSERT_OK_AND_ASSIGN(auto coordinator, PooldProcess::Start(args, listen));
  ASSERT_OK_AND_ASSIGN(auto a, StartNode(listen, "a", 1, "zone=a"));
  ASSERT_OK_AND_ASSIGN(auto b, StartNode(listen, "b", 1, "zone=b"));
  ASSERT_OK_AND_ASSIGN(auto c, StartNode(listen, "c", 1, "zone=c"));
  auto poolctl = [&](std::vector<std::string> words) {
    words.insert(words.begin(), {"--pool", listen});
    absl::StatusOr<std::pair<int, std::string>> run = RunProgram(ACCEL_TEST_POOLCTL, words);
    return run.ok() ? run->second : run.status().ToString();
  };
  ASSERT_OK_AND_ASSIGN(const std::string token,
                       CreateTenantWithPoolctl(listen, "risk", {"--leases", "5"}));
  EXPECT_TRUE(absl::StrContains(poolctl({"cordon", "b"}), "cordoned"));
  LeaseRequest on_a, on_c;
  on_a.token = on_c.token = token;
  on_a.labels = {{"zone", "a"}};
  on_c.labels = {{"zone", "c"}};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(listen, on_a));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> doomed, AcquireLease(listen, on_c));
  ASSERT_OK(RunSaxpy(lease->devices()[0], 4096));

  coordinator->Kill();
  c->Kill();  // a node that never comes back
  // The session on node a works without the coordinator.
  ASSERT_OK(RunSaxpy(lease->devices()[0], 4096));
  ASSERT_OK_AND_ASSIGN(coordinator, PooldProcess::Start(args, listen));
  EXPECT_TRUE(Eventually([&] { return NodeState(listen, "a") == "ready"; }, 15));
  EXPECT_TRUE(Eventually([&] { return NodeState(listen, "b") == "draining"; }, 15));
  ASSERT_TRUE(HasLease(listen, lease->id()));
  const std::string tenants = poolctl({"tenants"});
  EXPECT_TRUE(absl::StrContains(tenants, "risk")) << tenants;
  // Past a renewal period (TTL 6 s: every 2 s) the lease is still there:
  // the client renewed it with the restarted coordinator.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ASSERT_TRUE(HasLease(listen, lease->id()));
  ASSERT_OK(RunSaxpy(lease->devices()[0], 4096));
  // Node c did not rejoin within the grace (5 s here): its lease ended, and
  // its holder is told why.
  EXPECT_TRUE(Eventually([&] { return !HasLease(listen, doomed->id()); }, 15));
  EXPECT_TRUE(Eventually(
      [&] {
        absl::StatusOr<hal::Buffer> b = doomed->devices()[0].Allocate(64);
        return !b.ok() && absl::StrContains(b.status().message(), "lease lost");
      },
      15));
  ASSERT_OK(lease->Release());
  EXPECT_TRUE(Eventually([&] { return DevicesIdle(listen); }, 10));
}

TEST(MultiNodeJoinTokenTest, OnlyNodesWithThePoolsJoinTokenAreAdmitted) {
  const std::string dir = ::testing::TempDir();
  const std::string good = dir + "/join_token_good", bad = dir + "/join_token_bad";
  std::ofstream(good) << "s3cret-join-token-0123456789\n";
  std::ofstream(bad) << "not-the-pool-token-0123456789\n";
  ASSERT_OK_AND_ASSIGN(auto coordinator,
                       PooldProcess::Start({"--backends=none", "--join_token_file=" + good}));

  // Refused at once, with the reason, and the process exits non-zero.
  ASSERT_OK_AND_ASSIGN(
      auto refused,
      RunProgram(ACCEL_TEST_POOLD,
                 {"--listen=127.0.0.1:0", "--coordinator=" + coordinator->address(),
                  "--node_name=intruder", "--host_devices=1", "--join_token_file=" + bad},
                 20));
  EXPECT_NE(refused.first, 0);
  EXPECT_NE(refused.second.find("wrong join token"), std::string::npos) << refused.second;
  EXPECT_EQ(NodeState(coordinator->address(), "intruder"), "absent");

  ASSERT_OK_AND_ASSIGN(auto node, StartNode(coordinator->address(), "member", 1, "zone=a",
                                            {"--join_token_file=" + good}));
  EXPECT_EQ(NodeState(coordinator->address(), "member"), "ready");
}

// With per-node tokens, each listed node joins only with its own: a node
// cannot borrow another's, and one that is not listed needs another
// credential.
TEST(MultiNodeJoinTokenTest, EachListedNodeJoinsOnlyWithItsOwnToken) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.ok());
  std::ofstream(dir.Path("b")) << "node-b-own-token-51aa\n";
  std::ofstream(dir.Path("c")) << "node-c-own-token-7e02\n";
  std::ofstream(dir.Path("nodes"))
      << "node b token_sha256=" << absl::BytesToHexString(pool::Sha256("node-b-own-token-51aa"))
      << "\nnode c token_sha256=" << absl::BytesToHexString(pool::Sha256("node-c-own-token-7e02"))
      << "\n";
  ASSERT_OK_AND_ASSIGN(
      auto coordinator,
      PooldProcess::Start({"--backends=none", "--node_tokens=" + dir.Path("nodes")}));
  ASSERT_OK_AND_ASSIGN(auto b, StartNode(coordinator->address(), "b", 1, "zone=a",
                                         {"--join_token_file=" + dir.Path("b")}));
  EXPECT_EQ(NodeState(coordinator->address(), "b"), "ready");
  auto refused = [&](const std::string& name, const std::string& token_file) {
    std::vector<std::string> args = {"--listen=127.0.0.1:0",
                                     "--coordinator=" + coordinator->address(),
                                     "--node_name=" + name, "--host_devices=1"};
    if (!token_file.empty()) args.push_back("--join_token_file=" + token_file);
    absl::StatusOr<std::pair<int, std::string>> run = RunProgram(ACCEL_TEST_POOLD, args, 20);
    return run.ok() && run->first != 0 ? run->second : std::string("it joined");
  };
  EXPECT_TRUE(absl::StrContains(refused("c", dir.Path("b")), "wrong node token for node c"));
  EXPECT_TRUE(absl::StrContains(refused("d", dir.Path("b")), "has none for this node"));
  EXPECT_EQ(NodeState(coordinator->address(), "c"), "absent");
  EXPECT_EQ(NodeState(coordinator->address(), "d"), "absent");
}

// A pool with neither a join token nor a CA for node certificates admits no
// node: calling from its own host (or through a forwarder there) is no
// credential.
TEST(MultiNodeJoinTokenTest, APoolWithoutNodeCredentialsAdmitsNoNodeFromAnywhere) {
  ASSERT_OK_AND_ASSIGN(auto coordinator, PooldProcess::Start({"--backends=none"}));
  ASSERT_OK_AND_ASSIGN(
      auto refused, RunProgram(ACCEL_TEST_POOLD,
                               {"--listen=127.0.0.1:0", "--coordinator=" + coordinator->address(),
                                "--node_name=local", "--host_devices=1"},
                               20));
  EXPECT_NE(refused.first, 0);
  EXPECT_NE(refused.second.find("admits nodes by join token"), std::string::npos) << refused.second;
  EXPECT_EQ(NodeState(coordinator->address(), "local"), "absent");
}

}  // namespace
}  // namespace accel::testing
