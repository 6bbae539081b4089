// accelpool's libcuda.so.1 against a real poold of host devices on
// loopback, every program run through accel-run: a driver-API program,
// ordinary CUDA runtime programs built by nvcc (static cudart), a kernel
// launch's clean failure on host devices, and a killed program's lease
// freed at once. Tests that need nvcc skip without it.
#include <cuda.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/scoped_temp_dir.h"
#include "tests/common/status_matchers.h"
#include "tests/pool/pool_test_util.h"
#include "tests/pool/poold_process.h"
#include "tests/vendor/fake_cuda_attributes.h"

namespace accel::testing {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kQuota = 256ull << 20;

class CudaDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(poold_,
                         PooldProcess::Start({"--host_devices=1", "--host_device_memory=1GiB"}));
  }
  std::pair<int, std::string> Run(const std::string& program, std::vector<std::string> args) {
    std::vector<std::string> all = {"--pool", poold_->address(), "--memory", "256MiB", "--",
                                    program};
    all.insert(all.end(), args.begin(), args.end());
    absl::StatusOr<std::pair<int, std::string>> run = RunProgram(ACCEL_TEST_ACCEL_RUN, all, 60);
    return run.ok() ? *run : std::make_pair(-1, run.status().ToString());
  }
  std::unique_ptr<PooldProcess> poold_;
};

// The names accelpool's libcuda.so.1 exports, by base name (cuMemAlloc for
// cuMemAlloc_v2), as the runtime asks cuGetProcAddress for them.
std::string ExportedNamesFile(const std::string& dir) {
  absl::StatusOr<std::pair<int, std::string>> symbols =
      RunProgram("/usr/bin/nm", {"-D", "--defined-only", ACCEL_TEST_LIBCUDA});
  EXPECT_OK(symbols.status());
  if (!symbols.ok()) return "";
  EXPECT_EQ(symbols->first, 0) << symbols->second;
  std::set<std::string> bases;
  for (absl::string_view line : absl::StrSplit(symbols->second, '\n')) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (parts.size() != 3 || parts[1] != "T") continue;
    std::string name = parts[2];
    for (const char* suffix : {"_v2", "_v3", "_v4"}) {
      if (absl::EndsWith(name, suffix)) name.resize(name.size() - 3);
    }
    bases.insert(name);
  }
  const std::string path = dir + "/names";
  std::ofstream out(path);
  for (const std::string& name : bases) out << name << "\n";
  return path;
}

TEST_F(CudaDriverTest, ADriverApiProgramIsServedAndFindsEveryExportedName) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string names = ExportedNamesFile(dir.Path(""));
  ASSERT_FALSE(names.empty());
  auto [code, output] = Run(ACCEL_TEST_DRIVER_API_PROGRAM, {names, std::to_string(kQuota)});
  EXPECT_EQ(code, 0) << output << poold_->log();
  EXPECT_TRUE(absl::StrContains(output, "PASSED")) << output;
}

TEST_F(CudaDriverTest, NvmlInTheProgramShowsItsLeasedDeviceAndItsUse) {
  auto [code, output] = Run(ACCEL_TEST_NVML_PROGRAM, {std::to_string(kQuota), "8388608"});
  EXPECT_EQ(code, 0) << output << poold_->log();
  EXPECT_TRUE(absl::StrContains(output, "PASSED")) << output;
}

bool HaveNvcc() { return ACCEL_TEST_HAVE_NVCC; }

TEST_F(CudaDriverTest, AnNvccBuiltRuntimeProgramRunsThroughAccelRun) {
  if (!HaveNvcc()) GTEST_SKIP() << "nvcc was not found at build time: no CUDA program to run";
  auto [code, output] = Run(ACCEL_TEST_RUNTIME_PROGRAM, {std::to_string(kQuota)});
  EXPECT_EQ(code, 0) << output << poold_->log();
  EXPECT_TRUE(absl::StrContains(output, "PASSED")) << output;
  // The lease ended with the program.
  EXPECT_TRUE(Eventually([&] { return Leases(poold_->address()).leases_size() == 0; }, 10));
}

