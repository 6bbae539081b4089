// Lease lifecycle against a real poold on loopback: lease, use, release;
// placement constraints; a client killed with SIGKILL; a node killed with
// SIGKILL; a graceful shutdown. Nothing may leak and nothing may hang.
#include <signal.h>

#include <future>
#include <vector>

#include "absl/strings/escaping.h"
#include "accel/client/lease.h"
#include "accel/hal/hal.h"
#include "clients/remote/remote_backend.h"
#include "gtest/gtest.h"
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

class LeaseLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(poold_,
                         PooldProcess::Start({"--allow_host_kernels", "--host_devices=2",
                                              "--host_device_memory=512MiB", "--labels=zone=a"}));
  }
  std::unique_ptr<PooldProcess> poold_;
};

TEST_F(LeaseLifecycleTest, LeaseUseAndReleaseFreesEverything) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(poold_->address(), {}));
  ASSERT_EQ(lease->devices().size(), 1u);
  const hal::Device& device = lease->devices()[0];
  EXPECT_EQ(device.properties().backend, "remote");
  ASSERT_OK(RunSaxpy(device, 100000));

  ASSERT_OK_AND_ASSIGN(hal::Buffer held, device.Allocate(32 << 20));
  ASSERT_TRUE(Eventually(
      [&] {
        v1::ListLeasesResponse leases = Leases(poold_->address());
        return leases.leases_size() == 1 && leases.leases(0).memory_in_use() == (32u << 20) &&
               leases.leases(0).session_open();
      },
      10));

  ASSERT_OK(lease->Release());
  EXPECT_EQ(Leases(poold_->address()).leases_size(), 0);
  ASSERT_TRUE(Eventually([&] { return DevicesIdle(poold_->address()); }, 10));
  // The released lease's devices now refuse work, clearly and at once.
  ASSERT_TRUE(Eventually([&] { return !device.GetMemoryInfo().ok(); }, 10));
  EXPECT_STATUS(device.GetMemoryInfo(), kFailedPrecondition);
  EXPECT_STATUS(device.Allocate(16), kFailedPrecondition);
}

TEST_F(LeaseLifecycleTest, PlacementHonoursConstraintsAndCapacity) {
  LeaseRequest cuda;
  cuda.backend = "cuda";
  EXPECT_STATUS(AcquireLease(poold_->address(), cuda), kNotFound);
  LeaseRequest wrong_zone;
  wrong_zone.labels = {{"zone", "b"}};
  EXPECT_STATUS(AcquireLease(poold_->address(), wrong_zone), kNotFound);
  LeaseRequest too_big;
  too_big.min_memory = 1ull << 40;
  EXPECT_STATUS(AcquireLease(poold_->address(), too_big), kNotFound);
  LeaseRequest three;
  three.devices = 3;
  EXPECT_STATUS(AcquireLease(poold_->address(), three), kNotFound);

  LeaseRequest both;
  both.devices = 2;
  both.labels = {{"zone", "a"}};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(poold_->address(), both));
  EXPECT_EQ(lease->devices().size(), 2u);
  EXPECT_STATUS(AcquireLease(poold_->address(), {}), kResourceExhausted);
  ASSERT_OK(lease->Release());
  EXPECT_OK(AcquireLease(poold_->address(), {}));
}

TEST_F(LeaseLifecycleTest, QuotaIsEnforcedOnTheLease) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(poold_->address(), {}));
  const hal::Device& device = lease->devices()[0];
  EXPECT_EQ(device.properties().total_memory, 512u << 20);
  ASSERT_OK_AND_ASSIGN(hal::Buffer a, device.Allocate(400 << 20));
  EXPECT_STATUS(device.Allocate(200 << 20), kResourceExhausted);
  ASSERT_OK(a.Free());
  EXPECT_OK(device.Allocate(200 << 20));
}

