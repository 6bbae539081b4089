// The pool's coordinators as a caller knows them: a node (poold
// --coordinator), a client (ACCEL_POOL, accel-run --pool) and poolctl
// (--pool) take "HOST:PORT[,HOST:PORT...]". Calls go to the one that last
// answered as the leader. A call that finds a standby, or nobody, moves on:
// to the leader the standby named (the x-accel-leader trailing metadata),
// else to the next address in the list. So callers follow a failover on
// their own, without being told.
#ifndef ACCEL_POOL_COMMON_COORDINATOR_LIST_H_
#define ACCEL_POOL_COMMON_COORDINATOR_LIST_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pool/common/wire.h"

namespace accel::pool {

// A standby's answer names the leader in this trailing metadata ("" while
// one is being elected).
inline constexpr char kLeaderMetadata[] = "x-accel-leader";

class CoordinatorList {
 public:
  // INVALID_ARGUMENT for an empty list or entry, or one without a port.
  static absl::StatusOr<std::shared_ptr<CoordinatorList>> Parse(
      const std::string& addresses, std::shared_ptr<grpc::ChannelCredentials> credentials,
      grpc::ChannelArguments args = {});

  // Where calls go now.
  std::string current() const;
  // "a:1,b:2": every address known, as given (and leaders learnt since).
  std::string joined() const;
  std::vector<std::string> addresses() const;
  size_t size() const;
  // The stub of `address`, made once (stubs are safe to share).
  v1::Coordinator::Stub& Stub(const std::string& address);

  // A call to `address` ended with `status`: true if another coordinator
  // may answer it (a standby, none leading, or, in a list of several, a
  // coordinator down), and then current() names the one to try next.
  bool MoveOn(const std::string& address, const grpc::Status& status,
              const grpc::ClientContext& context);

  // Runs `call` on the leader: moves on while coordinators answer "not
  // here", pausing briefly after each round, until `deadline`; asks the
  // leader again while it answers UNAVAILABLE for want of its state store. Each try
  // gets at most `per_try` (a coordinator cut off by the network must not
  // use up the whole deadline) and a context made by `prepare`.
  grpc::Status CallLeader(
      std::chrono::system_clock::time_point deadline, std::chrono::milliseconds per_try,
      const std::function<void(grpc::ClientContext&)>& prepare,
      const std::function<grpc::Status(v1::Coordinator::Stub&, grpc::ClientContext&)>& call);

 private:
  CoordinatorList(std::vector<std::string> addresses,
                  std::shared_ptr<grpc::ChannelCredentials> credentials,
                  grpc::ChannelArguments args);

  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const grpc::ChannelArguments args_;
  mutable absl::Mutex mu_;
  std::vector<std::string> addresses_ ABSL_GUARDED_BY(mu_);
  size_t current_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::unique_ptr<v1::Coordinator::Stub>> stubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_COORDINATOR_LIST_H_