TEST_F(CudaDriverTest, AKernelLaunchOnHostDevicesIsNoKernelImageForDevice) {
  if (!HaveNvcc()) GTEST_SKIP() << "nvcc was not found at build time: no CUDA program to run";
  auto [code, output] = Run(ACCEL_TEST_LAUNCH_PROGRAM, {});
  EXPECT_EQ(code, 0) << output;
  // The kernel's parameter layout came from the fatbin the runtime
  // registered (scale(float*, float, int)).
  EXPECT_TRUE(absl::StrContains(output, "parameters at 0, 8, 12 of 8, 4, 4 bytes")) << output;
  EXPECT_TRUE(absl::StrContains(output, "launch: cudaErrorNoKernelImageForDevice")) << output;
  EXPECT_TRUE(absl::StrContains(output, "launch ex: cudaErrorNoKernelImageForDevice")) << output;
}

TEST_F(CudaDriverTest, AKilledProgramsLeaseIsFreedAtOnce) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t child = fork();
  if (child == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    execl(ACCEL_TEST_ACCEL_RUN, ACCEL_TEST_ACCEL_RUN, "--pool", poold_->address().c_str(),
          "--memory", "256MiB", "--", ACCEL_TEST_COPY_LOOP, static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  char line[16] = {};
  ASSERT_EQ(read(out[0], line, 8), 8) << "the program never started copying";
  EXPECT_STREQ(line, "copying\n");
  ASSERT_EQ(Leases(poold_->address()).leases_size(), 1);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  close(out[0]);
  EXPECT_TRUE(Eventually([&] { return Leases(poold_->address()).leases_size() == 0; }, 5));
  EXPECT_TRUE(Eventually([&] { return DevicesIdle(poold_->address()); }, 5));
}

// A poold serving the fake libcuda's one CUDA device (its memory is the
// host's, its kernels host functions: tests/vendor/fake_cuda_driver.cc).
absl::StatusOr<std::unique_ptr<PooldProcess>> StartFakeCudaPoold() {
  setenv("ACCEL_CUDA_LIBRARY", ACCEL_TEST_FAKE_CUDA_DRIVER, 1);
  setenv("ACCEL_FAKE_CUDA_DEVICES", "1", 1);
  absl::StatusOr<std::unique_ptr<PooldProcess>> poold = PooldProcess::Start({"--backends=cuda"});
  unsetenv("ACCEL_CUDA_LIBRARY");
  unsetenv("ACCEL_FAKE_CUDA_DEVICES");
  return poold;
}

// `program` through accel-run, leasing `memory` of `poold`'s CUDA device:
// its exit status and output.
absl::StatusOr<std::pair<int, std::string>> RunOnCuda(const PooldProcess& poold, const char* memory,
                                                      const char* program) {
  return RunProgram(
      ACCEL_TEST_ACCEL_RUN,
      {"--pool", poold.address(), "--backend", "cuda", "--memory", memory, "--", program}, 60);
}

// A node serving a CUDA device: the program sees the node's driver's own
// attribute values, except where an attribute says what the program can do
// through accelpool's library.
TEST(CudaDriverAttributesTest, AProgramSeesTheNodesOwnAttributeValues) {
  absl::StatusOr<std::unique_ptr<PooldProcess>> poold = StartFakeCudaPoold();
  ASSERT_OK(poold.status());
  absl::StatusOr<std::pair<int, std::string>> run =
      RunOnCuda(**poold, "1GiB", ACCEL_TEST_ATTRIBUTE_PROGRAM);
  ASSERT_OK(run.status());
  auto [code, output] = *run;
  ASSERT_EQ(code, 0) << output << (*poold)->log();
  std::map<int, std::string> seen;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    std::vector<std::string> words = absl::StrSplit(line, ' ');
    int attribute = 0;
    if (words.size() == 3 && words[0] == "attribute" && absl::SimpleAtoi(words[1], &attribute)) {
      seen[attribute] = words[2];
    }
  }
  ASSERT_EQ(seen.size(), static_cast<size_t>(CU_DEVICE_ATTRIBUTE_MAX - 1)) << output;
  EXPECT_THAT(output, HasSubstr("name Fake CUDA Device"));
  EXPECT_THAT(output, HasSubstr(absl::StrCat("total ", 1ull << 30)));  // the lease's quota
  // The node's values, including those no fallback would give.
  EXPECT_EQ(seen[CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT], "132");
  EXPECT_EQ(seen[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR], "9");
  EXPECT_EQ(seen[CU_DEVICE_ATTRIBUTE_CLOCK_RATE], std::to_string(FakeAttribute(13)));
  EXPECT_EQ(seen[CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE], std::to_string(FakeAttribute(38)));
  // What the library serves, whatever the node's driver says.
  EXPECT_EQ(seen[CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING], "1");
  EXPECT_EQ(seen[CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY], "0");
  EXPECT_EQ(seen[CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY], "0");
  EXPECT_EQ(seen[CU_DEVICE_ATTRIBUTE_INTEGRATED], "0");
  EXPECT_EQ(seen[CU_DEVICE_ATTRIBUTE_COMPUTE_MODE], "0");
  // An attribute the node's driver does not answer: the feature is absent.
  EXPECT_EQ(seen[kFakeUnansweredAttribute], "0");
  // Every other value is the node's, or one the library decides (0, 1, -1).
  int from_the_node = 0;
  for (const auto& [attribute, value] : seen) {
    if (value == std::to_string(FakeAttribute(attribute))) {
      ++from_the_node;
    } else {
      EXPECT_TRUE(value == "0" || value == "1" || value == "-1")
          << "attribute " << attribute << ": " << value;
    }
  }
  EXPECT_GT(from_the_node, 90);
}

