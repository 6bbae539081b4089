// A standby coordinator's warm copy of the pool's state in etcd: loaded
// once, then kept current by an etcd watch on the prefix, so that a newly
// elected leader restores from memory instead of reading every key. It is
// exact: the new leader writes a mark under the prefix (after its
// election, so after every write of earlier leaders, which were fenced on
// keys gone by then) and waits until the watch delivers it: events come in
// revision order, so the copy then holds everything before. (Not etcd 3.4's
// progress reports: one can overtake the event of the revision it names.)
// If the watch does not deliver it in time (etcd trouble), the store reads
// etcd.
#ifndef ACCEL_POOL_COORDINATOR_ETCD_STATE_MIRROR_H_
#define ACCEL_POOL_COORDINATOR_ETCD_STATE_MIRROR_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pool/coordinator/etcd_client.h"
#include "pool/coordinator/etcd_state_layout.h"
#include "pool/coordinator/state_store.h"

namespace accel::pool {

class EtcdStateMirror {
 public:
  // Starts mirroring; `etcd` must outlive the mirror.
  explicit EtcdStateMirror(EtcdClient& etcd);
  ~EtcdStateMirror();
  EtcdStateMirror(const EtcdStateMirror&) = delete;
  EtcdStateMirror& operator=(const EtcdStateMirror&) = delete;

  // The state as of `revision` or later, once the watch has delivered an
  // event at `revision` or later (a write under the prefix);
  // DEADLINE_EXCEEDED if it has not within `wait`.
  absl::StatusOr<PoolState> StateAt(int64_t revision, std::chrono::milliseconds wait);
  // The same, as the records it is made of (what the store's journal needs).
  absl::StatusOr<EtcdStateDecoder> RecordsAt(int64_t revision, std::chrono::milliseconds wait);
  // The revision the copy is current through (0 before the first load).
  int64_t revision();

 private:
  void Loop();
  // Loads the whole prefix, then applies the watch's events until the
  // stream ends; returns why.
  absl::Status Mirror();

  EtcdClient& etcd_;
  const std::string root_;  // PREFIX/
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::string> kvs_ ABSL_GUARDED_BY(mu_);
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::ClientContext* watch_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_ETCD_STATE_MIRROR_H_
