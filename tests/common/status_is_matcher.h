// StatusIs(code[, message matcher]): a GoogleMock matcher for absl::Status
// and absl::StatusOr<T>, so a test states the code and the words it expects.
#ifndef ACCEL_TESTS_COMMON_STATUS_IS_MATCHER_H_
#define ACCEL_TESTS_COMMON_STATUS_IS_MATCHER_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "tests/common/status_matchers.h"

namespace accel::testing {

MATCHER_P2(StatusIs, code, message_matcher,
           absl::StrCat("has code ", absl::StatusCodeToString(code))) {
  const absl::Status& status = ToStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

MATCHER_P(StatusIs, code, absl::StrCat("has code ", absl::StatusCodeToString(code))) {
  const absl::Status& status = ToStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code;
}

}  // namespace accel::testing

#endif  // ACCEL_TESTS_COMMON_STATUS_IS_MATCHER_H_
