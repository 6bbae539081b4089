// The coordinator: the pool's registry of nodes and devices, and the lease
// table. Leases have a TTL renewed by the holder's heartbeat; a reaper ends
// the ones that lapse and tells the node, which frees everything the lease
// held.
#ifndef ACCEL_POOL_COORDINATOR_COORDINATOR_H_
#define ACCEL_POOL_COORDINATOR_COORDINATOR_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pool/common/wire.h"

namespace accel::pool {

// Told when a lease ends (released, expired, revoked), so the node ends its
// session and frees its memory.
class LeaseListener {
 public:
  virtual ~LeaseListener() = default;
  virtual void OnLeaseEnded(const std::string& lease_id, const absl::Status& why) = 0;
};

class Coordinator {
 public:
  struct Options {
    uint32_t default_ttl_seconds = 30;
    uint32_t max_ttl_seconds = 3600;
    // How often lapsed leases are looked for.
    std::chrono::milliseconds reap_interval{200};
  };

  explicit Coordinator(Options options);
  ~Coordinator();  // Stop()s
  // Stops the reaper: no listener is called after this returns. Call it
  // before the listeners go away.
  void Stop();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Registers a node and its devices (DeviceInfo.id/node are filled in).
  void AddNode(const std::string& name, const std::string& address,
               const std::map<std::string, std::string>& labels,
               std::vector<v1::DeviceInfo> devices, LeaseListener* listener);

  absl::StatusOr<v1::LeaseResponse> Lease(const v1::LeaseRequest& request);
  absl::StatusOr<int64_t> Renew(const std::string& lease_id, const std::string& token);
  absl::Status Release(const std::string& lease_id, const std::string& token);
  absl::Status AdminRelease(const std::string& lease_id);
  // For the node opening a session: the lease if the token matches.
  absl::StatusOr<v1::LeaseInfo> Admit(const std::string& lease_id, const std::string& token,
                                      const std::string& node);
  // The node's reports on a lease's session: memory it uses, open or not.
  void ReportUsage(const std::string& lease_id, uint64_t memory_in_use);
  void ReportSession(const std::string& lease_id, bool open);

  std::vector<v1::NodeInfo> ListNodes();
  std::vector<v1::DeviceInfo> ListDevices();
  std::vector<v1::LeaseInfo> ListLeases();
  absl::Status Drain(const std::string& node, bool undrain);

 private:
  struct Node {
    v1::NodeInfo info;
    std::vector<v1::DeviceInfo> devices;
    LeaseListener* listener = nullptr;
  };
  struct LeaseRecord {
    v1::LeaseInfo info;
    std::string token;
    std::chrono::steady_clock::time_point expires;
  };

  void ReapLoop();
  // Ends the lease (lock held); returns the listener to notify after unlocking.
  LeaseListener* EndLocked(const std::string& lease_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static int64_t NowUnixMs();

  const Options options_;
  absl::Mutex mu_;
  std::map<std::string, Node> nodes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, LeaseRecord> leases_ ABSL_GUARDED_BY(mu_);
  // Pool device id -> lease id holding it.
  std::map<std::string, std::string> device_holder_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reaper_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_COORDINATOR_H_
