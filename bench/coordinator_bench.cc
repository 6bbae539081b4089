// coordinator-bench: lease grants against a large pool, measured in one run.
//
//   coordinator-bench [--short] [--nodes 1000] [--devices-per-node 10]
//                     [--state etcd://HOST:PORT,...] [--store-grants 2000]
//
// The same workload runs with the pool's state in memory, in a SQLite file
// (a temporary one, as poold --state PATH keeps it) and, given --state
// etcd://... (or $ACCEL_ETCD, which scripts/local-etcd.sh sets), in etcd
// as a highly available pool keeps it: every grant and release written
// through, fenced on an election key of the bench's own. The store modes
// measure --store-grants grants, from 64 client threads (a replicated
// store's writes are batched, which pays when grants come at once), in three
// rounds that alternate SQLite and etcd (one with --short); the median round
// of each is shown. After each etcd round the bench deletes what it wrote
// and compacts etcd's history, as a pool's leader does (compaction is
// etcd-wide: run it against an etcd of its own, as scripts/local-etcd.sh
// starts).
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
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "pool/common/lease_pages.h"
#include "pool/common/malloc_tuning.h"
#include "pool/common/mutex_tuning.h"
#include "pool/common/status_convert.h"
#include "pool/common/wire.h"
#include "pool/coordinator/coordinator.h"
#include "pool/coordinator/coordinator_service.h"
#ifdef ACCEL_BENCH_STATE
#include "pool/coordinator/sqlite_state_store.h"
#endif
#ifdef ACCEL_BENCH_ETCD
#include "pool/coordinator/etcd_client.h"
#include "pool/coordinator/etcd_state_store.h"
#endif

