#include "pool/coordinator/leader_election.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace accel::pool {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

LeaderElection::LeaderElection(EtcdClient& etcd, Options options, Callbacks callbacks)
    : etcd_(etcd),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      name_(absl::StrCat(etcd.location().prefix, "/leader")) {}

LeaderElection::~LeaderElection() { Stop(); }

void LeaderElection::Start() {
  keeper_ = std::thread([this] { KeepAliveLoop(); });
  observer_ = std::thread([this] { ObserveLoop(); });
  campaigner_ = std::thread([this] { CampaignLoop(); });
}

void LeaderElection::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (campaign_ != nullptr) campaign_->TryCancel();
  }
  if (campaigner_.joinable()) campaigner_.join();
  if (keeper_.joinable()) keeper_.join();
  if (observer_.joinable()) observer_.join();
}

void LeaderElection::Lost(absl::Status why) {
  absl::MutexLock lock(&mu_);
  if (lost_.ok()) lost_ = std::move(why);
}

void LeaderElection::SetTrouble(absl::Status why) {
  absl::MutexLock lock(&mu_);
  trouble_ = std::move(why);
}

LeaderElection::View LeaderElection::view() {
  absl::MutexLock lock(&mu_);
  View v;
  v.role = role_;
  v.etcd = trouble_;
  v.candidates = candidates_;
  v.leader_address = role_ == Role::kLeader ? options_.address : leader_address_;
  return v;
}

void LeaderElection::ObserveLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.Unlock();
    // The candidates' keys, oldest first: the first one leads.
    etcdserverpb::RangeRequest request;
    request.set_key(name_ + "/");
    request.set_range_end(PrefixEnd(name_ + "/"));
    request.set_sort_target(etcdserverpb::RangeRequest::CREATE);
    request.set_sort_order(etcdserverpb::RangeRequest::ASCEND);
    absl::StatusOr<etcdserverpb::RangeResponse> keys = etcd_.Range(request);
    mu_.Lock();
    candidates_.clear();
    leader_address_.clear();  // nothing stale
    if (keys.ok()) {
      for (const mvccpb::KeyValue& kv : keys->kvs()) candidates_.push_back(kv.value());
      if (!candidates_.empty()) leader_address_ = candidates_.front();
    } else {
      trouble_ = keys.status();
    }
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(500));
  }
}

void LeaderElection::KeepAliveLoop() {
  const auto period = std::chrono::milliseconds(options_.ttl_seconds * 1000 / 3);
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(period));
    if (stopping_ || lease_ == 0 || lease_lapsed_) continue;
    const int64_t lease = lease_;
    const auto sent = Clock::now();
    mu_.Unlock();
    absl::StatusOr<int64_t> ttl = etcd_.LeaseKeepAlive(lease);
    mu_.Lock();
    if (lease != lease_) continue;  // replaced meanwhile
    if (ttl.ok() && *ttl > 0) {
      kept_alive_ = std::max(kept_alive_, sent);
      trouble_ = absl::OkStatus();
    } else if (ttl.ok()) {
      lease_lapsed_ = true;  // etcd let it go: the key went with it
      trouble_ = absl::UnavailableError("etcd: this coordinator's election lease lapsed");
    } else {
      trouble_ = ttl.status();
    }
  }
}

absl::Status LeaderElection::LeadUntilDeposed() {
  // Steps down this long after the last answered keep-alive was sent: the
  // lease lasts its TTL from when etcd received it, so this is before etcd
  // could let it go and elect another.
  const auto margin = std::min<std::chrono::milliseconds>(
      std::chrono::milliseconds(1000), std::chrono::milliseconds(options_.ttl_seconds * 250));
  const auto limit = std::chrono::seconds(options_.ttl_seconds) - margin;
  for (;;) {
    if (stopping_) return absl::CancelledError("poold is shutting down");
    if (!lost_.ok()) return lost_;
    if (lease_lapsed_) return absl::UnavailableError("etcd: the leader's election lease lapsed");
    if (Clock::now() - kept_alive_ > limit) {
      return absl::UnavailableError(
          absl::StrCat("etcd has not answered the leader's keep-alives for ",
                       std::chrono::duration_cast<std::chrono::milliseconds>(limit).count(), " ms",
                       trouble_.ok() ? "" : absl::StrCat(" (", trouble_.message(), ")")));
    }
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](LeaderElection* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) {
                               return e->stopping_ || !e->lost_.ok() || e->lease_lapsed_;
                             },
                             this),
                         absl::Milliseconds(100));
  }
}

void LeaderElection::CampaignLoop() {
  auto backoff = std::chrono::milliseconds(100);
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    if (lease_ == 0 || lease_lapsed_) {
      mu_.Unlock();
      absl::StatusOr<etcdserverpb::LeaseGrantResponse> granted =
          etcd_.LeaseGrant(options_.ttl_seconds);
      mu_.Lock();
      if (!granted.ok()) {
        trouble_ = granted.status();
        role_ = Role::kElecting;
        mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(backoff));
        backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
        continue;
      }
      lease_ = granted->id();
      lease_lapsed_ = false;
      kept_alive_ = Clock::now();
      trouble_ = absl::OkStatus();
    }
    if (role_ != Role::kLeader) role_ = Role::kStandby;
    grpc::ClientContext context;
    campaign_ = &context;
    const int64_t lease = lease_;
    mu_.Unlock();
    absl::StatusOr<v3electionpb::CampaignResponse> won =
        etcd_.Campaign(context, name_, lease, options_.address);
    mu_.Lock();
    campaign_ = nullptr;
    if (stopping_) break;
    if (!won.ok()) {
      trouble_ = won.status();
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(backoff));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      continue;
    }
    backoff = std::chrono::milliseconds(100);
    role_ = Role::kLeader;
    lost_ = absl::OkStatus();
    const Term term{won->leader().key(), won->leader().rev(), won->header().revision()};
    std::fprintf(stderr, "poold: elected the pool's leader (etcd key %s, revision %lld)\n",
                 term.key.c_str(), static_cast<long long>(term.revision));
    mu_.Unlock();
    callbacks_.elected(term);
    mu_.Lock();
    const absl::Status why = LeadUntilDeposed();
    role_ = Role::kElecting;
    mu_.Unlock();
    std::fprintf(stderr, "poold: no longer the pool's leader: %s\n", why.ToString().c_str());
    callbacks_.deposed(why);
    // Resigning lets a standby take over now rather than at the lease's
    // end; a lease that may have lapsed is replaced, so that this
    // coordinator campaigns afresh.
    etcd_.Resign(won->leader()).IgnoreError();
    mu_.Lock();
    if (!stopping_) {
      const int64_t old = lease_;
      lease_ = 0;
      mu_.Unlock();
      etcd_.LeaseRevoke(old).IgnoreError();
      mu_.Lock();
    }
  }
  role_ = Role::kElecting;
  const int64_t lease = lease_;
  lease_ = 0;
  mu_.Unlock();
  // Gone from the election at once, not at the TTL's end.
  if (lease != 0) etcd_.LeaseRevoke(lease).IgnoreError();
  mu_.Lock();
}

}  // namespace accel::pool
