#include "cuda_errors.h"

#include "absl/strings/str_cat.h"
#include "cuda_driver.h"

namespace accel::cuda {
namespace {

using Code = absl::StatusCode;

struct ResultInfo {
  int value;
  const char* name;
  Code code;
  const char* text;  // used when the driver cannot describe the error
};

// Numbers, not enumerators, so the table compiles against any cuda.h. The
// texts are accelpool's own short descriptions.
constexpr ResultInfo kResults[] = {
    {0, "CUDA_SUCCESS", Code::kOk, "no error"},
    {1, "CUDA_ERROR_INVALID_VALUE", Code::kInvalidArgument, "invalid argument"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY", Code::kResourceExhausted, "out of memory"},
    {3, "CUDA_ERROR_NOT_INITIALIZED", Code::kFailedPrecondition, "driver not initialized"},
    {4, "CUDA_ERROR_DEINITIALIZED", Code::kUnavailable, "driver shutting down"},
    {5, "CUDA_ERROR_PROFILER_DISABLED", Code::kFailedPrecondition, "profiler disabled"},
    {6, "CUDA_ERROR_PROFILER_NOT_INITIALIZED", Code::kFailedPrecondition,
     "profiler not initialized"},
    {7, "CUDA_ERROR_PROFILER_ALREADY_STARTED", Code::kFailedPrecondition,
     "profiler already started"},
    {8, "CUDA_ERROR_PROFILER_ALREADY_STOPPED", Code::kFailedPrecondition,
     "profiler already stopped"},
    {34, "CUDA_ERROR_STUB_LIBRARY", Code::kUnavailable,
     "the CUDA driver library is a stub, not a real driver"},
    {36, "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER", Code::kUnimplemented,
     "the call needs a newer driver"},
    {46, "CUDA_ERROR_DEVICE_UNAVAILABLE", Code::kUnavailable,
     "device busy or unavailable (compute mode)"},
    {100, "CUDA_ERROR_NO_DEVICE", Code::kUnavailable, "no CUDA-capable device"},
    {101, "CUDA_ERROR_INVALID_DEVICE", Code::kInvalidArgument, "invalid device ordinal"},
    {102, "CUDA_ERROR_DEVICE_NOT_LICENSED", Code::kPermissionDenied, "device not licensed"},
    {200, "CUDA_ERROR_INVALID_IMAGE", Code::kInvalidArgument, "invalid kernel image"},
    {201, "CUDA_ERROR_INVALID_CONTEXT", Code::kInvalidArgument, "invalid context"},
    {202, "CUDA_ERROR_CONTEXT_ALREADY_CURRENT", Code::kFailedPrecondition,
     "context already current"},
    {205, "CUDA_ERROR_MAP_FAILED", Code::kInternal, "mapping failed"},
    {206, "CUDA_ERROR_UNMAP_FAILED", Code::kInternal, "unmapping failed"},
    {207, "CUDA_ERROR_ARRAY_IS_MAPPED", Code::kFailedPrecondition, "array is mapped"},
    {208, "CUDA_ERROR_ALREADY_MAPPED", Code::kFailedPrecondition, "already mapped"},
    {209, "CUDA_ERROR_NO_BINARY_FOR_GPU", Code::kInvalidArgument,
     "no kernel image for this device"},
    {210, "CUDA_ERROR_ALREADY_ACQUIRED", Code::kFailedPrecondition, "already acquired"},
    {211, "CUDA_ERROR_NOT_MAPPED", Code::kFailedPrecondition, "not mapped"},
    {212, "CUDA_ERROR_NOT_MAPPED_AS_ARRAY", Code::kFailedPrecondition, "not mapped as array"},
    {213, "CUDA_ERROR_NOT_MAPPED_AS_POINTER", Code::kFailedPrecondition, "not mapped as pointer"},
    {214, "CUDA_ERROR_ECC_UNCORRECTABLE", Code::kUnavailable, "uncorrectable ECC error"},
    {215, "CUDA_ERROR_UNSUPPORTED_LIMIT", Code::kInvalidArgument, "unsupported limit"},
    {216, "CUDA_ERROR_CONTEXT_ALREADY_IN_USE", Code::kFailedPrecondition, "context already in use"},
    {217, "CUDA_ERROR_PEER_ACCESS_UNSUPPORTED", Code::kUnimplemented, "peer access unsupported"},
    {218, "CUDA_ERROR_INVALID_PTX", Code::kInvalidArgument, "PTX JIT compilation failed"},
    {219, "CUDA_ERROR_INVALID_GRAPHICS_CONTEXT", Code::kInvalidArgument,
     "invalid graphics context"},
    {220, "CUDA_ERROR_NVLINK_UNCORRECTABLE", Code::kUnavailable, "uncorrectable NVLink error"},
    {221, "CUDA_ERROR_JIT_COMPILER_NOT_FOUND", Code::kFailedPrecondition,
     "PTX JIT compiler library not found"},
    {222, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", Code::kInvalidArgument,
     "PTX version not supported by this driver"},
    {223, "CUDA_ERROR_JIT_COMPILATION_DISABLED", Code::kFailedPrecondition,
     "PTX JIT compilation disabled"},
    {224, "CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY", Code::kUnimplemented,
     "unsupported execution affinity"},
    {225, "CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC", Code::kInvalidArgument,
     "device-side synchronization not supported"},
    {226, "CUDA_ERROR_CONTAINED", Code::kUnavailable, "contained device error"},
    {300, "CUDA_ERROR_INVALID_SOURCE", Code::kInvalidArgument, "invalid kernel source"},
    {301, "CUDA_ERROR_FILE_NOT_FOUND", Code::kNotFound, "file not found"},
    {302, "CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND", Code::kNotFound,
     "shared object symbol not found"},
    {303, "CUDA_ERROR_SHARED_OBJECT_INIT_FAILED", Code::kInternal,
     "shared object initialization failed"},
    {304, "CUDA_ERROR_OPERATING_SYSTEM", Code::kInternal, "operating system call failed"},
    {400, "CUDA_ERROR_INVALID_HANDLE", Code::kInvalidArgument, "invalid resource handle"},
    {401, "CUDA_ERROR_ILLEGAL_STATE", Code::kFailedPrecondition, "illegal state"},
    {402, "CUDA_ERROR_LOSSY_QUERY", Code::kFailedPrecondition, "lossy query"},
    {500, "CUDA_ERROR_NOT_FOUND", Code::kNotFound, "named symbol not found"},
    {600, "CUDA_ERROR_NOT_READY", Code::kFailedPrecondition, "work not yet complete"},
    {700, "CUDA_ERROR_ILLEGAL_ADDRESS", Code::kInternal,
     "a kernel accessed an illegal memory address"},
    {701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", Code::kResourceExhausted,
     "too many resources requested for launch"},
    {702, "CUDA_ERROR_LAUNCH_TIMEOUT", Code::kDeadlineExceeded, "kernel ran past the time limit"},
    {703, "CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING", Code::kInvalidArgument,
     "incompatible texturing"},
    {704, "CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED", Code::kAlreadyExists,
     "peer access already enabled"},
    {705, "CUDA_ERROR_PEER_ACCESS_NOT_ENABLED", Code::kFailedPrecondition,
     "peer access not enabled"},
    {708, "CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE", Code::kFailedPrecondition,
     "primary context already active"},
    {709, "CUDA_ERROR_CONTEXT_IS_DESTROYED", Code::kUnavailable, "context destroyed"},
    {710, "CUDA_ERROR_ASSERT", Code::kInternal, "device-side assert triggered"},
    {711, "CUDA_ERROR_TOO_MANY_PEERS", Code::kResourceExhausted, "too many peers"},
    {712, "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED", Code::kAlreadyExists,
     "host memory already registered"},
    {713, "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED", Code::kFailedPrecondition,
     "host memory not registered"},
    {714, "CUDA_ERROR_HARDWARE_STACK_ERROR", Code::kInternal, "hardware stack error"},
    {715, "CUDA_ERROR_ILLEGAL_INSTRUCTION", Code::kInternal, "illegal instruction"},
    {716, "CUDA_ERROR_MISALIGNED_ADDRESS", Code::kInternal, "misaligned address"},
    {717, "CUDA_ERROR_INVALID_ADDRESS_SPACE", Code::kInternal, "invalid address space"},
    {718, "CUDA_ERROR_INVALID_PC", Code::kInternal, "invalid program counter"},
    {719, "CUDA_ERROR_LAUNCH_FAILED", Code::kInternal, "unspecified launch failure"},
    {720, "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE", Code::kInvalidArgument,
     "cooperative launch too large"},
    {721, "CUDA_ERROR_TENSOR_MEMORY_LEAK", Code::kInternal, "tensor memory not freed"},
    {800, "CUDA_ERROR_NOT_PERMITTED", Code::kPermissionDenied, "operation not permitted"},
    {801, "CUDA_ERROR_NOT_SUPPORTED", Code::kUnimplemented, "operation not supported"},
    {802, "CUDA_ERROR_SYSTEM_NOT_READY", Code::kUnavailable, "system not ready"},
    {803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", Code::kUnavailable,
     "driver and kernel module versions differ"},
    {804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE", Code::kUnavailable,
     "forward compatibility not supported on this device"},
    {805, "CUDA_ERROR_MPS_CONNECTION_FAILED", Code::kUnavailable, "MPS connection failed"},
    {806, "CUDA_ERROR_MPS_RPC_FAILURE", Code::kUnavailable, "MPS RPC failure"},
    {807, "CUDA_ERROR_MPS_SERVER_NOT_READY", Code::kUnavailable, "MPS server not ready"},
    {808, "CUDA_ERROR_MPS_MAX_CLIENTS_REACHED", Code::kResourceExhausted,
     "MPS client limit reached"},
    {809, "CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED", Code::kResourceExhausted,
     "MPS connection limit reached"},
    {810, "CUDA_ERROR_MPS_CLIENT_TERMINATED", Code::kUnavailable, "MPS client terminated"},
    {811, "CUDA_ERROR_CDP_NOT_SUPPORTED", Code::kUnimplemented,
     "dynamic parallelism not supported"},
    {812, "CUDA_ERROR_CDP_VERSION_MISMATCH", Code::kFailedPrecondition,
     "dynamic parallelism version mismatch"},
    {900, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", Code::kFailedPrecondition,
     "not allowed while capturing"},
    {901, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", Code::kFailedPrecondition,
     "stream capture invalidated"},
    {902, "CUDA_ERROR_STREAM_CAPTURE_MERGE", Code::kFailedPrecondition, "capture merge"},
    {903, "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED", Code::kFailedPrecondition, "capture unmatched"},
    {904, "CUDA_ERROR_STREAM_CAPTURE_UNJOINED", Code::kFailedPrecondition, "capture unjoined"},
    {905, "CUDA_ERROR_STREAM_CAPTURE_ISOLATION", Code::kFailedPrecondition, "capture isolation"},
    {906, "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT", Code::kFailedPrecondition, "implicit capture"},
    {907, "CUDA_ERROR_CAPTURED_EVENT", Code::kFailedPrecondition, "event is being captured"},
    {908, "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD", Code::kFailedPrecondition,
     "capture on another thread"},
    {909, "CUDA_ERROR_TIMEOUT", Code::kDeadlineExceeded, "wait timed out"},
    {910, "CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE", Code::kFailedPrecondition, "graph update failed"},
    {911, "CUDA_ERROR_EXTERNAL_DEVICE", Code::kInternal, "error in an external device"},
    {912, "CUDA_ERROR_INVALID_CLUSTER_SIZE", Code::kInvalidArgument, "invalid cluster size"},
    {913, "CUDA_ERROR_FUNCTION_NOT_LOADED", Code::kFailedPrecondition, "function not loaded"},
    {914, "CUDA_ERROR_INVALID_RESOURCE_TYPE", Code::kInvalidArgument, "invalid resource type"},
    {915, "CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION", Code::kInvalidArgument,
     "invalid resource configuration"},
    {916, "CUDA_ERROR_KEY_ROTATION", Code::kUnavailable, "key rotation in progress"},
    {999, "CUDA_ERROR_UNKNOWN", Code::kUnknown, "unknown error"},
};

const ResultInfo* Find(CUresult result) {
  for (const ResultInfo& info : kResults) {
    if (info.value == static_cast<int>(result)) return &info;
  }
  return nullptr;
}

}  // namespace

absl::StatusCode CanonicalCode(CUresult result) {
  const ResultInfo* info = Find(result);
  // A code newer than this table: not success, cause unknown.
  return info != nullptr ? info->code : Code::kUnknown;
}

std::string DescribeResult(const Driver& driver, CUresult result) {
  const ResultInfo* info = Find(result);
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