namespace {

namespace v1 = ::accelpool::v1;
// About what one of the bench's leases takes in etcd (StoredLease).
constexpr size_t kStoredLeaseBytes = 340;
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

// A coordinator of this process served by the Coordinator gRPC service on
// loopback, and a client of it.
struct Served {
  explicit Served(accel::pool::Coordinator& coordinator)
      // Not owned: the coordinator lives on the caller's stack.
      : leadership(std::shared_ptr<accel::pool::Coordinator>(std::shared_ptr<void>(), &coordinator),
                   "bench"),
        service(leadership, std::chrono::seconds(1)) {
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    Check(server != nullptr, "cannot start the gRPC server");
    stub = v1::Coordinator::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  ~Served() { server->Shutdown(); }

  accel::pool::Leadership leadership;
  accel::pool::CoordinatorService service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::Coordinator::Stub> stub;
};

}  // namespace

int main(int argc, char** argv) {
  // The coordinator runs as it does in poold.
  accel::pool::TuneMallocForBulkTransfers();
  accel::pool::DisableMutexDeadlockDetection();
  int nodes = 1000, per_node = 10, grants = 20000, store_grants = 2000;
  std::string etcd_url;
  if (const char* env = std::getenv("ACCEL_ETCD"); env != nullptr) etcd_url = env;
  bool short_run = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--short") == 0) short_run = true;
    if (std::strcmp(argv[i], "--nodes") == 0 && i + 1 < argc) nodes = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--devices-per-node") == 0 && i + 1 < argc) {
      per_node = std::atoi(argv[++i]);
    }
    if (std::strcmp(argv[i], "--state") == 0 && i + 1 < argc) etcd_url = argv[++i];
    if (std::strcmp(argv[i], "--store-grants") == 0 && i + 1 < argc) {
      store_grants = std::atoi(argv[++i]);
    }
  }
  if (short_run) {
    nodes = 50;
    grants = 500;
    store_grants = 200;
  }
  const int kThreads = 2;
  // The store modes' clients: a replicated store's writes are batched, which
  // pays only when grants come at once, as from a pool's many clients.
  const int kStoreThreads = 64;
  const int total = nodes * per_node;

  // One pool, with its state where `store` keeps it (nowhere: null):
  // registered, half leased, then measured.
  struct Measured {
    Result grants, releases;
  };
  v1::LeaseRequest request;
  request.set_holder("bench");
  request.set_vendor("nvidia");
  // Measured in cycles: grant a quarter of the pool (timed), then release
  // those leases again (timed apart), so the pool stays between half and
  // three quarters full.
  using Grant = std::function<bool(int, v1::LeaseResponse&)>;
  using Release = std::function<bool(const v1::LeaseResponse&)>;
  // `settle`, timed with the releases: until what they queued is written.
  auto cycles = [&](int threads, int grants, const Grant& grant, const Release& release,
                    const std::function<void()>& settle) {
    const int per_cycle = std::max(threads, std::min(grants / 4, total / 4)) / threads;
    std::vector<std::vector<v1::LeaseResponse>> fresh(threads);
    std::vector<double> grant_us, release_us;
    double grant_seconds = 0, release_seconds = 0;
    int granted = 0;
    while (granted < grants) {
      Result g = Run(threads, per_cycle, [&](int t) {
        v1::LeaseResponse lease;
        if (!grant(t, lease)) return false;
        fresh[t].push_back(std::move(lease));
        return true;
      });
      std::vector<size_t> next(threads, 0);
      const auto releasing = Clock::now();
      Result r = Run(threads, per_cycle, [&](int t) { return release(fresh[t][next[t]++]); });
      if (settle) settle();
      r.per_second =
          per_cycle * threads / std::chrono::duration<double>(Clock::now() - releasing).count();
      for (auto& f : fresh) f.clear();
      granted += per_cycle * threads;
      grant_seconds += per_cycle * threads / g.per_second;
      release_seconds += per_cycle * threads / r.per_second;
      grant_us.insert(grant_us.end(), g.samples.begin(), g.samples.end());
      release_us.insert(release_us.end(), r.samples.begin(), r.samples.end());
    }
    return std::make_pair(Summarize(grant_us, grant_seconds),
                          Summarize(release_us, release_seconds));
  };

  auto measure = [&](accel::pool::StateStore* store, int threads, int measured_grants,
                     const std::function<void(accel::pool::Coordinator&)>& more) {
    accel::pool::Coordinator::Options options;
    options.default_ttl_seconds = 600;
    options.max_leases_per_tenant = 0;  // thousands of anonymous leases, by design
    options.store = store;
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
    Run(threads, total / 2 / threads, [&](int) {
      absl::StatusOr<v1::LeaseResponse> lease = coordinator.Lease({}, accel::pool::Caller{});
      Check(lease.ok(), "prefill: " + lease.status().ToString());
      return true;
    });
    auto [granted, released] = cycles(
        threads, measured_grants,
        [&](int, v1::LeaseResponse& out) {
          absl::StatusOr<v1::LeaseResponse> lease =
              coordinator.Lease(request, accel::pool::Caller{});
          if (!lease.ok()) return false;
          out = *std::move(lease);
          return true;
        },
        [&](const v1::LeaseResponse& lease) {
          return coordinator.Release(lease.lease().lease_id(), lease.token(), accel::pool::Caller{})
              .ok();
        },
        // A store may write releases in the background: they are theirs to
        // pay for, not the next grants'.
        [&] {
          if (store != nullptr) store->Flush();
        });
    if (more) more(coordinator);
    coordinator.Stop();
    return Measured{granted, released};
  };

  // In memory: the coordinator's own cost, then the same through gRPC on
  // loopback beside the empty-RPC floor.
  Measured rpc;
  Result empty_rpcs;
  const Measured in_memory =
      measure(nullptr, kThreads, grants, [&](accel::pool::Coordinator& coordinator) {
        Served served(coordinator);
        v1::Coordinator::Stub* stub = served.stub.get();
        std::tie(rpc.grants, rpc.releases) = cycles(
            kThreads, grants / 4,  // RPCs are slower; keep the run short
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
            },
            nullptr);
        empty_rpcs = Run(kThreads, grants / 4 / kThreads, [&](int) {
          grpc::ClientContext context;
          v1::VersionResponse version;
          return stub->GetVersion(&context, {}, &version).ok();
        });
      });

  // A listing of a pool with 100k leases (10k with --short) over gRPC,
  // page after page, as poolctl leases reads it.
  const int listed = short_run ? 10000 : 100000;
  double listing_seconds = 0;
  {
    accel::pool::Coordinator::Options options;
    options.default_ttl_seconds = 600;
    options.max_leases_per_tenant = 0;
    accel::pool::Coordinator coordinator(options);
    NoListener listener;
    std::vector<v1::DeviceInfo> devices(24);  // 5120 leases' room each
    for (uint32_t d = 0; d < devices.size(); ++d) {
      devices[d].set_backend("cuda");
      devices[d].set_index(d);
      devices[d].set_vendor("nvidia");
      devices[d].set_total_memory(80ull << 30);
    }
    coordinator.AddNode("node-0", "10.0.0.1:7070", {}, std::move(devices), &listener);
    v1::LeaseRequest small = request;
    small.set_memory(16 << 20);  // the pool's smallest fraction
    for (int i = 0; i < listed; ++i) {
      absl::StatusOr<v1::LeaseResponse> lease = coordinator.Lease(small, accel::pool::Caller{});
      Check(lease.ok(), "cannot fill the pool to list: " + lease.status().ToString());
    }
    Served served(coordinator);
    const auto start = Clock::now();
    absl::StatusOr<v1::ListLeasesResponse> all = accel::pool::ListAllLeases(
        [&](const v1::ListLeasesRequest& page_request, v1::ListLeasesResponse* page) {
          grpc::ClientContext context;
          return accel::pool::FromGrpc(served.stub->ListLeases(&context, page_request, page),
                                       "ListLeases");
        });
    listing_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    Check(all.ok() && all->leases_size() == listed, "the listing is not whole");
    coordinator.Stop();
  }

  // The store modes, in rounds that alternate SQLite and etcd so that both
  // meet the same noise of this machine; each mode's median round is shown.
  const int rounds = short_run ? 1 : 3;
  std::function<Measured()> sqlite_round, etcd_round;  // empty: not measured