TEST_F(LeaseLifecycleTest, OneGibibyteCopiesAreChunked) {
  const size_t size = 1 << 30;  // 256 times gRPC's default message limit
  std::vector<std::byte> in(size), out(size);
  for (size_t i = 0; i < size; i += 4096) in[i] = std::byte(i / 4096 * 7);
  // On the bulk channel (8 MiB pieces) and in band (1 MiB gRPC chunks).
  for (const char* bulk : {"--bulk_channel=true", "--bulk_channel=false"}) {
    SCOPED_TRACE(bulk);
    ASSERT_OK_AND_ASSIGN(
        auto big, PooldProcess::Start({"--host_devices=1", "--host_device_memory=1100MiB", bulk}));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(big->address(), {}));
    const hal::Device& device = lease->devices()[0];
    ASSERT_OK_AND_ASSIGN(hal::Buffer b, device.Allocate(size));
    ASSERT_OK(device.CopyToDevice(in, b));
    std::fill(out.begin(), out.end(), std::byte{0});
    ASSERT_OK(device.CopyToHost(b, absl::MakeSpan(out)));
    EXPECT_TRUE(in == out);
  }
}

TEST_F(LeaseLifecycleTest, KilledClientLosesItsLeaseAfterTheTtl) {
  ASSERT_OK_AND_ASSIGN(auto holder_pid, [&]() -> absl::StatusOr<pid_t> {
    int fds[2];
    if (pipe(fds) != 0) return absl::InternalError("pipe");
    pid_t pid = fork();
    if (pid == 0) {
      dup2(fds[1], STDOUT_FILENO);
      execl(ACCEL_TEST_LEASE_HOLDER, ACCEL_TEST_LEASE_HOLDER, poold_->address().c_str(), "2",
            "33554432", nullptr);
      _exit(127);
    }
    close(fds[1]);
    char line[128] = {};
    ssize_t n = read(fds[0], line, sizeof(line) - 1);  // blocks until "ready ..." or exit
    close(fds[0]);
    if (n <= 0 || std::string(line).rfind("ready", 0) != 0) {
      return absl::InternalError("lease_holder failed");
    }
    return pid;
  }());
  ASSERT_TRUE(Eventually(
      [&] {
        v1::ListLeasesResponse leases = Leases(poold_->address());
        return leases.leases_size() == 1 && leases.leases(0).memory_in_use() == (32u << 20);
      },
      10));
  kill(holder_pid, SIGKILL);
  waitpid(holder_pid, nullptr, 0);
  // The node frees the session's memory when the connection drops, and the
  // lease ends with its session (or at the latest when its 2 s TTL lapses).
  EXPECT_TRUE(Eventually(
      [&] {
        v1::ListDevicesResponse devices = Devices(poold_->address());
        for (const v1::DeviceInfo& d : devices.devices()) {
          if (d.used_memory() != 0) return false;
        }
        return true;
      },
      10));
  EXPECT_TRUE(Eventually([&] { return Leases(poold_->address()).leases_size() == 0; }, 10));
  // And the device is free for the next tenant.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> next, AcquireLease(poold_->address(), {}));
  EXPECT_OK(RunSaxpy(next->devices()[0], 1000));
}

TEST_F(LeaseLifecycleTest, UnmodifiedProgramsLeaseEndsWhenItExits) {
  // accel-saxpy knows nothing of pools: ACCEL_POOL makes its "remote:0" a
  // leased device. Its default registry is never torn down, so nothing
  // releases the lease at exit; its closed session must end it, long before
  // the pool's 30 s TTL.
  ASSERT_OK_AND_ASSIGN(
      auto run, RunProgram("/usr/bin/env", {"ACCEL_POOL=" + poold_->address(), ACCEL_TEST_SAXPY,
                                            "--device", "remote:0", "--n", "4096"}));
  EXPECT_EQ(run.first, 0) << run.second;
  EXPECT_NE(run.second.find("verified"), std::string::npos) << run.second;
  EXPECT_TRUE(Eventually([&] { return Leases(poold_->address()).leases_size() == 0; }, 5));
}

