// Tenants on one device cannot reach or disturb each other: every session
// runs in a worker process of its own (pool/worker/), so a kernel that
// faults ends only its own session, and the node's watchdog ends a kernel
// that never returns. Real poolds on loopback, hostile kernels from
// tests/kernels/host/hostile_kernels.c.
#include <dirent.h>

#include <cerrno>

#include <chrono>
#include <fstream>
#include <future>
#include <iterator>
#include <set>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "accel/client/lease.h"
#include "accel/hal/hal.h"
#include "gtest/gtest.h"
#include "pool/common/sha256.h"
#include "tests/common/scoped_temp_dir.h"
#include "tests/common/status_matchers.h"
#include "tests/common/thread_count.h"
#include "tests/pool/pool_test_util.h"
#include "tests/pool/poold_process.h"
#include "tests/pool/saxpy_check.h"

namespace accel::testing {
namespace {

namespace hal = ::accel::hal;
using client::AcquireLease;
using client::Lease;
using client::LeaseRequest;

constexpr char kAliceToken[] = "alice-token-0123456789abcdef";
constexpr char kBobToken[] = "bob-token-0123456789abcdef";

// The processes whose parent is `parent`.
std::set<pid_t> ChildrenOf(pid_t parent) {
  std::set<pid_t> children;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return children;
  while (dirent* entry = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // pid (comm) state ppid ...: comm may hold spaces, so parse after ')'.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ');
    int ppid = 0;
    if (fields.size() > 1 && absl::SimpleAtoi(fields[1], &ppid) && ppid == parent) {
      children.insert(pid);
    }
  }
  closedir(proc);
  return children;
}

absl::StatusOr<hal::Kernel> HostileKernel(const hal::Device& device, const std::string& name) {
  std::ifstream in(ACCEL_TEST_HOSTILE_KERNELS, std::ios::binary);
  std::string image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  absl::StatusOr<hal::Module> module = device.LoadModule(hal::ImageFormat::kHostElf, image);
  if (!module.ok()) return module.status();
  return module->GetKernel(name);
}

// A kernel of the test bundle (spin, fill, ...), loaded on `device`.
absl::StatusOr<hal::Kernel> BundleKernel(const hal::Device& device, const std::string& name) {
  absl::StatusOr<hal::ModuleBundle> bundle = hal::ModuleBundle::ReadFile(ACCEL_TEST_KERNEL_BUNDLE);
  if (!bundle.ok()) return bundle.status();
  absl::StatusOr<hal::Module> module = device.LoadModule(*bundle);
  if (!module.ok()) return module.status();
  return module->GetKernel(name);
}

constexpr hal::LaunchConfig kOneThread{{1, 1, 1}, {1, 1, 1}, 0};

// Launches a kernel that never returns on `device`, whose session the
// watchdog must end, naming it.
void ExpectTheWatchdogEndsASpin(const hal::Device& device) {
  ASSERT_OK_AND_ASSIGN(hal::Kernel spin, HostileKernel(device, "spin_forever"));
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device.CreateStream());
  ASSERT_OK(stream.Launch(spin, kOneThread, {}));
  absl::Status ended = stream.Synchronize();
  EXPECT_EQ(ended.code(), absl::StatusCode::kDeadlineExceeded) << ended;
  EXPECT_TRUE(absl::StrContains(ended.message(), "spin_forever")) << ended;
}

class IsolationTest : public ::testing::Test {
 protected:
  // A pool of one 256 MiB host device that tenants alice and bob share.
  // `alice` adds to alice's line in the tenant file.
  void StartPool(std::vector<std::string> flags, const std::string& alice = "") {
    ASSERT_TRUE(dir_.ok());
    std::ofstream(dir_.Path("tenants"))
        << "tenant alice " << alice
        << " token_sha256=" << absl::BytesToHexString(pool::Sha256(kAliceToken))
        << "\ntenant bob token_sha256=" << absl::BytesToHexString(pool::Sha256(kBobToken)) << "\n";
    flags.insert(flags.end(), {"--allow_host_kernels", "--host_devices=1",
                               "--host_device_memory=256MiB", "--tenants=" + dir_.Path("tenants")});
    ASSERT_OK_AND_ASSIGN(poold_, PooldProcess::Start(flags));
  }
  absl::StatusOr<std::unique_ptr<Lease>> LeaseAs(const std::string& token, uint64_t memory) {
    LeaseRequest request;
    request.token = token;
    request.memory = memory;
    return AcquireLease(poold_->address(), request);
  }
  ScopedTempDir dir_;
  std::unique_ptr<PooldProcess> poold_;
};

TEST_F(IsolationTest, AKernelThatFaultsEndsOnlyItsOwnSession) {
  StartPool({});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> alice, LeaseAs(kAliceToken, 64 << 20));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> bob, LeaseAs(kBobToken, 64 << 20));
  const hal::Device& a = alice->devices()[0];
  const hal::Device& b = bob->devices()[0];
  ASSERT_EQ(FindLease(poold_->address(), alice->id())->devices(0).device().id(),
            FindLease(poold_->address(), bob->id())->devices(0).device().id());
  ASSERT_OK(RunSaxpy(a, 4096));
  ASSERT_OK(RunSaxpy(b, 4096));
  // Each session is a process of its own, beside poold.
  const std::set<pid_t> workers = ChildrenOf(poold_->pid());
  EXPECT_EQ(workers.size(), 2u);
  EXPECT_EQ(workers.count(poold_->pid()), 0u);

  ASSERT_OK_AND_ASSIGN(hal::Kernel wild, HostileKernel(a, "wild_write"));
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, a.CreateStream());
  ASSERT_OK(stream.Launch(wild, kOneThread, {uint64_t{0x10}}));
  absl::Status faulted = stream.Synchronize();
  // SIGSEGV, or (under AddressSanitizer, which catches it) exit status 1.
  EXPECT_TRUE(faulted.code() == absl::StatusCode::kAborted ||
              faulted.code() == absl::StatusCode::kInternal)
      << faulted;
  EXPECT_TRUE(absl::StrContains(faulted.message(), "worker process")) << faulted;
  EXPECT_FALSE(a.Allocate(64).ok());  // that session is over

  // Bob's session, on the same device, never noticed.
  ASSERT_OK(RunSaxpy(b, 4096));
  EXPECT_TRUE(Eventually([&] { return ChildrenOf(poold_->pid()).size() == 1; }, 10));
  EXPECT_TRUE(absl::StrContains(poold_->log(), "worker process")) << poold_->log();
  // And alice may lease again.
  alice.reset();
  ASSERT_OK_AND_ASSIGN(alice, LeaseAs(kAliceToken, 64 << 20));
  ASSERT_OK(RunSaxpy(alice->devices()[0], 4096));
}

