// What each backend cannot do the way the HAL specifies, with the reason, in
// one place per backend (as IREE's CTS does), instead of `if`s in tests.
// Keys are "Suite.Test" without the backend parameter.
#include <map>
#include <string>

#include "tests/conformance/fixture.h"

namespace accel::conformance {
namespace {

using Exceptions = std::map<std::string, std::string>;

const std::map<std::string, Exceptions>& AllExceptions() {
  static const auto* const kExceptions = new std::map<std::string, Exceptions>{
      // The reference backend implements the whole contract.
      {"host", {}},
      // A GPU kernel cannot return a status code: fail_with traps, which
      // fails as INTERNAL and, on CUDA and ROCm, poisons the whole context.
      {"cuda",
       {{"StreamTest.KernelFailureIsStickyAndReportedAtSynchronize",
         "fail_with traps: the launch fails as INTERNAL (CUDA_ERROR_LAUNCH_FAILED), not with "
         "the kernel's code, and the context is unusable afterwards"},
        {"StreamTest.WorkQueuedAfterAFailureIsSkipped",
         "a trapped kernel makes the CUDA context unusable for every stream and event"}}},
      {"rocm",
       {{"StreamTest.KernelFailureIsStickyAndReportedAtSynchronize",
         "a trap aborts the whole process on ROCm (HSA queue callback), so fail_with is a "
         "no-op there and a launch cannot fail with a status code"},
        {"StreamTest.WorkQueuedAfterAFailureIsSkipped",
         "a kernel cannot fail a launch on ROCm without aborting the process"}}},
      {"levelzero",
       {{"StreamTest.KernelFailureIsStickyAndReportedAtSynchronize",
         "SPIR-V kernels cannot fail a launch with a status code"},
        {"StreamTest.WorkQueuedAfterAFailureIsSkipped",
         "SPIR-V kernels cannot fail a launch with a status code"}}},
  };
  return *kExceptions;
}

}  // namespace

std::optional<std::string> UnsupportedReason(const std::string& backend, const std::string& test) {
  auto b = AllExceptions().find(backend);
  if (b == AllExceptions().end()) return std::nullopt;
  auto t = b->second.find(test);
  if (t == b->second.end()) return std::nullopt;
  return t->second;
}

}  // namespace accel::conformance
