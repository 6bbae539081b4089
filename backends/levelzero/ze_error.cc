#include "ze_error.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace accel::levelzero {
namespace {

struct ResultInfo {
  ze_result_t result;
  const char* name;
  absl::StatusCode code;
};

using absl::StatusCode;

// Written from ze_api.h (API 1.4 headers plus the values later loaders may
// return). The codes follow what the caller can do about the failure:
// resources -> RESOURCE_EXHAUSTED; a lost or resetting device -> UNAVAILABLE
// (retry elsewhere); bad input, unbuildable modules -> INVALID_ARGUMENT; an
// absent name -> NOT_FOUND; a missing capability -> UNIMPLEMENTED; a runtime
// that was not initialised -> FAILED_PRECONDITION.
constexpr ResultInfo kResults[] = {
    {ZE_RESULT_SUCCESS, "ZE_RESULT_SUCCESS", StatusCode::kOk},
    // NOT_READY is a poll answer, never a failure for callers that poll; a
    // caller that did not expect it gets UNAVAILABLE (try again later).
    {ZE_RESULT_NOT_READY, "ZE_RESULT_NOT_READY", StatusCode::kUnavailable},
    {ZE_RESULT_ERROR_DEVICE_LOST, "ZE_RESULT_ERROR_DEVICE_LOST", StatusCode::kUnavailable},
    {ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY, "ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY",
     StatusCode::kResourceExhausted},
    {ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY, "ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY",
     StatusCode::kResourceExhausted},
    {ZE_RESULT_ERROR_MODULE_BUILD_FAILURE, "ZE_RESULT_ERROR_MODULE_BUILD_FAILURE",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_MODULE_LINK_FAILURE, "ZE_RESULT_ERROR_MODULE_LINK_FAILURE",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_DEVICE_REQUIRES_RESET, "ZE_RESULT_ERROR_DEVICE_REQUIRES_RESET",
     StatusCode::kUnavailable},
    {ZE_RESULT_ERROR_DEVICE_IN_LOW_POWER_STATE, "ZE_RESULT_ERROR_DEVICE_IN_LOW_POWER_STATE",
     StatusCode::kUnavailable},
    {ZE_RESULT_EXP_ERROR_DEVICE_IS_NOT_VERTEX, "ZE_RESULT_EXP_ERROR_DEVICE_IS_NOT_VERTEX",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_EXP_ERROR_VERTEX_IS_NOT_DEVICE, "ZE_RESULT_EXP_ERROR_VERTEX_IS_NOT_DEVICE",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_EXP_ERROR_REMOTE_DEVICE, "ZE_RESULT_EXP_ERROR_REMOTE_DEVICE",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_INSUFFICIENT_PERMISSIONS, "ZE_RESULT_ERROR_INSUFFICIENT_PERMISSIONS",
     StatusCode::kPermissionDenied},
    {ZE_RESULT_ERROR_NOT_AVAILABLE, "ZE_RESULT_ERROR_NOT_AVAILABLE", StatusCode::kUnavailable},
    {ZE_RESULT_ERROR_DEPENDENCY_UNAVAILABLE, "ZE_RESULT_ERROR_DEPENDENCY_UNAVAILABLE",
     StatusCode::kFailedPrecondition},
    {ZE_RESULT_WARNING_DROPPED_DATA, "ZE_RESULT_WARNING_DROPPED_DATA", StatusCode::kDataLoss},
    {ZE_RESULT_ERROR_UNINITIALIZED, "ZE_RESULT_ERROR_UNINITIALIZED",
     StatusCode::kFailedPrecondition},
    {ZE_RESULT_ERROR_UNSUPPORTED_VERSION, "ZE_RESULT_ERROR_UNSUPPORTED_VERSION",
     StatusCode::kUnimplemented},
    {ZE_RESULT_ERROR_UNSUPPORTED_FEATURE, "ZE_RESULT_ERROR_UNSUPPORTED_FEATURE",
     StatusCode::kUnimplemented},
    {ZE_RESULT_ERROR_INVALID_ARGUMENT, "ZE_RESULT_ERROR_INVALID_ARGUMENT",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_INVALID_NULL_HANDLE, "ZE_RESULT_ERROR_INVALID_NULL_HANDLE",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_HANDLE_OBJECT_IN_USE, "ZE_RESULT_ERROR_HANDLE_OBJECT_IN_USE",
     StatusCode::kFailedPrecondition},
    {ZE_RESULT_ERROR_INVALID_NULL_POINTER, "ZE_RESULT_ERROR_INVALID_NULL_POINTER",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_INVALID_SIZE, "ZE_RESULT_ERROR_INVALID_SIZE", StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_UNSUPPORTED_SIZE, "ZE_RESULT_ERROR_UNSUPPORTED_SIZE",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT, "ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_INVALID_SYNCHRONIZATION_OBJECT,
     "ZE_RESULT_ERROR_INVALID_SYNCHRONIZATION_OBJECT", StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_INVALID_ENUMERATION, "ZE_RESULT_ERROR_INVALID_ENUMERATION",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_UNSUPPORTED_ENUMERATION, "ZE_RESULT_ERROR_UNSUPPORTED_ENUMERATION",
     StatusCode::kUnimplemented},
    {ZE_RESULT_ERROR_UNSUPPORTED_IMAGE_FORMAT, "ZE_RESULT_ERROR_UNSUPPORTED_IMAGE_FORMAT",
     StatusCode::kUnimplemented},
    {ZE_RESULT_ERROR_INVALID_NATIVE_BINARY, "ZE_RESULT_ERROR_INVALID_NATIVE_BINARY",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_INVALID_GLOBAL_NAME, "ZE_RESULT_ERROR_INVALID_GLOBAL_NAME",
     StatusCode::kNotFound},
    {ZE_RESULT_ERROR_INVALID_KERNEL_NAME, "ZE_RESULT_ERROR_INVALID_KERNEL_NAME",
     StatusCode::kNotFound},
    {ZE_RESULT_ERROR_INVALID_FUNCTION_NAME, "ZE_RESULT_ERROR_INVALID_FUNCTION_NAME",
     StatusCode::kNotFound},
    {ZE_RESULT_ERROR_INVALID_GROUP_SIZE_DIMENSION, "ZE_RESULT_ERROR_INVALID_GROUP_SIZE_DIMENSION",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_INVALID_GLOBAL_WIDTH_DIMENSION,
     "ZE_RESULT_ERROR_INVALID_GLOBAL_WIDTH_DIMENSION", StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_INDEX, "ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_INDEX",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_SIZE, "ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_SIZE",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_INVALID_KERNEL_ATTRIBUTE_VALUE,
     "ZE_RESULT_ERROR_INVALID_KERNEL_ATTRIBUTE_VALUE", StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_INVALID_MODULE_UNLINKED, "ZE_RESULT_ERROR_INVALID_MODULE_UNLINKED",
     StatusCode::kFailedPrecondition},
    {ZE_RESULT_ERROR_INVALID_COMMAND_LIST_TYPE, "ZE_RESULT_ERROR_INVALID_COMMAND_LIST_TYPE",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_ERROR_OVERLAPPING_REGIONS, "ZE_RESULT_ERROR_OVERLAPPING_REGIONS",
     StatusCode::kInvalidArgument},
    {ZE_RESULT_WARNING_ACTION_REQUIRED, "ZE_RESULT_WARNING_ACTION_REQUIRED",
     StatusCode::kFailedPrecondition},
    {ZE_RESULT_ERROR_UNKNOWN, "ZE_RESULT_ERROR_UNKNOWN", StatusCode::kUnknown},
};

const ResultInfo* Find(ze_result_t result) {
  for (const ResultInfo& info : kResults) {
    if (info.result == result) return &info;
  }
  return nullptr;
}

}  // namespace

const char* ZeResultName(ze_result_t result) {
  const ResultInfo* info = Find(result);
  return info != nullptr ? info->name : "ZE_RESULT_<unknown>";
}

std::string ZeResultString(ze_result_t result) {
  return absl::StrFormat("%s (0x%08x)", ZeResultName(result), static_cast<uint32_t>(result));
}

absl::StatusCode ZeResultCode(ze_result_t result) {
  const ResultInfo* info = Find(result);
  // A value newer than this table: the driver failed for a reason we cannot
  // classify, which is what UNKNOWN means.
  return info != nullptr ? info->code : StatusCode::kUnknown;
}

absl::Status ZeStatus(absl::string_view call, ze_result_t result, absl::string_view detail) {
  if (result == ZE_RESULT_SUCCESS) return absl::OkStatus();
  std::string message = absl::StrCat(call, ": ", ZeResultString(result));
  if (!detail.empty()) absl::StrAppend(&message, ": ", detail);
  return absl::Status(ZeResultCode(result), message);
}

}  // namespace accel::levelzero
