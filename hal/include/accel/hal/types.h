// Value types shared by the whole HAL API: shapes, formats, argument kinds and
// device properties.
#ifndef ACCEL_HAL_TYPES_H_
#define ACCEL_HAL_TYPES_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "accel/hal/plugin_abi.h"

namespace accel::hal {

struct Dim3 {
  uint32_t x = 1;
  uint32_t y = 1;
  uint32_t z = 1;
  uint64_t Volume() const { return uint64_t{x} * y * z; }
};

struct LaunchConfig {
  Dim3 grid;
  Dim3 block;
  uint64_t shared_memory_bytes = 0;
};

enum class ImageFormat : int32_t {
  kHostElf = ACCEL_IMAGE_HOST_ELF,
  kPtx = ACCEL_IMAGE_PTX,
  kCubin = ACCEL_IMAGE_CUBIN,
  kFatbin = ACCEL_IMAGE_FATBIN,
  kHsaco = ACCEL_IMAGE_HSACO,
  kSpirv = ACCEL_IMAGE_SPIRV,
};

// "host-elf", "ptx", "cubin", "fatbin", "hsaco", "spirv".
absl::string_view ImageFormatName(ImageFormat format);
absl::StatusOr<ImageFormat> ParseImageFormat(absl::string_view name);
bool IsKnownImageFormat(int32_t value);

enum class ArgKind : uint32_t {
  kBuffer = ACCEL_ARG_BUFFER,
  kI32 = ACCEL_ARG_I32,
  kU32 = ACCEL_ARG_U32,
  kI64 = ACCEL_ARG_I64,
  kU64 = ACCEL_ARG_U64,
  kF32 = ACCEL_ARG_F32,
  kF64 = ACCEL_ARG_F64,
  kBytes = ACCEL_ARG_BYTES,
};

// "buffer", "i32", "u32", "i64", "u64", "f32", "f64", "bytes".
absl::string_view ArgKindName(ArgKind kind);
// A kernel signature is its argument kinds, comma separated: "buffer,f32,u32".
absl::StatusOr<std::vector<ArgKind>> ParseSignature(absl::string_view signature);
std::string FormatSignature(absl::Span<const ArgKind> kinds);

struct DeviceProperties {
  std::string id;       // "<backend>:<index>", unique in a registry
  std::string backend;  // "host", "cuda", ...
  uint32_t index = 0;   // index within the backend
  std::string name;
  std::string vendor;
  std::string arch;
  std::string uuid;
  std::string pci_bus_id;
  int32_t numa_node = -1;
  uint32_t compute_units = 0;
  uint64_t total_memory = 0;
  uint32_t max_threads_per_block = 0;
  Dim3 max_grid;
  Dim3 max_block;
  uint64_t max_shared_memory_per_block = 0;
  // The device's attributes in its vendor's own numbering, where the
  // backend has one (cuda: CUdevice_attribute number -> value), for
  // libraries that present the vendor's API to unmodified programs.
  std::map<int32_t, int64_t> native_attributes;
};

struct MemoryInfo {
  uint64_t free_bytes = 0;
  uint64_t total_bytes = 0;
};

// Parses "2GiB", "512MiB", "64KiB", "1G", "4096" into bytes.
absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text);
// 1536 -> "1.5 KiB".
std::string FormatByteSize(uint64_t bytes);

}  // namespace accel::hal

#endif  // ACCEL_HAL_TYPES_H_
