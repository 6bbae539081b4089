// absl::Status assertions for GoogleTest.
#ifndef ACCEL_TESTS_COMMON_STATUS_MATCHERS_H_
#define ACCEL_TESTS_COMMON_STATUS_MATCHERS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace accel::testing {

inline const absl::Status& ToStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

inline ::testing::AssertionResult HasCode(const absl::Status& status, absl::StatusCode code) {
  if (status.code() == code) return ::testing::AssertionSuccess() << status;
  return ::testing::AssertionFailure()
         << "expected " << absl::StatusCodeToString(code) << ", got " << status;
}

}  // namespace accel::testing

#define ACCEL_TEST_CONCAT_(a, b) a##b
#define ACCEL_TEST_CONCAT(a, b) ACCEL_TEST_CONCAT_(a, b)

#define ASSERT_OK(expr)                                                  \
  do {                                                                   \
    const absl::Status accel_status_ = ::accel::testing::ToStatus(expr); \
    ASSERT_TRUE(accel_status_.ok()) << accel_status_;                    \
  } while (0)
#define EXPECT_OK(expr)                                                  \
  do {                                                                   \
    const absl::Status accel_status_ = ::accel::testing::ToStatus(expr); \
    EXPECT_TRUE(accel_status_.ok()) << accel_status_;                    \
  } while (0)

#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(ACCEL_TEST_CONCAT(accel_statusor_, __LINE__), lhs, rexpr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(var, lhs, rexpr) \
  auto var = (rexpr);                               \
  ASSERT_TRUE(var.ok()) << var.status();            \
  lhs = std::move(var).value()

// EXPECT_STATUS(expr, kInvalidArgument)
#define EXPECT_STATUS(expr, code) \
  EXPECT_TRUE(::accel::testing::HasCode(::accel::testing::ToStatus(expr), absl::StatusCode::code))

#endif  // ACCEL_TESTS_COMMON_STATUS_MATCHERS_H_