// What a sandboxed kernel's escape attempt left in its output: the call's
// result, or -errno.
absl::StatusOr<int64_t> TryEscape(const hal::Device& device, const std::string& kernel) {
  absl::StatusOr<hal::Kernel> k = HostileKernel(device, kernel);
  if (!k.ok()) return k.status();
  absl::StatusOr<hal::Buffer> out = device.Allocate(sizeof(int64_t));
  if (!out.ok()) return out.status();
  absl::StatusOr<hal::Stream> stream = device.CreateStream();
  if (!stream.ok()) return stream.status();
  int64_t result = 0;
  absl::Status s = stream->Launch(*k, kOneThread, {*out});
  if (s.ok()) s = stream->CopyToHost(*out, hal::AsWritableBytes(absl::MakeSpan(&result, 1)));
  if (s.ok()) s = stream->Synchronize();
  if (!s.ok()) return s;
  return result;
}

TEST_F(IsolationTest, AHostKernelCannotOpenFilesUseTheNetworkOrStartProcesses) {
  StartPool({});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> bob, LeaseAs(kBobToken, 64 << 20));
  ASSERT_OK(RunSaxpy(bob->devices()[0], 4096));
  // Files fail politely: the kernel sees EACCES and the session goes on.
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> alice, LeaseAs(kAliceToken, 64 << 20));
    ASSERT_OK_AND_ASSIGN(int64_t opened, TryEscape(alice->devices()[0], "try_open"));
    EXPECT_EQ(opened, -EACCES);
    ASSERT_OK(RunSaxpy(alice->devices()[0], 4096));
  }
  // A socket or a new process ends the session, and says why.
  for (const char* escape : {"try_socket", "try_fork"}) {
    SCOPED_TRACE(escape);
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> alice, LeaseAs(kAliceToken, 64 << 20));
    absl::StatusOr<int64_t> result = TryEscape(alice->devices()[0], escape);
    ASSERT_FALSE(result.ok()) << "the kernel got " << *result;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted) << result.status();
    EXPECT_TRUE(absl::StrContains(result.status().message(), "sandbox")) << result.status();
  }
  // Bob, on the same device, never noticed.
  ASSERT_OK(RunSaxpy(bob->devices()[0], 4096));
}

