// What a session's worker writes to its stderr, relayed into poold's log.
// The worker runs tenants' code (host kernels, vendor libraries acting on a
// tenant's module), so what it writes is the tenant's: never let through raw,
// or a tenant could forge lines of poold's log or send a terminal's escape
// sequences to whoever reads it. Each line is prefixed with the lease, its
// bytes other than printable ASCII written as \xNN, cut at 1 KiB, and at
// most a burst of 50 lines then 10 a second are kept (the rest are counted,
// and the count is said).
#ifndef ACCEL_POOL_NODE_WORKER_LOG_H_
#define ACCEL_POOL_NODE_WORKER_LOG_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"

namespace accel::pool {

// The log line for one line the worker wrote (without its newline): its
// first bytes (those past WorkerLog::kMaxLine are not shown), and how many
// more bytes it had that were never kept.
std::string WorkerLogLine(absl::string_view lease_id, absl::string_view line, size_t more = 0);

// How many lines may go out now: a burst, then a steady rate.
class LogLineBudget {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr double kBurst = 50;
  static constexpr double kPerSecond = 10;
  // Whether a line may go out at `now` (one that may not is counted).
  bool Take(Clock::time_point now);
  // The lines held back since this was last asked (and forgets them).
  uint64_t TakeDropped();

 private:
  double tokens_ = kBurst;
  std::optional<Clock::time_point> last_;
  uint64_t dropped_ = 0;
};

class WorkerLog {
 public:
  static constexpr size_t kMaxLine = 1024;
  // Reads `fd` (the read end of the worker's stderr pipe, owned from now)
  // until the worker closes it, writing each line to poold's stderr.
  WorkerLog(std::string lease_id, int fd);
  ~WorkerLog();  // what the worker wrote before is written first

 private:
  void Relay();
  void Emit(absl::string_view line, size_t more);
  // The lines held back since the last said, if any, then `line`
  // (already a log line), in one write.
  void Write(std::string line);

  const std::string lease_id_;
  const int fd_;
  LogLineBudget budget_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_NODE_WORKER_LOG_H_
