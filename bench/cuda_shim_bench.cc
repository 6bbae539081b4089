// cuda-shim-bench: an unmodified CUDA program through accelpool's
// libcuda.so.1 against the HAL's remote backend, on the same pool in the
// same run: cudaMemcpy both ways vs the HAL's copies (target >= 0.9 x), and
// cudaStreamSynchronize vs the HAL's stream round trip (target <= 1.1 x).
//
//   cuda-shim-bench [--short] [--repeats 3]
//
// The pool is in this process (two host devices); the CUDA program runs as
// its own process through accel-run, as a user's would. The two sides take
// turns, round by round, and each side's best round counts.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "accel/client/lease.h"
#include "accel/hal/hal.h"
#include "bench/in_process_pool.h"
#include "bench/measure.h"
#include "pool/common/malloc_tuning.h"
#include "pool/common/mutex_tuning.h"

namespace {

namespace hal = accel::hal;

using accel::bench::Best;
using accel::bench::Check;

// The CUDA program's figures, by name.
std::map<std::string, double> RunShim(const std::string& pool, uint64_t mib, int repeats,
                                      int round_trips) {
  const std::string command =
      absl::StrCat(ACCEL_BENCH_ACCEL_RUN, " --pool ", pool, " -- ", ACCEL_BENCH_SHIM_PROGRAM, " ",
                   mib, " ", repeats, " ", round_trips, " 2>/dev/null");
  FILE* out = popen(command.c_str(), "r");
  if (out == nullptr) Check(absl::InternalError("cannot run accel-run"), "shim");
  std::string text;
  char buffer[256];
  while (fgets(buffer, sizeof(buffer), out) != nullptr) text += buffer;
  if (pclose(out) != 0) Check(absl::InternalError("the CUDA program failed: " + text), "shim");
  std::map<std::string, double> figures;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(line, ' ');
    if (kv.size() == 2) figures[kv[0]] = std::atof(kv[1].c_str());
  }
  return figures;
}

}  // namespace

int main(int argc, char** argv) {
  bool short_run = false;
  int repeats = 3;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--short") == 0) short_run = true;
    if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) repeats = std::atoi(argv[++i]);
  }
  if (short_run) repeats = 1;
  const std::vector<uint64_t> sizes_mib =
      short_run ? std::vector<uint64_t>{8} : std::vector<uint64_t>{64, 256};
  const int round_trips = short_run ? 50 : 2000;
  accel::pool::TuneMallocForBulkTransfers();
  accel::pool::DisableMutexDeadlockDetection();

  // Two devices: one for the HAL's lease, one for the CUDA program's.
  auto pool = accel::bench::InProcessPool::Start(2, (sizes_mib.back() * 2) << 20);
  Check(pool.status(), "pool");
  auto lease = accel::client::AcquireLease((*pool)->address(), {});
  Check(lease.status(), "lease");
  const hal::Device& remote = (*lease)->devices()[0];

  std::printf("cuda-shim-bench: best of %d, loopback; ratio = CUDA program / HAL remote\n",
              repeats);
  std::printf("%-40s %9s %9s %7s %8s\n", "", "CUDA", "HAL", "ratio", "target");
  auto row = [](const std::string& what, double cuda, double hal_figure, const char* target) {
    std::printf("%-40s %9.2f %9.2f %7.2f %8s\n", what.c_str(), cuda, hal_figure, cuda / hal_figure,
                target);
  };
  double shim_sync = 0;
  for (uint64_t mib : sizes_mib) {
    const uint64_t bytes = mib << 20;
    std::vector<std::byte> host(bytes, std::byte{7});
    absl::StatusOr<hal::Buffer> buffer = remote.Allocate(bytes);
    Check(buffer.status(), "allocate");
    Check(remote.CopyToDevice(host, *buffer), "warm up");
    // The two sides take turns, so that both see the same moments of a
    // noisy machine; each side's best round counts.
    double up = 1e30, down = 1e30;
    std::map<std::string, double> shim;
    for (int round = 0; round < repeats; ++round) {
      up = std::min(up, Best(2, [&] { Check(remote.CopyToDevice(host, *buffer), "upload"); }));
      down = std::min(down, Best(2, [&] {
                        Check(remote.CopyToHost(*buffer, absl::MakeSpan(host)), "download");
                      }));
      std::map<std::string, double> run = RunShim((*pool)->address(), mib, 2, round_trips);
      for (const char* fastest : {"h2d_gbps", "d2h_gbps"}) {
        shim[fastest] = std::max(shim[fastest], run[fastest]);
      }
      shim["sync_us"] = round == 0 ? run["sync_us"] : std::min(shim["sync_us"], run["sync_us"]);
    }
    buffer->Free().IgnoreError();
    row(absl::StrCat("cudaMemcpy H2D ", mib, " MiB (GB/s)"), shim["h2d_gbps"], bytes / up / 1e9,
        ">=0.90");
    row(absl::StrCat("cudaMemcpy D2H ", mib, " MiB (GB/s)"), shim["d2h_gbps"], bytes / down / 1e9,
        ">=0.90");
    shim_sync = shim["sync_us"];
  }
  auto stream = remote.CreateStream();
  Check(stream.status(), "stream");
  const double hal_sync = Best(repeats,
                               [&] {
                                 for (int i = 0; i < round_trips; ++i) {
                                   Check(stream->Synchronize(), "sync");
                                 }
                               }) /
                          round_trips * 1e6;
  row("cudaStreamSynchronize round trip (us)", shim_sync, hal_sync, "<=1.10");
  return 0;
}
