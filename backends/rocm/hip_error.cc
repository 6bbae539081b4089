#include "hip_error.h"

#include "absl/strings/str_cat.h"

namespace accel::rocm {

absl::StatusCode CodeOf(hipError_t error) {
  using C = absl::StatusCode;
  switch (error) {
    case hipSuccess:
      return C::kOk;

    // The request itself is wrong: a value, a handle, a launch shape.
    case hipErrorInvalidValue:
    case hipErrorInvalidHandle:
    case hipErrorInvalidDevicePointer:
    case hipErrorInvalidConfiguration:
    case hipErrorInvalidPitchValue:
    case hipErrorInvalidSymbol:
    case hipErrorInvalidMemcpyDirection:
    case hipErrorInvalidDeviceFunction:
    case hipErrorInvalidDevice:
    case hipErrorInvalidContext:
    case hipErrorMissingConfiguration:
    // An image the runtime cannot load on this device.
    case hipErrorInvalidImage:
    case hipErrorNoBinaryForGpu:
    case hipErrorInvalidKernelFile:
    case hipErrorInvalidSource:
      return C::kInvalidArgument;

    case hipErrorNotFound:
    case hipErrorFileNotFound:
    case hipErrorSharedObjectSymbolNotFound:
      return C::kNotFound;

    case hipErrorOutOfMemory:
    case hipErrorLaunchOutOfResources:
    case hipErrorCooperativeLaunchTooLarge:
    case hipErrorRuntimeMemory:
      return C::kResourceExhausted;

    // Asked too early, or of an object in the wrong state.
    case hipErrorNotReady:
    case hipErrorDeinitialized:
    case hipErrorIllegalState:
    case hipErrorContextIsDestroyed:
    case hipErrorNotMapped:
    case hipErrorNotMappedAsArray:
    case hipErrorNotMappedAsPointer:
    case hipErrorAlreadyMapped:
    case hipErrorAlreadyAcquired:
    case hipErrorArrayIsMapped:
    case hipErrorContextAlreadyCurrent:
    case hipErrorContextAlreadyInUse:
    case hipErrorSetOnActiveProcess:
    case hipErrorPeerAccessAlreadyEnabled:
    case hipErrorPeerAccessNotEnabled:
    case hipErrorHostMemoryAlreadyRegistered:
    case hipErrorHostMemoryNotRegistered:
    case hipErrorProfilerDisabled:
    case hipErrorProfilerNotInitialized:
    case hipErrorProfilerAlreadyStarted:
    case hipErrorProfilerAlreadyStopped:
    case hipErrorStreamCaptureUnsupported:
    case hipErrorStreamCaptureInvalidated:
    case hipErrorStreamCaptureMerge:
    case hipErrorStreamCaptureUnmatched:
    case hipErrorStreamCaptureUnjoined:
    case hipErrorStreamCaptureIsolation:
    case hipErrorStreamCaptureImplicit:
    case hipErrorCapturedEvent:
    case hipErrorStreamCaptureWrongThread:
    case hipErrorGraphExecUpdateFailure:
      return C::kFailedPrecondition;

    case hipErrorNotSupported:
    case hipErrorUnsupportedLimit:
    case hipErrorPeerAccessUnsupported:
    case hipErrorInvalidGraphicsContext:
      return C::kUnimplemented;

    // The device or driver is gone or unusable: retrying elsewhere may work.
    case hipErrorNoDevice:
    case hipErrorInsufficientDriver:
    case hipErrorNotInitialized:  // == hipErrorInitializationError: the runtime failed
    case hipErrorLaunchTimeOut:
      return C::kUnavailable;

    // A kernel faulted (trap, bad address, assert): the work is lost.
    case hipErrorLaunchFailure:
    case hipErrorIllegalAddress:
    case hipErrorAssert:
    case hipErrorPriorLaunchFailure:
      return C::kInternal;

    case hipErrorECCNotCorrectable:
      return C::kDataLoss;

    case hipErrorMapFailed:
    case hipErrorUnmapFailed:
    case hipErrorSharedObjectInitFailed:
    case hipErrorOperatingSystem:
    case hipErrorRuntimeOther:
    case hipErrorUnknown:
    default:
      return C::kUnknown;
  }
}

std::string Describe(const HipApi& api, hipError_t error) {
  const char* name = api.hipGetErrorName != nullptr ? api.hipGetErrorName(error) : nullptr;
  const char* text = api.hipGetErrorString != nullptr ? api.hipGetErrorString(error) : nullptr;
  std::string out =
      absl::StrCat(name != nullptr ? name : "hipError", " (", static_cast<int>(error), ")");
  // ROCm 5 returns the name again as the "string" for many errors: say it once.
  if (text != nullptr && *text != '\0' && (name == nullptr || absl::string_view(text) != name)) {
    absl::StrAppend(&out, ": ", text);
  }
  return out;
}

absl::Status HipStatus(const HipApi& api, hipError_t error, absl::string_view call) {
  if (error == hipSuccess) return absl::OkStatus();
  return absl::Status(CodeOf(error), absl::StrCat(call, ": ", Describe(api, error)));
}

}  // namespace accel::rocm
