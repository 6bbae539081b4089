#include "tests/conformance/fixture.h"

#include <algorithm>

namespace accel::conformance {

std::vector<std::string> BackendsUnderTest() {
  std::vector<std::string> names = {"host"};
  for (const hal::Backend& b : hal::Registry::Default().backends()) {
    if (std::find(names.begin(), names.end(), b.name()) == names.end()) names.push_back(b.name());
  }
  return names;
}

void ConformanceTest::SetUp() {
  const std::string& name = GetParam();
  absl::StatusOr<hal::Backend> backend = hal::Registry::Default().GetBackend(name);
  ASSERT_TRUE(backend.ok()) << "backend '" << name << "' did not load: " << backend.status();
  backend_ = *backend;
  if (!backend_.available()) {
    ASSERT_NE(name, "host") << "the host backend must always have devices";
    GTEST_SKIP() << name << " has no device: " << backend_.unavailable_reason();
  }
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string test = info->test_suite_name();
  test = test.substr(test.find('/') + 1) + "." + info->name();
  test = test.substr(0, test.rfind('/'));
  if (std::optional<std::string> reason = UnsupportedReason(name, test)) {
    GTEST_SKIP() << name << " cannot pass " << test << ": " << *reason;
  }
  device_ = backend_.devices().front();
  ASSERT_OK_AND_ASSIGN(bundle_, hal::ModuleBundle::ReadFile(ACCEL_TEST_KERNEL_BUNDLE));
  if (!device_.CanRun(bundle_)) {
    GTEST_SKIP() << "the kernel bundle has no image for " << device_.id() << " ("
                 << device_.properties().arch << ")";
  }
  ASSERT_OK_AND_ASSIGN(module_, device_.LoadModule(bundle_));
}

hal::Kernel ConformanceTest::KernelNamed(const std::string& name) {
  absl::StatusOr<hal::Kernel> kernel = module_.GetKernel(name);
  EXPECT_TRUE(kernel.ok()) << kernel.status();
  return kernel.ok() ? *kernel : hal::Kernel();
}

std::optional<hal::Device> ConformanceTest::SecondDevice() const {
  if (backend_.devices().size() < 2) return std::nullopt;
  return backend_.devices()[1];
}

}  // namespace accel::conformance
