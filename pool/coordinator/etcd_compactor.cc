#include "pool/coordinator/etcd_compactor.h"

#include <cstdio>

#include "absl/time/time.h"

namespace accel::pool {

EtcdCompactor::EtcdCompactor(EtcdClient& etcd, Options options)
    : etcd_(etcd), options_(std::move(options)), thread_([this] { Loop(); }) {}

EtcdCompactor::~EtcdCompactor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

int64_t EtcdCompactor::compacted() const {
  absl::MutexLock lock(&mu_);
  return compacted_;
}

absl::StatusOr<int64_t> EtcdCompactor::Revision() {
  etcdserverpb::RangeRequest request;
  request.set_key(etcd_.location().prefix + "/");
  request.set_count_only(true);
  absl::StatusOr<etcdserverpb::RangeResponse> read = etcd_.Range(request);
  if (!read.ok()) return read.status();
  return read->header().revision();
}

void EtcdCompactor::Loop() {
  int64_t seen = 0;  // etcd's revision one interval ago, while leading
  absl::MutexLock lock(&mu_);
  for (;;) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(options_.interval));
    if (stopping_) return;
    const int64_t compacted = compacted_;
    mu_.Unlock();
    if (options_.leading && !options_.leading()) {
      seen = 0;  // a later term starts its own interval
    } else if (absl::StatusOr<int64_t> now = Revision(); !now.ok()) {
      // Tried again next interval; etcd's trouble shows on every write too.
      std::fprintf(stderr, "poold: etcd: not compacting its history: %s\n",
                   now.status().ToString().c_str());
    } else {
      if (seen > compacted) {
        if (absl::Status done = etcd_.Compact(seen); done.ok()) {
          absl::MutexLock done_lock(&mu_);
          compacted_ = seen;
        } else {
          std::fprintf(stderr, "poold: etcd: compacting its history to revision %lld: %s\n",
                       static_cast<long long>(seen), done.ToString().c_str());
        }
      }
      seen = *now;
    }
    mu_.Lock();
  }
}

}  // namespace accel::pool
