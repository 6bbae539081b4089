// The conformance fixture: every test runs once per backend under test, on
// that backend's first device, with the accelpool kernel bundle loaded. A
// backend without a device, or listed as unable to pass a test, skips with
// the reason printed.
#ifndef ACCEL_TESTS_CONFORMANCE_FIXTURE_H_
#define ACCEL_TESTS_CONFORMANCE_FIXTURE_H_

#include <optional>
#include <string>
#include <vector>

#include "accel/hal/hal.h"
#include "gtest/gtest.h"
#include "tests/common/status_matchers.h"

namespace accel::conformance {

namespace hal = ::accel::hal;

// "host" always (its absence is a failure), plus every backend the registry loaded.
std::vector<std::string> BackendsUnderTest();

// Why `backend` cannot pass `test` (a "Suite.Name" without the parameter),
// or nullopt. The lists live in unsupported.cc, one per backend.
std::optional<std::string> UnsupportedReason(const std::string& backend, const std::string& test);

class ConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;

  // A kernel of the bundle, loaded on device_.
  hal::Kernel KernelNamed(const std::string& name);
  // A second device of the same backend, if it has one.
  std::optional<hal::Device> SecondDevice() const;

  hal::Backend backend_;
  hal::Device device_;
  hal::ModuleBundle bundle_;
  hal::Module module_;
};

// Ceiling division for grid sizes.
inline uint32_t Blocks(uint64_t n, uint32_t block) {
  return static_cast<uint32_t>((n + block - 1) / block);
}

}  // namespace accel::conformance

#define ACCEL_CONFORMANCE_SUITE(Suite)                                                 \
  INSTANTIATE_TEST_SUITE_P(                                                            \
      Backends, Suite, ::testing::ValuesIn(::accel::conformance::BackendsUnderTest()), \
      [](const ::testing::TestParamInfo<std::string>& info) { return info.param; })

#endif  // ACCEL_TESTS_CONFORMANCE_FIXTURE_H_
