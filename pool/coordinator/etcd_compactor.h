// Keeps etcd's history short. etcd keeps every earlier value of every key
// until it is compacted, and a pool writes each grant and release: a busy
// pool's etcd would grow, get slower, and at its quota (2 GiB by default)
// refuse every write. Every interval the leader drops the history older
// than the revision it saw one interval before, so at least one interval of
// history stays for watches that lag (a standby's warm copy whose watch
// falls behind a compaction reads the state again).
//
// Compaction is etcd-wide, not the pool's prefix only: an etcd shared with
// applications that need older history compacts itself instead (etcd's
// --auto-compaction-retention), and poold runs with
// --etcd_compaction_minutes 0.
#ifndef ACCEL_POOL_COORDINATOR_ETCD_COMPACTOR_H_
#define ACCEL_POOL_COORDINATOR_ETCD_COMPACTOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "pool/coordinator/etcd_client.h"

namespace accel::pool {

class EtcdCompactor {
 public:
  struct Options {
    std::chrono::milliseconds interval{std::chrono::minutes(5)};
    // Whether this coordinator leads now: only the leader compacts (null:
    // always).
    std::function<bool()> leading;
  };
  // `etcd` must outlive the compactor.
  EtcdCompactor(EtcdClient& etcd, Options options);
  ~EtcdCompactor();  // stops; a compaction under way finishes first

  // The revision the last compaction kept history from (0: none yet).
  int64_t compacted() const;

 private:
  void Loop();
  // etcd's revision now.
  absl::StatusOr<int64_t> Revision();

  EtcdClient& etcd_;
  const Options options_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t compacted_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_ETCD_COMPACTOR_H_