TEST_F(IsolationTest, WhatAKernelWritesToStderrReachesPooldsLogMarkedAndLimited) {
  StartPool({});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> alice, LeaseAs(kAliceToken, 64 << 20));
  const std::string id = alice->id();
  {
    ASSERT_OK_AND_ASSIGN(hal::Kernel forge, HostileKernel(alice->devices()[0], "forge_log"));
    ASSERT_OK_AND_ASSIGN(hal::Stream stream, alice->devices()[0].CreateStream());
    ASSERT_OK(stream.Launch(forge, kOneThread, {}));
    ASSERT_OK(stream.Synchronize());
  }
  alice.reset();  // its worker ends: what it wrote is all relayed
  const std::string marked = "poold: lease " + id + ": worker: ";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string log;
  while ((log = poold_->log()).find("more lines not shown") == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << log;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  int forged = 0, held_back = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, "l-forged")) {
      ++forged;
      EXPECT_EQ(line, marked + "poold: lease l-forged: granted\\x1b[2J");
    } else if (absl::ConsumePrefix(&line, marked + "(")) {
      int count = 0;
      EXPECT_TRUE(absl::SimpleAtoi(line.substr(0, line.find(' ')), &count)) << line;
      held_back += count;
    }
  }
  // The burst of 50 (and one more a tenth of a second, on a slow machine);
  // the rest are counted.
  EXPECT_GE(forged, 50);
  EXPECT_LE(forged, 70);
  EXPECT_EQ(forged + held_back, 200);
  EXPECT_FALSE(absl::StrContains(log, "\x1b"));
}

TEST_F(IsolationTest, TheWatchdogEndsASpinningKernelOnASharedDevice) {
  StartPool({"--max_shared_kernel_seconds=1"});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> alice, LeaseAs(kAliceToken, 64 << 20));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> bob, LeaseAs(kBobToken, 64 << 20));
  const hal::Device& a = alice->devices()[0];
  const hal::Device& b = bob->devices()[0];
  ASSERT_OK(RunSaxpy(b, 4096));
  ASSERT_OK_AND_ASSIGN(hal::Kernel spin, HostileKernel(a, "spin_forever"));
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, a.CreateStream());
  const auto launched = std::chrono::steady_clock::now();
  ASSERT_OK(stream.Launch(spin, kOneThread, {}));
  // Bob's launches wait behind the spinning kernel's turn, then go on.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::future<absl::Status> bob_saxpy =
      std::async(std::launch::async, [&] { return RunSaxpy(b, 4096); });
  absl::Status ended = stream.Synchronize();
  const auto took = std::chrono::steady_clock::now() - launched;
  EXPECT_EQ(ended.code(), absl::StatusCode::kDeadlineExceeded) << ended;
  EXPECT_TRUE(absl::StrContains(ended.message(), "spin_forever")) << ended;
  EXPECT_LT(took, std::chrono::seconds(2));  // max_shared_kernel_seconds + 1 s
  ASSERT_OK(bob_saxpy.get());
  ASSERT_OK(RunSaxpy(b, 4096));
  // Nothing is left hanging: SIGTERM ends poold at once.
  ASSERT_OK_AND_ASSIGN(int status, poold_->Stop(5));
  EXPECT_EQ(status, 0);
}

TEST_F(IsolationTest, TheWatchdogEndsASpinningKernelOnAWholeDeviceWhenAsked) {
  StartPool({"--max_kernel_seconds=1"});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> alice, LeaseAs(kAliceToken, 0));
  const hal::Device& a = alice->devices()[0];
  ASSERT_OK(RunSaxpy(a, 4096));  // watched launches still work
  ExpectTheWatchdogEndsASpin(a);
  // The device is free again for the next lease.
  alice.reset();
  EXPECT_TRUE(Eventually([&] { return DevicesIdle(poold_->address()); }, 10));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> bob, LeaseAs(kBobToken, 0));
  ASSERT_OK(RunSaxpy(bob->devices()[0], 4096));
}

TEST_F(IsolationTest, ATenantsOwnKernelTimeLimitReplacesThePools) {
  StartPool({}, "max_kernel_seconds=1");  // the pool's own: none on whole devices
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> alice, LeaseAs(kAliceToken, 0));
  const hal::Device& a = alice->devices()[0];
  ExpectTheWatchdogEndsASpin(a);
}

TEST_F(IsolationTest, FreedMemoryReturnsToTheQuotaOnlyOnceItsQueuedWorkIsDone) {
  StartPool({});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> alice, LeaseAs(kAliceToken, 64 << 20));
  const hal::Device& a = alice->devices()[0];
  ASSERT_OK_AND_ASSIGN(hal::Kernel spin, BundleKernel(a, "spin"));
  ASSERT_OK_AND_ASSIGN(hal::MemoryInfo before, a.GetMemoryInfo());
  ASSERT_OK_AND_ASSIGN(hal::Buffer big, a.Allocate(40 << 20));
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, a.CreateStream());
  ASSERT_OK(stream.Launch(spin, kOneThread, {uint64_t{500000}}));  // 0.5 s
  ASSERT_OK(stream.FillU32(big, 7));
  ASSERT_OK(big.Free());
  // The fill still has the buffer: its memory is not the lease's to use yet.
  ASSERT_OK_AND_ASSIGN(hal::MemoryInfo queued, a.GetMemoryInfo());
  EXPECT_LE(queued.free_bytes + (40 << 20), before.free_bytes);
  // An allocation that needs it waits for it, as a device runtime's free does.
  ASSERT_OK(a.Allocate(40 << 20).status());
  ASSERT_OK(stream.Synchronize());
}

