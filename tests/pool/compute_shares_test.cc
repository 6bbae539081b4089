// Compute shares on one device: turns by weight, no gating when alone, and
// no banked credit for a session that was idle. Device time is given by the
// test (what `timed` returns), so the shares are exact and need no timing.
#include "pool/node/compute_shares.h"

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/common/status_matchers.h"

namespace accel::pool {
namespace {

// Each call runs one launch charged `device_us`, recording who ran. The
// launch holds the device for a moment, so that the other session's
// launch is waiting by the time it ends, as under saturation.
class Turns {
 public:
  absl::Status Take(ComputeShares::Seat& seat, int who, double device_us = 1000) {
    return seat.Run([] { return absl::InternalError("a shared device must be timed"); },
                    [&]() -> absl::StatusOr<double> {
                      {
                        std::lock_guard<std::mutex> lock(mu_);
                        order_.push_back(who);
                      }
                      std::this_thread::sleep_for(std::chrono::microseconds(200));
                      return device_us;
                    });
  }
  // Two sessions take turns from two threads, `total` turns between them.
  void Contend(ComputeShares::Seat& a, ComputeShares::Seat& b, int total) {
    std::atomic<int> taken{0};
    auto run = [&](ComputeShares::Seat* seat, int who) {
      while (taken.fetch_add(1) < total) ASSERT_OK(Take(*seat, who));
    };
    std::thread first(run, &a, 0), second(run, &b, 1);
    first.join();
    second.join();
  }
  std::vector<int> order() {
    std::lock_guard<std::mutex> lock(mu_);
    return order_;
  }

 private:
  std::mutex mu_;
  std::vector<int> order_;
};

TEST(ComputeSharesTest, ASessionAloneOnTheDeviceIsNotGated) {
  auto shares = std::make_shared<ComputeShares>();
  auto seat = ComputeShares::Join(shares, 1);
  int launched = 0;
  ASSERT_OK(seat->Run(
      [&] {
        ++launched;
        return absl::OkStatus();
      },
      []() -> absl::StatusOr<double> { return absl::InternalError("not timed when alone"); }));
  EXPECT_EQ(launched, 1);
}

TEST(ComputeSharesTest, SaturatingSessionsGetDeviceTimeByWeight) {
  auto shares = std::make_shared<ComputeShares>();
  auto light = ComputeShares::Join(shares, 1);
  auto heavy = ComputeShares::Join(shares, 3);
  Turns turns;
  turns.Contend(*light, *heavy, 800);
  std::vector<int> order = turns.order();
  // The first turns may go either way while both threads start; count the
  // rest.
  const int heavy_turns = static_cast<int>(std::count(order.begin() + 100, order.end(), 1));
  const int light_turns = static_cast<int>(order.size()) - 100 - heavy_turns;
  ASSERT_GT(light_turns, 0);
  EXPECT_NEAR(static_cast<double>(heavy_turns) / light_turns, 3.0, 0.3)
      << heavy_turns << " : " << light_turns;
  std::map<uint64_t, double> times = shares->VirtualTimes();
  ASSERT_EQ(times.size(), 2u);
  // Equal device time per unit of weight, to within the last launches.
  EXPECT_NEAR(times.begin()->second, times.rbegin()->second, 2000);
}

TEST(ComputeSharesTest, AnIdleSessionComesBackLevelNotAheadByWhatItDidNotUse) {
  auto shares = std::make_shared<ComputeShares>();
  auto busy = ComputeShares::Join(shares, 1);
  auto idle = ComputeShares::Join(shares, 1);
  Turns turns;
  // busy runs 100 launches while idle sends none.
  for (int i = 0; i < 100; ++i) ASSERT_OK(turns.Take(*busy, 0));
  // Now both contend with equal weights: idle must not get the next 100
  // turns in a row for the time it did not use.
  turns.Contend(*busy, *idle, 40);
  std::vector<int> order = turns.order();
  const int busy_later = static_cast<int>(std::count(order.begin() + 100, order.end(), 0));
  EXPECT_GE(busy_later, 10) << "the returning session took nearly every turn";
}

TEST(ComputeSharesTest, AFailedLaunchIsReportedAndTheDeviceFreed) {
  auto shares = std::make_shared<ComputeShares>();
  auto a = ComputeShares::Join(shares, 1);
  auto b = ComputeShares::Join(shares, 1);
  EXPECT_STATUS(
      a->Run([] { return absl::OkStatus(); },
             []() -> absl::StatusOr<double> { return absl::AbortedError("kernel failed"); }),
      kAborted);
  Turns turns;
  ASSERT_OK(turns.Take(*b, 1));  // not stuck behind the failed launch
  ASSERT_OK(turns.Take(*a, 0));
}

}  // namespace
}  // namespace accel::pool