#ifdef ACCEL_BENCH_STATE
  sqlite_round = [&] {
    char path[] = "/tmp/coordinator-bench-XXXXXX";
    const int fd = mkstemp(path);
    Check(fd >= 0, "cannot make a temporary file for SQLite");
    close(fd);
    auto opened = accel::pool::SqliteStateStore::Open(path);
    Check(opened.ok(), opened.status().ToString());
    Measured m = measure(opened->get(), kStoreThreads, store_grants, nullptr);
    opened->reset();
    for (const char* suffix : {"", "-wal", "-shm"}) unlink(absl::StrCat(path, suffix).c_str());
    return m;
  };
#endif
  std::optional<Result> etcd_alone_single, etcd_alone_batched;  // puts per second
#ifdef ACCEL_BENCH_ETCD
  std::unique_ptr<accel::pool::EtcdClient> etcd_client;
  std::vector<double> fold_ms;  // per etcd round
  std::string prefix, fence;
  int64_t fenced_at = 0;
  // Deletes `under` (everything the bench wrote there) and compacts etcd's
  // history, as a pool's leader does every few minutes: a round writes
  // tens of thousands of revisions, and etcd slows as they pile up.
  auto clean = [&](const std::string& under) {
    etcdserverpb::TxnRequest txn;
    etcdserverpb::DeleteRangeRequest* all = txn.add_success()->mutable_request_delete_range();
    all->set_key(under);
    all->set_range_end(accel::pool::PrefixEnd(under));
    absl::StatusOr<etcdserverpb::TxnResponse> cleaned = etcd_client->Txn(txn);
    Check(cleaned.ok(), "etcd: " + cleaned.status().ToString());
    const absl::Status compacted = etcd_client->Compact(cleaned->header().revision());
    Check(compacted.ok(), "etcd: " + compacted.ToString());
  };
  if (!etcd_url.empty()) {
    absl::StatusOr<accel::pool::EtcdLocation> location = accel::pool::ParseEtcdUrl(etcd_url);
    Check(location.ok(), location.status().ToString());
    accel::pool::EtcdClient::Options etcd_options;
    etcd_options.location = *std::move(location);
    etcd_options.location.prefix = prefix = absl::StrCat("/coordinator-bench-", getpid());
    auto client = accel::pool::EtcdClient::Connect(etcd_options);
    Check(client.ok(), client.status().ToString());
    etcd_client = *std::move(client);
    // The bench is its own leader: a key to fence its writes on.
    fence = prefix + "/leader/bench";
    etcdserverpb::TxnRequest put;
    put.add_success()->mutable_request_put()->set_key(fence);
    absl::StatusOr<etcdserverpb::TxnResponse> made = etcd_client->Txn(put);
    Check(made.ok(), "etcd: " + made.status().ToString());
    fenced_at = made->header().revision();
    etcd_round = [&] {
      std::optional<Measured> m;
      {
        accel::pool::EtcdStateStore store(*etcd_client);
        store.Fence(fence, fenced_at, fenced_at, nullptr);
        m = measure(&store, kStoreThreads, store_grants, nullptr);
        // What the store folds in its own time after a burst (the grants'
        // journal entries into the per-lease keys), measured apart.
        store.Flush();
        const auto folding = Clock::now();
        const absl::Status folded = store.Fold();
        Check(folded.ok(), "etcd: " + folded.ToString());
        fold_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - folding).count());
      }  // what it queued is written
      clean(prefix + "/leases/");
      clean(prefix + "/journal/");
      return *m;
    };
  }
