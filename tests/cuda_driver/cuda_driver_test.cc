// accelpool's libcuda.so.1 against a real poold of host devices on
// loopback, every program run through accel-run: a driver-API program,
// ordinary CUDA runtime programs built by nvcc (static cudart), a kernel
// launch's clean failure on host devices, and a killed program's lease
// freed at once. Tests that need nvcc skip without it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/common/scoped_temp_dir.h"
#include "tests/common/status_matchers.h"
#include "tests/pool/pool_test_util.h"
#include "tests/pool/poold_process.h"

namespace accel::testing {
namespace {

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

}  // namespace
}  // namespace accel::testing
