// Which of the pool's coordinators leads: an election in etcd (its v3
// Election service), one etcd lease per candidate, kept alive while the
// candidate lives. The leader's election key is attached to its lease, so a
// leader that dies or loses etcd loses the key once the lease's TTL passes,
// and the next candidate in line is elected.
//
// A leader steps down by itself a little before its lease could have
// lapsed when keep-alives stop being answered (etcd lost quorum, or this
// host lost etcd): there is never a moment when it still acts while etcd
// may already have elected another. Its writes are fenced on its election
// key besides (etcd_state_store.h).
#ifndef ACCEL_POOL_COORDINATOR_LEADER_ELECTION_H_
#define ACCEL_POOL_COORDINATOR_LEADER_ELECTION_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "pool/coordinator/etcd_client.h"

namespace accel::pool {

class LeaderElection {
 public:
  struct Options {
    // The leader's etcd lease TTL: a dead leader is replaced within about
    // this long (poold --election_ttl).
    int64_t ttl_seconds = 5;
    // What the leader publishes: the address clients reach it at.
    std::string address;
  };
  struct Term {
    std::string key;       // the leader's election key
    int64_t revision = 0;  // its create revision: the fence of its writes
    // etcd's revision when it was elected: every write of earlier leaders
    // is at or before it.
    int64_t elected_at = 0;
  };
  // Called on the election's thread. `elected` starts serving as leader;
  // `deposed` stops it, with why (it is called once per `elected`).
  struct Callbacks {
    std::function<void(const Term&)> elected;
    std::function<void(const absl::Status&)> deposed;
  };

  // `etcd` must outlive the election.
  LeaderElection(EtcdClient& etcd, Options options, Callbacks callbacks);
  ~LeaderElection();  // Stop()s
  LeaderElection(const LeaderElection&) = delete;
  LeaderElection& operator=(const LeaderElection&) = delete;

  void Start();
  // Steps down if leading (resigns, so a standby takes over at once),
  // and stops campaigning.
  void Stop();
  // The leader gave up (a fenced write failed): step down now.
  void Lost(absl::Status why);

  enum class Role { kElecting, kStandby, kLeader };
  struct View {
    Role role = Role::kElecting;
    std::string leader_address;           // "" when unknown
    absl::Status etcd;                    // the last trouble with etcd, OK if none
    std::vector<std::string> candidates;  // every coordinator's address, the leader first
  };
  // Where the pool's leader is, as etcd said within the last half second
  // or so (never waits for etcd).
  View view();
  const std::string& election_name() const { return name_; }

 private:
  void CampaignLoop();
  void KeepAliveLoop();
  // Keeps the candidates and the leader's address fresh for view().
  void ObserveLoop();
  // Until the term ends: returns why.
  absl::Status LeadUntilDeposed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetTrouble(absl::Status why);

  EtcdClient& etcd_;
  const Options options_;
  const Callbacks callbacks_;
  const std::string name_;  // the election: PREFIX/leader

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Role role_ ABSL_GUARDED_BY(mu_) = Role::kElecting;
  int64_t lease_ ABSL_GUARDED_BY(mu_) = 0;  // 0: none granted now
  // When the last keep-alive that etcd answered was sent.
  std::chrono::steady_clock::time_point kept_alive_ ABSL_GUARDED_BY(mu_);
  bool lease_lapsed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status lost_ ABSL_GUARDED_BY(mu_);
  absl::Status trouble_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* campaign_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::string leader_address_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> candidates_ ABSL_GUARDED_BY(mu_);
  std::thread campaigner_;
  std::thread keeper_;
  std::thread observer_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_LEADER_ELECTION_H_
