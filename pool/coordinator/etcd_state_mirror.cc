#include "pool/coordinator/etcd_state_mirror.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace accel::pool {

EtcdStateMirror::EtcdStateMirror(EtcdClient& etcd)
    : etcd_(etcd), root_(etcd.location().prefix + "/"), thread_([this] { Loop(); }) {}

EtcdStateMirror::~EtcdStateMirror() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (watch_context_ != nullptr) watch_context_->TryCancel();
  }
  thread_.join();
}

int64_t EtcdStateMirror::revision() {
  absl::MutexLock lock(&mu_);
  return revision_;
}

void EtcdStateMirror::Loop() {
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    const absl::Status ended = Mirror();
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    // A member gone, a compaction past the copy: load again (elsewhere).
    etcd_.MemberFailed();
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(backoff));
    backoff = ended.ok() ? std::chrono::milliseconds(100)
                         : std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

absl::Status EtcdStateMirror::Mirror() {
  // The snapshot: every key, at one revision.
  std::map<std::string, std::string> kvs;
  absl::StatusOr<int64_t> revision = etcd_.RangePrefix(root_, [&](const mvccpb::KeyValue& kv) {
    kvs[kv.key()] = kv.value();
    return absl::OkStatus();
  });
  if (!revision.ok()) return revision.status();
  grpc::ClientContext context;
  auto stream = etcd_.Watch(context);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    kvs_ = std::move(kvs);
    revision_ = *revision;
    watch_context_ = &context;
  }
  etcdserverpb::WatchRequest create;
  create.mutable_create_request()->set_key(root_);
  create.mutable_create_request()->set_range_end(PrefixEnd(root_));
  create.mutable_create_request()->set_start_revision(*revision + 1);
  etcdserverpb::WatchResponse response;
  absl::Status why = absl::UnavailableError("the watch ended");
  const bool created = stream->Write(create) && stream->Read(&response) && response.created();
  while (created && stream->Read(&response)) {
    if (response.canceled() || response.compact_revision() != 0) {
      why = absl::AbortedError(absl::StrCat("the watch was cancelled: ", response.cancel_reason()));
      break;
    }
    absl::MutexLock lock(&mu_);
    for (const mvccpb::Event& event : response.events()) {
      if (event.type() == mvccpb::Event::PUT) {
        kvs_[event.kv().key()] = event.kv().value();
      } else {
        kvs_.erase(event.kv().key());
      }
      revision_ = std::max(revision_, event.kv().mod_revision());
    }
  }
  {
    absl::MutexLock lock(&mu_);
    watch_context_ = nullptr;
  }
  context.TryCancel();
  stream->Finish().IgnoreError();
  return why;
}

absl::StatusOr<PoolState> EtcdStateMirror::StateAt(int64_t revision,
                                                   std::chrono::milliseconds wait) {
  absl::StatusOr<EtcdStateDecoder> records = RecordsAt(revision, wait);
  if (!records.ok()) return records.status();
  return records->Finish();
}

absl::StatusOr<EtcdStateDecoder> EtcdStateMirror::RecordsAt(int64_t revision,
                                                            std::chrono::milliseconds wait) {
  std::pair<EtcdStateMirror*, int64_t> target(this, revision);
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(
      absl::Condition(
          +[](std::pair<EtcdStateMirror*, int64_t>* t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
               t->first->mu_) { return t->first->revision_ >= t->second; },
          &target),
      absl::FromChrono(wait));
  if (revision_ < revision) {
    return absl::DeadlineExceededError(absl::StrCat("the etcd watch reached revision ", revision_,
                                                    ", not ", revision, ", in time"));
  }
  EtcdStateDecoder records(root_);
  for (const auto& [key, value] : kvs_) {
    if (absl::Status s = records.Add(key, value); !s.ok()) return s;
  }
  return records;
}

}  // namespace accel::pool
