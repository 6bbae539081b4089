#include "pool/common/coordinator_list.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace accel::pool {

absl::StatusOr<std::shared_ptr<CoordinatorList>> CoordinatorList::Parse(
    const std::string& addresses, std::shared_ptr<grpc::ChannelCredentials> credentials,
    grpc::ChannelArguments args) {
  std::vector<std::string> list;
  for (absl::string_view a : absl::StrSplit(addresses, ',')) {
    const size_t colon = a.rfind(':');
    if (a.empty() || colon == absl::string_view::npos || colon == 0 || colon + 1 == a.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("coordinator address '", a, "' in '", addresses, "' is not HOST:PORT"));
    }
    if (std::find(list.begin(), list.end(), a) == list.end()) list.emplace_back(a);
  }
  // A coordinator that was down is tried again within a second of coming
  // back, and a new list does not inherit the growing reconnection backoff
  // that gRPC's process-wide subchannels keep for a dead address: a call
  // to a coordinator that is gone fails at once, and the next is tried.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return std::shared_ptr<CoordinatorList>(
      new CoordinatorList(std::move(list), std::move(credentials), std::move(args)));
}

CoordinatorList::CoordinatorList(std::vector<std::string> addresses,
                                 std::shared_ptr<grpc::ChannelCredentials> credentials,
                                 grpc::ChannelArguments args)
    : credentials_(std::move(credentials)),
      args_(std::move(args)),
      addresses_(std::move(addresses)) {}

std::string CoordinatorList::current() const {
  absl::MutexLock lock(&mu_);
  return addresses_[current_];
}

std::string CoordinatorList::joined() const {
  absl::MutexLock lock(&mu_);
  return absl::StrJoin(addresses_, ",");
}

std::vector<std::string> CoordinatorList::addresses() const {
  absl::MutexLock lock(&mu_);
  return addresses_;
}

size_t CoordinatorList::size() const {
  absl::MutexLock lock(&mu_);
  return addresses_.size();
}

v1::Coordinator::Stub& CoordinatorList::Stub(const std::string& address) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<v1::Coordinator::Stub>& stub = stubs_[address];
  if (stub == nullptr) {
    stub = v1::Coordinator::NewStub(grpc::CreateCustomChannel(address, credentials_, args_));
  }
  return *stub;
}

bool CoordinatorList::MoveOn(const std::string& address, const grpc::Status& status,
                             const grpc::ClientContext& context) {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE &&
      status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
    return false;
  }
  const auto& trailing = context.GetServerTrailingMetadata();
  // The leader itself refused for want of what it needs (its state store):
  // no other coordinator would do better.
  if (trailing.count("x-accel-role") != 0) return false;
  std::string leader;
  const auto hint = trailing.find(kLeaderMetadata);
  if (hint != trailing.end()) leader.assign(hint->second.data(), hint->second.size());
  absl::MutexLock lock(&mu_);
  // The only coordinator there is did not answer at all: nobody to fail
  // over to, and the caller hears so now. (One that answered "electing" is
  // asked again.)
  if (hint == trailing.end() && addresses_.size() == 1) return false;
  if (addresses_[current_] != address) return true;  // another call moved on already
  if (!leader.empty() && leader != address) {
    auto known = std::find(addresses_.begin(), addresses_.end(), leader);
    if (known == addresses_.end()) known = addresses_.insert(addresses_.end(), leader);
    current_ = static_cast<size_t>(known - addresses_.begin());
  } else {
    current_ = (current_ + 1) % addresses_.size();
  }
  return true;
}

grpc::Status CoordinatorList::CallLeader(
    std::chrono::system_clock::time_point deadline, std::chrono::milliseconds per_try,
    const std::function<void(grpc::ClientContext&)>& prepare,
    const std::function<grpc::Status(v1::Coordinator::Stub&, grpc::ClientContext&)>& call) {
  grpc::Status status;
  // What a coordinator last answered: when the deadline cuts the last try
  // short, that says more than "deadline exceeded".
  grpc::Status answered;
  for (size_t tried = 1;; ++tried) {
    const std::string address = current();
    grpc::ClientContext context;
    context.set_deadline(std::min(deadline, std::chrono::system_clock::now() + per_try));
    if (prepare) prepare(context);
    status = call(Stub(address), context);
    if (status.ok()) return status;
    if (!MoveOn(address, status, context)) {
      // The leader itself could not (its state store is out of reach, as
      // while etcd elects a leader of its own): again, after a pause, while
      // time is left. Anything else is the answer.
      const bool leader_unavailable =
          status.error_code() == grpc::StatusCode::UNAVAILABLE &&
          context.GetServerTrailingMetadata().count("x-accel-role") != 0;
      // A try cut short by the deadline: what a coordinator said before
      // is the better answer.
      if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && !answered.ok()) break;
      if (!leader_unavailable ||
          std::chrono::system_clock::now() + std::chrono::milliseconds(300) >= deadline) {
        return status;
      }
      answered = status;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      continue;
    }
    if (status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) answered = status;
    if (std::chrono::system_clock::now() >= deadline) break;
    // Every coordinator tried: one is being elected, or all are down; the
    // next round comes after a pause, not in a tight loop.
    if (tried % size() == 0) {
      std::this_thread::sleep_until(
          std::min(deadline, std::chrono::system_clock::now() + std::chrono::milliseconds(200)));
    }
  }
  if (!answered.ok()) status = answered;
  return grpc::Status(status.error_code(),
                      absl::StrCat(status.error_message(), " (no coordinator of ", joined(),
                                   " answered as the pool's leader in time)"));
}

}  // namespace accel::pool