#else
  if (!etcd_url.empty()) {
    std::fprintf(stderr, "coordinator-bench: built without etcd's client: no etcd mode\n");
    return 1;
  }
#endif
  std::vector<Measured> sqlite_rounds, etcd_rounds;
  for (int r = 0; r < rounds; ++r) {
    if (sqlite_round) sqlite_rounds.push_back(sqlite_round());
    if (etcd_round) etcd_rounds.push_back(etcd_round());
  }
  // The round of median grant rate.
  auto median = [](std::vector<Measured> all) -> std::optional<Measured> {
    if (all.empty()) return std::nullopt;
    std::sort(all.begin(), all.end(), [](const Measured& a, const Measured& b) {
      return a.grants.per_second < b.grants.per_second;
    });
    return all[all.size() / 2];
  };
  const std::optional<Measured> sqlite = median(sqlite_rounds), etcd = median(etcd_rounds);
#ifdef ACCEL_BENCH_ETCD
  if (etcd_client != nullptr) {
    // Baselines, etcd alone: fenced transactions of puts as large as a
    // stored lease, one put each from every client thread (a store that
    // did not batch), and 64 each back to back from one thread (about the
    // most a batching store could send this cluster).
    auto fenced_puts = [&](int thread, int count, int* next) {
      etcdserverpb::TxnRequest txn;
      etcdserverpb::Compare* compare = txn.add_compare();
      compare->set_key(fence);
      compare->set_target(etcdserverpb::Compare::CREATE);
      compare->set_result(etcdserverpb::Compare::EQUAL);
      compare->set_create_revision(fenced_at);
      for (int i = 0; i < count; ++i) {
        etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
        put->set_key(absl::StrCat(prefix, "/raw/", thread, "-", (*next)++));
        put->set_value(std::string(kStoredLeaseBytes, 'x'));
      }
      absl::StatusOr<etcdserverpb::TxnResponse> done = etcd_client->Txn(txn);
      return done.ok() && done->succeeded();
    };
    std::vector<int> next(kStoreThreads, 0);
    etcd_alone_single = Run(kStoreThreads, store_grants / kStoreThreads,
                            [&](int t) { return fenced_puts(t, 1, &next[t]); });
    constexpr int kBatch = 64;
    etcd_alone_batched = Run(1, std::max(1, store_grants / kBatch),
                             [&](int) { return fenced_puts(kStoreThreads, kBatch, &next[0]); });
    etcd_alone_batched->per_second *= kBatch;
    clean(prefix + "/");
  }
