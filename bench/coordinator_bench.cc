// coordinator-bench: lease grants against a large pool, measured in one run.
//
//   coordinator-bench [--short] [--nodes 1000] [--devices-per-node 10] [--state PATH]
//
// --state keeps the pool's state in that SQLite file, as poold --state
// does: every grant and release is written through to it.
// The pool is simulated in this process: registrations of `nodes` nodes
// with `devices-per-node` devices each (a quarter of them "hygon", the
// rest "nvidia"), half of them leased before the measurement starts. Two
// threads then grant leases for "nvidia" devices in cycles (a quarter of
// the pool, then released again), and each call's latency is recorded.
// The same workload runs once more through the Coordinator gRPC service on
// loopback, beside a baseline: an empty unary RPC (GetVersion) on the same
// channel, the floor of any RPC.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "pool/common/wire.h"
#include "pool/coordinator/coordinator.h"
#include "pool/coordinator/coordinator_service.h"
#ifdef ACCEL_BENCH_STATE
#include "pool/coordinator/sqlite_state_store.h"
#endif

namespace {

namespace v1 = ::accelpool::v1;
using Clock = std::chrono::steady_clock;

class NoListener final : public accel::pool::LeaseListener {
 public:
  void OnLeaseEnded(const std::string&, const absl::Status&) override {}
};

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "coordinator-bench: %s\n", what.c_str());
    std::exit(1);
  }
}

struct Result {
  double per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
  std::vector<double> samples;  // latencies, microseconds
};

Result Summarize(std::vector<double> samples, double seconds) {
  std::sort(samples.begin(), samples.end());
  Result r;
  r.per_second = static_cast<double>(samples.size()) / seconds;
  r.p50_us = samples[samples.size() / 2];
  r.p99_us = samples[std::min(samples.size() - 1, samples.size() * 99 / 100)];
  r.samples = std::move(samples);
  return r;
}

// `threads` threads each run `per_thread` operations; `op(thread)` returns
// false on failure. Latency of each op is recorded.
Result Run(int threads, int per_thread, const std::function<bool(int)>& op) {
  std::vector<std::vector<double>> latencies(threads);
  std::atomic<bool> failed{false};
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      latencies[t].reserve(per_thread);
      for (int i = 0; i < per_thread && !failed; ++i) {
        const auto begin = Clock::now();
        if (!op(t)) failed = true;
        latencies[t].push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - begin).count());
      }
    });
  }
  for (std::thread& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  Check(!failed, "an operation failed");
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  return Summarize(std::move(all), seconds);
}

}  // namespace

