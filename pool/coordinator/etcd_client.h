// A connection to an etcd v3 cluster, for the coordinator's state store and
// its leader election: the members' addresses, TLS and user/password, and
// unary calls that move on to the next member when one does not answer.
// Calls go to the member that leads etcd's raft group when it is known: a
// write sent to a follower is forwarded to the leader and its commit comes
// back the same way, which costs twice the round trips.
// The protocol itself is the client gRPC generates from etcd's own .proto
// files (pool/CMakeLists.txt); nothing here re-states it.
#ifndef ACCEL_POOL_COORDINATOR_ETCD_CLIENT_H_
#define ACCEL_POOL_COORDINATOR_ETCD_CLIENT_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "etcd/etcdserver/api/v3election/v3electionpb/v3election.grpc.pb.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "pool/common/tls.h"

namespace accel::pool {

// Where the state lives: poold --state etcd://HOST:PORT[,HOST:PORT...][/prefix].
struct EtcdLocation {
  std::vector<std::string> endpoints;
  std::string prefix = "/accelpool";  // no trailing '/'
};
// INVALID_ARGUMENT, saying what is wrong, for anything else.
absl::StatusOr<EtcdLocation> ParseEtcdUrl(const std::string& url);
bool IsEtcdUrl(const std::string& state);
// The range_end that makes a range request cover every key under `prefix`.
std::string PrefixEnd(std::string prefix);

class EtcdClient {
 public:
  struct Options {
    EtcdLocation location;
    TlsFiles tls;                // etcd's own CA and, for client-certificate auth, ours
    std::string user, password;  // etcd's user auth; empty: none
    // The longest one call waits, over all members it tries: enough to
    // outlast etcd electing a leader of its own when a member dies.
    std::chrono::milliseconds call_timeout{5000};
  };
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Connect(Options options);

  const EtcdLocation& location() const { return options_.location; }
  // The member calls go to now, "host:port": the raft leader once a call
  // has found it (after the first call, and after each change of etcd's
  // leader or of the member answering).
  std::string endpoint() const;

  absl::StatusOr<etcdserverpb::RangeResponse> Range(const etcdserverpb::RangeRequest& request);
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(const etcdserverpb::TxnRequest& request);
  // Every key under `prefix`, in pages of 1000, all at the first page's
  // revision (one snapshot however many keys): `each` sees them in order,
  // and may stop the read with an error. Returns the snapshot's revision.
  absl::StatusOr<int64_t> RangePrefix(
      const std::string& prefix, const std::function<absl::Status(const mvccpb::KeyValue&)>& each);
  // Drops etcd's history of every key (the whole keyspace, not the prefix's
  // only) before `revision`; the values at and after it stay. OK when that
  // much is compacted already.
  absl::Status Compact(int64_t revision);
  absl::StatusOr<etcdserverpb::LeaseGrantResponse> LeaseGrant(int64_t ttl_seconds);
  absl::Status LeaseRevoke(int64_t lease);
  // One keep-alive of `lease`: its TTL left in seconds (0: it has lapsed).
  absl::StatusOr<int64_t> LeaseKeepAlive(int64_t lease);
  absl::Status Resign(const v3electionpb::LeaderKey& leader);
  // Campaigns for `election` with `lease`, waiting until elected or
  // `context` is cancelled: a call with no deadline of its own.
  absl::StatusOr<v3electionpb::CampaignResponse> Campaign(grpc::ClientContext& context,
                                                          const std::string& election,
                                                          int64_t lease, const std::string& value);
  // A watch stream on the member calls go to now; `context` (credentials
  // attached here) must outlive it.
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>>
  Watch(grpc::ClientContext& context);
  // A long-lived call (a watch) failed on the member it was on: later calls
  // begin with the next member.
  void MemberFailed();
  // A context for a call of the caller's own (credentials attached).
  void Prepare(grpc::ClientContext& context);
  // The time the last successful call took.
  std::chrono::microseconds last_round_trip() const;

 private:
  explicit EtcdClient(Options options);
  struct Member {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<etcdserverpb::Auth::Stub> auth;
    std::unique_ptr<v3electionpb::Election::Stub> election;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch;
    std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
    std::unique_ptr<etcdserverpb::Cluster::Stub> cluster;
  };
  // Runs `call` on the current member; moves to the next one while members
  // are unreachable, re-authenticates once if the auth token lapsed.
  // UNAVAILABLE naming etcd and the member when none answers in time.
  // `raft_term`, where the call's response has a header: its raft term,
  // read once the call answered, tells when etcd's leader may have changed.
  absl::Status Call(const char* what,
                    const std::function<grpc::Status(Member&, grpc::ClientContext&)>& call,
                    const std::function<uint64_t()>& raft_term = nullptr);
  absl::Status Authenticate(Member& member) ABSL_LOCKS_EXCLUDED(mu_);
  // Asks `member` (which just answered) which member leads etcd's raft
  // group: its index; none while etcd elects one; NOT_FOUND when it is none
  // of the configured endpoints.
  absl::StatusOr<std::optional<size_t>> FindRaftLeader(size_t member) ABSL_LOCKS_EXCLUDED(mu_);

  const Options options_;
  std::vector<Member> members_;
  mutable absl::Mutex mu_;
  size_t current_ ABSL_GUARDED_BY(mu_) = 0;
  std::string auth_token_ ABSL_GUARDED_BY(mu_);
  std::chrono::microseconds round_trip_ ABSL_GUARDED_BY(mu_){0};
  // Whether current_ may not be the raft leader, and the raft term it was
  // last looked up in.
  bool leader_unknown_ ABSL_GUARDED_BY(mu_) = true;
  uint64_t raft_term_ ABSL_GUARDED_BY(mu_) = 0;
  std::string leader_lookup_failure_ ABSL_GUARDED_BY(mu_);  // last one printed
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_ETCD_CLIENT_H_
