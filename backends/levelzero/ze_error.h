// ze_result_t -> absl::Status. Every Level Zero result maps to one canonical
// code, and the message always carries the call, the vendor's name for the
// result and its number ("zeMemAllocDevice: ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY
// (0x70000003)"), so a pool operator can look the failure up in Intel's docs.
#ifndef ACCEL_BACKENDS_LEVELZERO_ZE_ERROR_H_
#define ACCEL_BACKENDS_LEVELZERO_ZE_ERROR_H_

#include <level_zero/ze_api.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace accel::levelzero {

// "ZE_RESULT_ERROR_DEVICE_LOST", or "ZE_RESULT_<unknown>" for a value newer
// than this table.
const char* ZeResultName(ze_result_t result);

// "ZE_RESULT_ERROR_DEVICE_LOST (0x70000001)".
std::string ZeResultString(ze_result_t result);

// The canonical code for a result (kOk for ZE_RESULT_SUCCESS).
absl::StatusCode ZeResultCode(ze_result_t result);

// OkStatus for ZE_RESULT_SUCCESS, else "<call>: <name> (<hex>)[: <detail>]"
// with the canonical code.
absl::Status ZeStatus(absl::string_view call, ze_result_t result, absl::string_view detail = "");

}  // namespace accel::levelzero

// Returns from the enclosing function when a Level Zero call fails.
#define ACCEL_ZE_RETURN_IF_ERROR(call_name, expr)                       \
  do {                                                                  \
    ze_result_t accel_ze_result_ = (expr);                              \
    if (accel_ze_result_ != ZE_RESULT_SUCCESS) {                        \
      return ::accel::levelzero::ZeStatus(call_name, accel_ze_result_); \
    }                                                                   \
  } while (false)

#endif  // ACCEL_BACKENDS_LEVELZERO_ZE_ERROR_H_