#endif

  std::printf(
      "coordinator-bench: %d nodes, %d devices, half to three quarters leased; %d "
      "client threads\n",
      nodes, total, kThreads);
  std::printf("%-44s %10s %9s %9s %10s\n", "", "per second", "p50 us", "p99 us", "target");
  auto row = [](const char* what, const Result& r, const char* target) {
    std::printf("%-44s %10.0f %9.1f %9.1f %10s\n", what, r.per_second, r.p50_us, r.p99_us, target);
  };
  row("grant, in process (the coordinator's cost)", in_memory.grants, ">=5000/s");
  row("release, in process", in_memory.releases, "-");
  row("grant over gRPC on loopback", rpc.grants, "p99<=2ms");
  row("release over gRPC on loopback", rpc.releases, "-");
  row("baseline: empty unary RPC (GetVersion)", empty_rpcs, "-");
  std::printf("%-44s %10.2f\n", "ratio: gRPC grants / empty RPCs per second",
              rpc.grants.per_second / empty_rpcs.per_second);
  std::printf("%-44s %10.2f s (%.0f leases/s)\n",
              absl::StrCat("list ", listed, " leases over gRPC, in pages").c_str(), listing_seconds,
              listed / listing_seconds);
  if (sqlite || etcd) {
    std::printf("with the state in a store, %d client threads (the median of %d rounds):\n",
                kStoreThreads, rounds);
  }
  if (sqlite) {
    row("grant, in process, state in SQLite", sqlite->grants, "-");
    row("release, in process, state in SQLite", sqlite->releases, "-");
  }
  if (etcd) {
    row("grant, in process, state in etcd", etcd->grants, ">=0.5xSQL");
    row("release, in process, state in etcd", etcd->releases, "-");
    row("baseline: etcd alone, 1 put per transaction", *etcd_alone_single, "-");
    std::printf("%-44s %10.0f\n", "baseline: etcd alone, 64 puts per transaction",
                etcd_alone_batched->per_second);
    std::printf("%-44s %10.2f\n", "ratio: etcd grants / etcd alone, 64 per txn",
                etcd->grants.per_second / etcd_alone_batched->per_second);
#ifdef ACCEL_BENCH_ETCD
    std::sort(fold_ms.begin(), fold_ms.end());
    std::printf("%-44s %10.0f ms (rounds %.0f-%.0f)\n", "then folding the journal into lease keys",
                fold_ms[fold_ms.size() / 2], fold_ms.front(), fold_ms.back());
#endif
    if (sqlite) {
      double low = 1e9, high = 0;  // round by round
      for (size_t r = 0; r < etcd_rounds.size() && r < sqlite_rounds.size(); ++r) {
        const double ratio = etcd_rounds[r].grants.per_second / sqlite_rounds[r].grants.per_second;
        low = std::min(low, ratio);
        high = std::max(high, ratio);
      }
      std::printf("%-44s %10.2f (rounds %.2f-%.2f)\n",
                  "ratio: etcd grants / SQLite grants per second",
                  etcd->grants.per_second / sqlite->grants.per_second, low, high);
    }
  } else {
    std::printf(
        "(no etcd mode: give --state etcd://HOST:PORT,... or run under "
        "scripts/local-etcd.sh)\n");
  }
  return 0;
}