int main(int argc, char** argv) {
  int nodes = 1000, per_node = 10, grants = 20000;
  std::string state_path;
  bool short_run = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--short") == 0) short_run = true;
    if (std::strcmp(argv[i], "--nodes") == 0 && i + 1 < argc) nodes = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--devices-per-node") == 0 && i + 1 < argc) {
      per_node = std::atoi(argv[++i]);
    }
    if (std::strcmp(argv[i], "--state") == 0 && i + 1 < argc) state_path = argv[++i];
  }
  if (short_run) {
    nodes = 50;
    grants = 500;
  }
  const int kThreads = 2;

  accel::pool::Coordinator::Options options;
  options.default_ttl_seconds = 600;
  options.max_leases_per_tenant = 0;  // thousands of anonymous leases, by design
  std::unique_ptr<accel::pool::StateStore> store;
  if (!state_path.empty()) {
#ifdef ACCEL_BENCH_STATE
    auto opened = accel::pool::SqliteStateStore::Open(state_path);
    if (!opened.ok()) {
      std::fprintf(stderr, "coordinator-bench: %s\n", opened.status().ToString().c_str());
      return 1;
    }
    store = *std::move(opened);
    options.store = store.get();
#else
    std::fprintf(stderr, "coordinator-bench: built without SQLite: no --state\n");
    return 1;
#endif
  }
  accel::pool::Coordinator coordinator(options);
  NoListener listener;
  for (int n = 0; n < nodes; ++n) {
    std::vector<v1::DeviceInfo> devices;
    for (int d = 0; d < per_node; ++d) {
      v1::DeviceInfo& info = devices.emplace_back();
      info.set_backend("cuda");
      info.set_index(static_cast<uint32_t>(d));
      info.set_vendor(n % 4 == 0 ? "hygon" : "nvidia");
      info.set_arch(n % 4 == 0 ? "gfx906" : "sm_90");
      info.set_total_memory(80ull << 30);
      (*info.mutable_labels())["zone"] = n % 2 == 0 ? "a" : "b";
    }
    coordinator.AddNode(absl::StrCat("node-", n),
                        absl::StrCat("10.0.", n / 250, ".", n % 250, ":7070"), {},
                        std::move(devices), &listener);
  }
  // Half the pool leased before measuring.
  const int total = nodes * per_node;
  for (int i = 0; i < total / 2; ++i) {
    absl::StatusOr<v1::LeaseResponse> lease = coordinator.Lease({}, accel::pool::Caller{});
    Check(lease.ok(), "prefill: " + lease.status().ToString());
  }

  // Measured in cycles: grant a quarter of the pool (timed), then release
  // those leases again (timed apart), so the pool stays between half and
  // three quarters full.
  v1::LeaseRequest request;
  request.set_holder("bench");
  request.set_vendor("nvidia");
  const int per_cycle = std::max(kThreads, std::min(grants / 4, total / 4)) / kThreads;
  std::vector<std::vector<v1::LeaseResponse>> fresh(kThreads);
  auto cycles = [&](const std::function<bool(int, v1::LeaseResponse&)>& grant,
                    const std::function<bool(const v1::LeaseResponse&)>& release) {
    std::vector<double> grant_us, release_us;
    double grant_seconds = 0, release_seconds = 0;
    int granted = 0;
    while (granted < grants) {
      Result g = Run(kThreads, per_cycle, [&](int t) {
        v1::LeaseResponse lease;
        if (!grant(t, lease)) return false;
        fresh[t].push_back(std::move(lease));
        return true;
      });
      std::vector<size_t> next(kThreads, 0);
      Result r = Run(kThreads, per_cycle, [&](int t) { return release(fresh[t][next[t]++]); });
      for (auto& f : fresh) f.clear();
      granted += per_cycle * kThreads;
      grant_seconds += per_cycle * kThreads / g.per_second;
      release_seconds += per_cycle * kThreads / r.per_second;
      grant_us.insert(grant_us.end(), g.samples.begin(), g.samples.end());
      release_us.insert(release_us.end(), r.samples.begin(), r.samples.end());
    }
    return std::make_pair(Summarize(grant_us, grant_seconds),
                          Summarize(release_us, release_seconds));
  };
  auto [in_process, in_process_release] = cycles(
      [&](int, v1::LeaseResponse& out) {
        absl::StatusOr<v1::LeaseResponse> lease = coordinator.Lease(request, accel::pool::Caller{});
        if (!lease.ok()) return false;
        out = *std::move(lease);
        return true;
      },
      [&](const v1::LeaseResponse& lease) {
        return coordinator.Release(lease.lease().lease_id(), lease.token(), accel::pool::Caller{})
            .ok();
      });

  // The same through gRPC on loopback, and the empty-RPC floor.
  // Not owned: the coordinator lives on this stack.
  accel::pool::Leadership leadership(
      std::shared_ptr<accel::pool::Coordinator>(std::shared_ptr<void>(), &coordinator), "bench");
  accel::pool::CoordinatorService service(leadership, std::chrono::seconds(1));
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  Check(server != nullptr, "cannot start the gRPC server");
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  auto stub = v1::Coordinator::NewStub(channel);
  grants /= 4;  // RPCs are slower; keep the run short
  auto [rpc_grants, rpc_releases] = cycles(
      [&](int, v1::LeaseResponse& out) {
        grpc::ClientContext context;
        return stub->Lease(&context, request, &out).ok();
      },
      [&](const v1::LeaseResponse& lease) {
        grpc::ClientContext context;
        v1::ReleaseRequest release;
        release.set_lease_id(lease.lease().lease_id());
        release.set_token(lease.token());
        v1::ReleaseResponse released;
        return stub->Release(&context, release, &released).ok();
      });
  Result empty_rpcs = Run(kThreads, grants / kThreads, [&](int) {
    grpc::ClientContext context;
    v1::VersionResponse version;
    return stub->GetVersion(&context, {}, &version).ok();
  });
  server->Shutdown();
  coordinator.Stop();

  std::printf(
      "coordinator-bench: %d nodes, %d devices, half to three quarters leased; %d "
      "client threads\n",
      nodes, total, kThreads);
  std::printf("%-44s %10s %9s %9s %10s\n", "", "per second", "p50 us", "p99 us", "target");
  auto row = [](const char* what, const Result& r, const char* target) {
    std::printf("%-44s %10.0f %9.1f %9.1f %10s\n", what, r.per_second, r.p50_us, r.p99_us, target);
  };
  row("grant, in process (the coordinator's cost)", in_process, ">=5000/s");
  row("release, in process", in_process_release, "-");
  row("grant over gRPC on loopback", rpc_grants, "p99<=2ms");
  row("release over gRPC on loopback", rpc_releases, "-");
  row("baseline: empty unary RPC (GetVersion)", empty_rpcs, "-");
  std::printf("%-44s %10.2f\n", "ratio: gRPC grants / empty RPCs per second",
              rpc_grants.per_second / empty_rpcs.per_second);
  return 0;
}
