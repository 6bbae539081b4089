// The pool's audit trail: who used which card, when, and who changed what.
//
// An append-only file of JSON lines, one per event:
//   {"seq":7,"time":"2026-12-01T12:00:00.123Z","event":"lease_granted",
//    "tenant":"risk",...,"prev":"<hash of line 6>","hash":"<hash of this line>"}
// "hash" is the SHA-256 of the line up to ',"hash"'; "prev" is the previous
// line's hash (64 zeros for the first). Editing, dropping or reordering a
// line breaks the chain, which VerifyAuditLog (poolctl audit verify) finds
// and names. Secrets never go in: callers pass names, not tokens.
#ifndef ACCEL_POOL_COMMON_AUDIT_LOG_H_
#define ACCEL_POOL_COMMON_AUDIT_LOG_H_

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace accel::pool {

class AuditLog {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;

  // Appends to `path` (created 0600 if missing), continuing the chain of
  // what it already holds; FAILED_PRECONDITION if that chain is broken, so
  // that a tampered log is noticed at once rather than extended.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& path);
  ~AuditLog();

  // Writes one event and flushes it. A failure to write is kept (status())
  // and reported once on stderr; the pool goes on serving.
  void Record(absl::string_view event, const Fields& fields);
  absl::Status status();

 private:
  AuditLog(std::FILE* file, uint64_t seq, std::string prev)
      : file_(file), seq_(seq), prev_(std::move(prev)) {}
  absl::Mutex mu_;
  std::FILE* const file_;
  uint64_t seq_ ABSL_GUARDED_BY(mu_);
  std::string prev_ ABSL_GUARDED_BY(mu_);
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

// OK with the number of lines when the file's chain is whole; DATA_LOSS
// naming the first line that is not what its place in the chain says
// (edited, dropped, inserted or reordered).
absl::StatusOr<uint64_t> VerifyAuditLog(const std::string& path);

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_AUDIT_LOG_H_
