// share-bench: compute shares of one device shared by fractional leases.
//
//   share-bench [--short] [--seconds S]
//
// Two fractional leases on one host device of an in-process pool keep it
// saturated with 1 ms spin kernels (batches of 8, then a synchronize). With
// weights 1:3 the node should give them device time, and so launches, in
// the ratio 1:3 (target: within 10%); with weights 1:1, equal shares. The
// baseline is one whole-device lease alone, which takes no turns: the
// shared pair's total throughput against it is what taking turns costs.
// --short is the CI smoke run.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "accel/client/lease.h"
#include "accel/hal/hal.h"
#include "bench/in_process_pool.h"
#include "bench/measure.h"
#include "pool/common/malloc_tuning.h"

namespace {

namespace hal = accel::hal;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kSpinMicros = 1000;
constexpr int kBatch = 8;

using accel::bench::Check;

// One lease keeping its device busy on a thread of its own; `launches`
// counts the kernels known to have completed.
class Load {
 public:
  Load(const std::string& pool, const hal::ModuleBundle& bundle, uint64_t memory, uint32_t weight) {
    accel::client::LeaseRequest request;
    request.memory = memory;
    request.compute_weight = weight;
    request.holder = absl::StrCat("share-bench weight ", weight);
    auto lease = accel::client::AcquireLease(pool, request);
    Check(lease.status(), "lease");
    lease_ = *std::move(lease);
    const hal::Device& device = lease_->devices()[0];
    auto module = device.LoadModule(bundle);
    Check(module.status(), "module");
    module_ = *std::move(module);
    auto kernel = module_.GetKernel("spin");
    Check(kernel.status(), "kernel");
    kernel_ = *std::move(kernel);
    auto stream = device.CreateStream();
    Check(stream.status(), "stream");
    stream_ = *std::move(stream);
    thread_ = std::thread([this] {
      while (!stop_) {
        for (int i = 0; i < kBatch; ++i) {
          Check(stream_.Launch(kernel_, {{1, 1, 1}, {1, 1, 1}, 0}, {uint64_t{kSpinMicros}}),
                "launch");
        }
        Check(stream_.Synchronize(), "synchronize");
        launches_ += kBatch;
      }
    });
  }
  ~Load() {
    stop_ = true;
    thread_.join();
  }
  uint64_t launches() const { return launches_; }

 private:
  std::unique_ptr<accel::client::Lease> lease_;
  hal::Module module_;
  hal::Kernel kernel_;
  hal::Stream stream_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> launches_{0};
  std::thread thread_;
};

struct Window {
  double seconds;
  double warm_up;
};

// Launches each load completed in the window, after a warm-up.
std::vector<uint64_t> Measure(const std::vector<Load*>& loads, Window window) {
  std::this_thread::sleep_for(std::chrono::duration<double>(window.warm_up));
  std::vector<uint64_t> before;
  for (const Load* l : loads) before.push_back(l->launches());
  std::this_thread::sleep_for(std::chrono::duration<double>(window.seconds));
  std::vector<uint64_t> out;
  for (size_t i = 0; i < loads.size(); ++i) out.push_back(loads[i]->launches() - before[i]);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool short_run = false;
  double seconds = 4;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--short") == 0) short_run = true;
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = std::atof(argv[++i]);
  }
  const Window window = short_run ? Window{0.5, 0.1} : Window{seconds, 0.5};
  accel::pool::TuneMallocForBulkTransfers();
  auto pool = accel::bench::InProcessPool::Start(1, 1ull << 30);
  Check(pool.status(), "pool");
  const std::string address = (*pool)->address();
  auto bundle = hal::ModuleBundle::ReadFile(ACCEL_BENCH_KERNEL_BUNDLE);
  Check(bundle.status(), "bundle");

  double alone_rate = 0;
  {
    Load alone(address, *bundle, 0, 0);
    alone_rate = Measure({&alone}, window)[0] / window.seconds;
  }
  std::printf("share-bench: two fractional leases on one host device, %llu us kernels, %.1f s\n",
              static_cast<unsigned long long>(kSpinMicros), window.seconds);
  std::printf("%-34s %10s %10s %8s %8s %10s\n", "weights", "launches a", "launches b", "b / a",
              "target", "total/alone");
  bool met = true;
  for (auto [wa, wb] : {std::pair<uint32_t, uint32_t>{1, 3}, {1, 1}}) {
    Load a(address, *bundle, 256ull << 20, wa);
    Load b(address, *bundle, 256ull << 20, wb);
    const std::vector<uint64_t> n = Measure({&a, &b}, window);
    const double want = static_cast<double>(wb) / wa;
    const double got = n[0] == 0 ? 0 : static_cast<double>(n[1]) / static_cast<double>(n[0]);
    met = met && std::abs(got / want - 1) <= 0.10;
    std::printf(
        "%-34s %10llu %10llu %8.2f %8s %10.2f\n",
        absl::StrCat(wa, ":", wb, " (ratio / wanted ", absl::SixDigits(got / want), ")").c_str(),
        static_cast<unsigned long long>(n[0]), static_cast<unsigned long long>(n[1]), got,
        absl::StrCat(want, "+-10%").c_str(), (n[0] + n[1]) / window.seconds / alone_rate);
  }
  std::printf("one whole-device lease alone: %.0f launches/s\n", alone_rate);
  std::printf("shares %s\n",
              met ? "within 10% of their weights" : "NOT within 10% of their weights");
  return 0;
}