TEST_F(LeaseLifecycleTest, KilledNodeFailsCallsWithUnavailableNotAHang) {
  LeaseRequest request;
  request.ttl_seconds = 3;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(poold_->address(), request));
  const hal::Device& device = lease->devices()[0];
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device.CreateStream());
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device.Allocate(1 << 20));
  ASSERT_OK(stream.FillU8(b, 1));
  ASSERT_OK(stream.Synchronize());
  poold_->Kill();
  // Within two heartbeat periods (2 s at a 3 s TTL), bounded here at 10 s.
  auto synced = std::async(std::launch::async, [&] {
    absl::Status last;
    for (int i = 0; i < 100; ++i) {
      last = stream.Synchronize();
      if (!last.ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return last;
  });
  ASSERT_EQ(synced.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "hang";
  absl::Status status = synced.get();
  EXPECT_STATUS(status, kUnavailable);
  EXPECT_NE(status.message().find("lease lost"), std::string::npos) << status;
  EXPECT_STATUS(device.Allocate(16), kUnavailable);
  EXPECT_STATUS(device.GetMemoryInfo(), kUnavailable);
}

TEST_F(LeaseLifecycleTest, AdmissionRefusedIsAnErrorNotACrash) {
  // A lease that ended before its session opened: the backend must report
  // the node's refusal cleanly.
  grpc::ClientContext context;
  v1::LeaseRequest request;
  v1::LeaseResponse granted;
  ASSERT_TRUE(CoordinatorAt(poold_->address())->Lease(&context, request, &granted).ok());
  grpc::ClientContext release_context;
  v1::ReleaseRequest release;
  release.set_lease_id(granted.lease().lease_id());
  release.set_token(granted.token());
  v1::ReleaseResponse released;
  ASSERT_TRUE(CoordinatorAt(poold_->address())->Release(&release_context, release, &released).ok());
  absl::StatusOr<hal::Backend> backend = hal::Registry::OpenLinkedBackend(
      client::RemoteBackendApi(ACCEL_PLUGIN_ABI_MAJOR),
      {{"pool", poold_->address()},
       {"lease", absl::BytesToHexString(granted.SerializeAsString())}});
  EXPECT_STATUS(backend, kPermissionDenied);
  // The pool is unharmed.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(poold_->address(), {}));
  EXPECT_OK(RunSaxpy(lease->devices()[0], 1000));
}

TEST_F(LeaseLifecycleTest, OperatorRevokeEndsTheSession) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(poold_->address(), {}));
  const hal::Device& device = lease->devices()[0];
  ASSERT_OK(device.GetMemoryInfo());
  ASSERT_OK_AND_ASSIGN(auto result,
                       RunProgram(ACCEL_TEST_POOLCTL,
                                  {"--pool", poold_->address(), "lease", "release", lease->id()}));
  EXPECT_EQ(result.first, 0) << result.second;
  ASSERT_TRUE(Eventually([&] { return !device.GetMemoryInfo().ok(); }, 10));
  absl::Status status = device.GetMemoryInfo().status();
  EXPECT_STATUS(status, kUnavailable);
  EXPECT_NE(status.message().find("revoked"), std::string::npos) << status;
}

TEST_F(LeaseLifecycleTest, GracefulShutdownEndsSessionsAndExitsCleanly) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(poold_->address(), {}));
  const hal::Device& device = lease->devices()[0];
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device.Allocate(1 << 20));
  ASSERT_OK_AND_ASSIGN(int exit_status, poold_->Stop());
  EXPECT_EQ(exit_status, 0);
  ASSERT_TRUE(Eventually([&] { return !device.GetMemoryInfo().ok(); }, 10));
  EXPECT_STATUS(device.GetMemoryInfo(), kUnavailable);
}

TEST_F(LeaseLifecycleTest, PoolctlShowsLeasesAndAnswersClearlyWhenUnreachable) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(poold_->address(), {}));
  ASSERT_OK_AND_ASSIGN(auto table,
                       RunProgram(ACCEL_TEST_POOLCTL, {"--pool", poold_->address(), "leases"}));
  EXPECT_EQ(table.first, 0);
  EXPECT_NE(table.second.find(lease->id()), std::string::npos) << table.second;
  EXPECT_NE(table.second.find("EXPIRES IN"), std::string::npos) << table.second;
  ASSERT_OK_AND_ASSIGN(auto json, RunProgram(ACCEL_TEST_POOLCTL, {"--pool", poold_->address(), "-o",
                                                                  "json", "devices"}));
  EXPECT_EQ(json.first, 0);
  EXPECT_NE(json.second.find("\"leases\": 1"), std::string::npos) << json.second;
  ASSERT_OK_AND_ASSIGN(auto nodes,
                       RunProgram(ACCEL_TEST_POOLCTL, {"--pool", poold_->address(), "nodes"}));
  EXPECT_NE(nodes.second.find("ready"), std::string::npos) << nodes.second;
  ASSERT_OK_AND_ASSIGN(auto down,
                       RunProgram(ACCEL_TEST_POOLCTL, {"--pool", "127.0.0.1:1", "leases"}));
  EXPECT_EQ(down.first, 1);
}

}  // namespace
}  // namespace accel::testing