// An unmodified CUDA program's kernels on a pooled CUDA device: launched
// through accelpool's library, the node's cuda backend and its driver, with
// pointers into an allocation, a pointer inside a struct argument and a
// module's __device__ array.
TEST(CudaDriverKernelTest, AProgramsKernelsRunOnAPooledCudaDevice) {
  if (!HaveNvcc()) GTEST_SKIP() << "nvcc was not found at build time: no CUDA program to run";
  absl::StatusOr<std::unique_ptr<PooldProcess>> poold = StartFakeCudaPoold();
  ASSERT_OK(poold.status());
  absl::StatusOr<std::pair<int, std::string>> run =
      RunOnCuda(**poold, "64MiB", ACCEL_TEST_KERNEL_PROGRAM);
  ASSERT_OK(run.status());
  EXPECT_EQ(run->first, 0) << run->second << (*poold)->log();
  EXPECT_THAT(run->second, HasSubstr("kernels: ok"));
  // The node driver's own answers (tests/vendor/fake_cuda_attributes.h), not
  // figures made up from the device's limits: 768 threads at most, 40
  // registers, and the block size that keeps the most threads resident on a
  // multiprocessor of 2048 (512: four blocks), on 132 multiprocessors.
  EXPECT_THAT(run->second,
              HasSubstr(absl::StrCat(
                  "occupancy: max_threads ", FakeFunctionAttribute(0), " regs ",
                  FakeFunctionAttribute(4), " blocks_256 ", FakeMaxActiveBlocks(256, 0),
                  " shared_4x256 ", FakeAvailableDynamicSharedMemory(4), " block 512 grid ",
                  FakeMaxActiveBlocks(512, 0) * 132, " driver_block 512 driver_grid ",
                  FakeMaxActiveBlocks(512, 0) * 132, " clusters_2 ", FakeMaxActiveClusters(2))));
}

// The same program with its fatbin entries compressed, as cuBLAS ships its
// kernels: the library cannot read their parameter layouts, so it asks the
// node's driver (cuFuncGetParamInfo) once per kernel.
TEST(CudaDriverKernelTest, KernelsOfACompressedFatbinGetTheirLayoutFromTheNode) {
  if (!HaveNvcc()) GTEST_SKIP() << "nvcc was not found at build time: no CUDA program to run";
  absl::StatusOr<std::unique_ptr<PooldProcess>> poold = StartFakeCudaPoold();
  ASSERT_OK(poold.status());
  absl::StatusOr<std::pair<int, std::string>> run =
      RunOnCuda(**poold, "64MiB", ACCEL_TEST_COMPRESSED_KERNEL_PROGRAM);
  ASSERT_OK(run.status());
  EXPECT_EQ(run->first, 0) << run->second << (*poold)->log();
  EXPECT_THAT(run->second, HasSubstr("kernels: ok"));
}

}  // namespace
}  // namespace accel::testing