// A session's streams share a few threads in its worker, however many there
// are and however many wait on another stream's event.
TEST_F(IsolationTest, AWorkersThreadsDoNotGrowWithItsStreams) {
  StartPool({});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> alice, LeaseAs(kAliceToken, 64 << 20));
  const hal::Device& a = alice->devices()[0];
  ASSERT_OK_AND_ASSIGN(hal::Kernel spin, BundleKernel(a, "spin"));
  ASSERT_OK_AND_ASSIGN(hal::Buffer flag, a.Allocate(4));
  ASSERT_OK_AND_ASSIGN(hal::Event go, a.CreateEvent());
  ASSERT_OK_AND_ASSIGN(hal::Stream recorder, a.CreateStream());
  ASSERT_OK(recorder.Launch(spin, kOneThread, {uint64_t{300000}}));  // 0.3 s
  ASSERT_OK(recorder.FillU32(flag, 42));
  ASSERT_OK(recorder.Record(go));
  constexpr int kStreams = 250;  // with the recorder, just under the session's 256
  std::vector<hal::Stream> streams;
  std::vector<hal::Buffer> seen;
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_OK_AND_ASSIGN(hal::Stream s, a.CreateStream());
    ASSERT_OK_AND_ASSIGN(hal::Buffer b, a.Allocate(4));
    ASSERT_OK(s.Wait(go));
    ASSERT_OK(s.Copy(flag, b));
    streams.push_back(s);
    seen.push_back(b);
  }
  ASSERT_OK_AND_ASSIGN(hal::Stream probe, a.CreateStream());
  ASSERT_OK(probe.Synchronize());  // every stream above exists in the worker now
  const std::set<pid_t> workers = ChildrenOf(poold_->pid());
  ASSERT_EQ(workers.size(), 1u);
  const size_t threads = testing::ThreadCount(std::to_string(*workers.begin()));
  // The reader, the links, the host backend's threads (a few per core) and
  // the session's shared stream threads: nowhere near one per stream.
  EXPECT_LT(threads, 40u + 2 * std::thread::hardware_concurrency())
      << kStreams << " streams took " << threads << " threads";
  for (int i = 0; i < kStreams; ++i) {
    uint32_t v = 0;
    ASSERT_OK(streams[i].CopyToHost(seen[i], hal::AsWritableBytes(absl::MakeSpan(&v, 1))));
    ASSERT_OK(streams[i].Synchronize());
    ASSERT_EQ(v, 42u) << "stream " << i;
  }
}

TEST_F(IsolationTest, ARevokedLeasesDeviceGoesToTheNextTenantOnlyAfterItsWorkerIsGone) {
  StartPool({});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> alice, LeaseAs(kAliceToken, 0));
  const hal::Device& a = alice->devices()[0];
  ASSERT_OK_AND_ASSIGN(hal::Buffer big, a.Allocate(192 << 20));
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, a.CreateStream());
  // Minutes of queued work: thousands of fills of 192 MiB.
  for (int i = 0; i < 4000; ++i) ASSERT_OK(stream.FillU32(big, static_cast<uint32_t>(i)));
  ASSERT_TRUE(Eventually([&] { return ChildrenOf(poold_->pid()).size() == 1; }, 10));
  const pid_t alice_worker = *ChildrenOf(poold_->pid()).begin();

  std::future<absl::StatusOr<std::unique_ptr<Lease>>> bob = std::async(std::launch::async, [&] {
    LeaseRequest request;
    request.token = kBobToken;
    request.wait_seconds = 30;
    return AcquireLease(poold_->address(), request);
  });
  ASSERT_TRUE(Eventually([&] { return Leases(poold_->address()).leases_size() == 2; }, 10));
  ASSERT_OK_AND_ASSIGN(auto revoked,
                       RunProgram(ACCEL_TEST_POOLCTL,
                                  {"--pool", poold_->address(), "lease", "revoke", alice->id()}));
  EXPECT_EQ(revoked.first, 0) << revoked.second;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> granted, bob.get());
  // Granted only once alice's worker was killed and reaped: not after her
  // queued work, and with the whole device's memory free.
  EXPECT_FALSE(std::ifstream(absl::StrCat("/proc/", alice_worker, "/stat")).good());
  { ASSERT_OK_AND_ASSIGN(hal::Buffer all, granted->devices()[0].Allocate(256 << 20)); }
  ASSERT_OK(RunSaxpy(granted->devices()[0], 4096));
  // Alice is told her lease was revoked.
  EXPECT_FALSE(a.Allocate(64).ok());
}

}  // namespace
}  // namespace accel::testing
