// A small real workload for pool tests: saxpy through the kernel bundle on a
// (remote) device, checked element by element.
#ifndef ACCEL_TESTS_POOL_SAXPY_CHECK_H_
#define ACCEL_TESTS_POOL_SAXPY_CHECK_H_

#include <cstdint>

#include "absl/status/status.h"
#include "accel/hal/hal.h"

namespace accel::testing {

// Runs y = 2x + y on `n` elements; returns the first failure.
absl::Status RunSaxpy(const hal::Device& device, uint32_t n);

}  // namespace accel::testing

#endif  // ACCEL_TESTS_POOL_SAXPY_CHECK_H_
