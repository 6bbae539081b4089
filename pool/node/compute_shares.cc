#include "pool/node/compute_shares.h"

#include <algorithm>
#include <chrono>

#include "absl/time/time.h"

namespace accel::pool {

std::unique_ptr<ComputeShares::Seat> ComputeShares::Join(
    const std::shared_ptr<ComputeShares>& shares, uint32_t weight) {
  absl::MutexLock lock(&shares->mu_);
  const uint64_t id = shares->next_id_++;
  Member& member = shares->members_[id];
  member.weight = std::max<uint32_t>(weight, 1);
  member.virtual_us = shares->now_us_;
  return std::unique_ptr<Seat>(new Seat(shares, id));
}

ComputeShares::Seat::~Seat() {
  absl::MutexLock lock(&shares_->mu_);
  shares_->members_.erase(id_);
}

namespace {
// A member that finished a launch this recently is about to send its next
// one: its turn is kept that long, or a session whose launches follow each
// other would lose every turn in the gap between two of them.
constexpr auto kGrace = std::chrono::milliseconds(2);
// A member idle longer than this comes back level with the others rather
// than with the credit of the time it did not use; shorter gaps (a client's
// round trip on a busy host) keep their credit, so that a turn lost in one
// is made up in the next few.
constexpr auto kIdleReset = std::chrono::milliseconds(100);
}  // namespace

bool ComputeShares::IsTurn(uint64_t id) const {
  if (running_) return false;
  const Member& me = members_.at(id);
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [other_id, other] : members_) {
    if (other_id == id || (other.waiting == 0 && now - other.last_done > kGrace)) continue;
    if (other.virtual_us < me.virtual_us || (other.virtual_us == me.virtual_us && other_id < id)) {
      return false;
    }
  }
  return true;
}

absl::Status ComputeShares::Seat::Run(const std::function<absl::Status()>& launch,
                                      const std::function<absl::StatusOr<double>()>& timed) {
  ComputeShares& s = *shares_;
  bool alone = false;
  {
    absl::MutexLock lock(&s.mu_);
    // Alone on the device: no turns to take, and no waiting per launch.
    alone = s.members_.size() < 2;
    if (!alone) {
      Member& me = s.members_.at(id_);
      if (me.waiting++ == 0 && std::chrono::steady_clock::now() - me.last_done > kIdleReset) {
        me.virtual_us = std::max(me.virtual_us, s.now_us_);
      }
      struct Turn {
        ComputeShares* shares;
        uint64_t id;
      } turn{&s, id_};
      // The condition also changes with time (a grace running out), so it
      // is looked at again at least every grace period.
      while (!s.IsTurn(id_)) {
        s.mu_.AwaitWithTimeout(
            absl::Condition(
                +[](Turn* t) ABSL_NO_THREAD_SAFETY_ANALYSIS { return t->shares->IsTurn(t->id); },
                &turn),
            absl::FromChrono(kGrace));
      }
      --me.waiting;
      s.running_ = true;
      s.now_us_ = std::max(s.now_us_, me.virtual_us);
    }
  }
  if (alone) return launch();
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<double> used_us = timed();
  // A launch that failed is charged the time it held the device.
  const double charged =
      used_us.ok()
          ? *used_us
          : std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                .count();
  absl::MutexLock lock(&s.mu_);
  Member& me = s.members_.at(id_);
  me.virtual_us += charged / me.weight;
  me.last_done = std::chrono::steady_clock::now();
  s.running_ = false;
  return used_us.status();
}

std::map<uint64_t, double> ComputeShares::VirtualTimes() {
  absl::MutexLock lock(&mu_);
  std::map<uint64_t, double> out;
  for (const auto& [id, member] : members_) out[id] = member.virtual_us;
  return out;
}

}  // namespace accel::pool
