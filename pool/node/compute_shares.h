// Shares one device's compute among the sessions on it, by weight.
//
// Fractional leases put several sessions on one device. While a device has
// more than one session, its launches run one at a time, and the next one
// goes to the session that has used the least device time per unit of
// weight among those with a launch waiting: weighted fair queuing on
// kernel time measured on the device, as a fair CPU scheduler does with CPU
// time. A
// session that was idle for long comes back level with the others, not
// ahead by the time it did not use. A device with one session is not gated
// at all,
// so whole-device leases keep their pipelining.
#ifndef ACCEL_POOL_NODE_COMPUTE_SHARES_H_
#define ACCEL_POOL_NODE_COMPUTE_SHARES_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace accel::pool {

class ComputeShares {
 public:
  // One session's place on the device; leaving is destroying it.
  class Seat {
   public:
    ~Seat();
    Seat(const Seat&) = delete;
    Seat& operator=(const Seat&) = delete;
    // Runs `launch` alone when the session is alone on the device. Else, in
    // the session's turn, runs `timed`: the launch to its completion,
    // returning the device time it took in microseconds, which the session
    // is charged (measured on the device, so the host's own delays in
    // launching and waiting do not count against it).
    absl::Status Run(const std::function<absl::Status()>& launch,
                     const std::function<absl::StatusOr<double>()>& timed);

   private:
    friend class ComputeShares;
    Seat(std::shared_ptr<ComputeShares> shares, uint64_t id)
        : shares_(std::move(shares)), id_(id) {}
    std::shared_ptr<ComputeShares> shares_;
    const uint64_t id_;
  };

  // `weight` 0 counts as 1.
  static std::unique_ptr<Seat> Join(const std::shared_ptr<ComputeShares>& shares, uint32_t weight);

  // Device time charged to each seat so far, divided by its weight, in
  // microseconds; for tests.
  std::map<uint64_t, double> VirtualTimes();

 private:
  struct Member {
    uint32_t weight = 1;
    double virtual_us = 0;  // device time used / weight
    int waiting = 0;        // launches waiting for their turn
    std::chrono::steady_clock::time_point last_done;
  };
  // Whether `id` has the next turn: nothing runs and, of the members with a
  // launch waiting, it has used the least (ties to the earliest seat).
  bool IsTurn(uint64_t id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<uint64_t, Member> members_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  // The virtual time of the latest turn: where a returning member resumes.
  double now_us_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_NODE_COMPUTE_SHARES_H_
