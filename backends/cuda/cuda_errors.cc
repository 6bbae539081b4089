#include "cuda_errors.h"

#include "absl/strings/str_cat.h"
#include "cuda_driver.h"
#include "cuda_results.h"

namespace accel::cuda {
namespace {

using Code = absl::StatusCode;

const CudaResultInfo* Find(CUresult result) { return FindCudaResult(static_cast<int>(result)); }

}  // namespace

absl::StatusCode CanonicalCode(CUresult result) {
  const CudaResultInfo* info = Find(result);
  // A code newer than this table: not success, cause unknown.
  return info != nullptr ? info->code : Code::kUnknown;
}

std::string DescribeResult(const Driver& driver, CUresult result) {
  const CudaResultInfo* info = Find(result);
  const char* name = nullptr;
  const char* text = nullptr;
  if (driver.cuGetErrorName == nullptr || driver.cuGetErrorName(result, &name) != CUDA_SUCCESS ||
      name == nullptr) {
    name = info != nullptr ? info->name : "CUDA_ERROR_UNRECOGNIZED";
  }
  if (driver.cuGetErrorString == nullptr ||
      driver.cuGetErrorString(result, &text) != CUDA_SUCCESS || text == nullptr) {
    text = info != nullptr ? info->text : "no description";
  }
  return absl::StrCat(name, " (", static_cast<int>(result), "): ", text);
}

absl::Status ToStatus(const Driver& driver, CUresult result, absl::string_view call) {
  if (result == CUDA_SUCCESS) return absl::OkStatus();
  return absl::Status(CanonicalCode(result),
                      absl::StrCat(call, ": ", DescribeResult(driver, result)));
}

bool IsContextFatal(CUresult result) {
  switch (static_cast<int>(result)) {
    case 214:  // ECC_UNCORRECTABLE
    case 220:  // NVLINK_UNCORRECTABLE
    case 700:  // ILLEGAL_ADDRESS
    case 702:  // LAUNCH_TIMEOUT
    case 709:  // CONTEXT_IS_DESTROYED
    case 710:  // ASSERT
    case 714:  // HARDWARE_STACK_ERROR
    case 715:  // ILLEGAL_INSTRUCTION
    case 716:  // MISALIGNED_ADDRESS
    case 717:  // INVALID_ADDRESS_SPACE
    case 718:  // INVALID_PC
    case 719:  // LAUNCH_FAILED
      return true;
    default:
      return false;
  }
}

}  // namespace accel::cuda
