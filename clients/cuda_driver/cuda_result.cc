#include "clients/cuda_driver/cuda_result.h"

#include <cstdio>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"

namespace accel::cuda_driver {
namespace {

// True the first time `key` is seen.
bool FirstTime(const std::string& key) {
  static absl::Mutex mu(absl::kConstInit);
  static std::set<std::string>* seen = new std::set<std::string>();
  absl::MutexLock lock(&mu);
  return seen->insert(key).second;
}

}  // namespace

CUresult ToResult(const absl::Status& status, const char* call) {
  if (status.ok()) return CUDA_SUCCESS;
  CUresult result = CUDA_ERROR_UNKNOWN;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAlreadyExists:
      result = CUDA_ERROR_INVALID_VALUE;
      break;
    case absl::StatusCode::kResourceExhausted:
      result = CUDA_ERROR_OUT_OF_MEMORY;
      break;
    case absl::StatusCode::kNotFound:
      result = CUDA_ERROR_INVALID_HANDLE;
      break;
    case absl::StatusCode::kUnimplemented:
      result = CUDA_ERROR_NOT_SUPPORTED;
      break;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      result = CUDA_ERROR_NOT_PERMITTED;
      break;
    case absl::StatusCode::kDeadlineExceeded:
      result = CUDA_ERROR_LAUNCH_TIMEOUT;
      break;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kFailedPrecondition:
      result = CUDA_ERROR_DEVICE_UNAVAILABLE;  // the lease or its node is gone
      break;
    default:
      break;
  }
  if (FirstTime(std::string(call) + ":" + absl::StatusCodeToString(status.code()))) {
    std::fprintf(stderr, "accelpool libcuda: %s: %s\n", call, status.ToString().c_str());
  }
  return result;
}

CUresult NotSupported(const char* name) {
  if (FirstTime(name)) std::fprintf(stderr, "accelpool libcuda: %s is not supported\n", name);
  return CUDA_ERROR_NOT_SUPPORTED;
}

void LogOnce(const std::string& message) {
  if (FirstTime(message)) std::fprintf(stderr, "accelpool libcuda: %s\n", message.c_str());
}

}  // namespace accel::cuda_driver
