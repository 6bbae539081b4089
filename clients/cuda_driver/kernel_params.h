// Kernel parameter layouts, from the program's own images. cuLaunchKernel
// gets its arguments as `void**`, one pointer per parameter and no sizes;
// to send them to the node they are packed into the kernel's parameter
// buffer, which needs each parameter's offset and size. Those come from
// the image: a cubin's .nv.info.<kernel> sections (EIATTR_KPARAM_INFO and
// EIATTR_CBANK_PARAM_SIZE records), or a PTX .entry's parameter list, laid
// out with each parameter's alignment as ptxas does. A fatbin is searched
// for both. Every table is bounds-checked: a malformed image is
// CUDA_ERROR_INVALID_IMAGE's INVALID_ARGUMENT, never a read past its end.
#ifndef ACCEL_CLIENTS_CUDA_DRIVER_KERNEL_PARAMS_H_
#define ACCEL_CLIENTS_CUDA_DRIVER_KERNEL_PARAMS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "accel/hal/module.h"

namespace accel::cuda_driver {

struct KernelParam {
  uint32_t offset = 0;
  uint32_t size = 0;
  bool operator==(const KernelParam& o) const { return offset == o.offset && size == o.size; }
};
struct ParamLayout {
  std::vector<KernelParam> params;  // in declaration order
  uint32_t total_size = 0;          // of the packed buffer
  bool operator==(const ParamLayout& o) const {
    return params == o.params && total_size == o.total_size;
  }
};
// By kernel (mangled) name.
using ParamLayouts = std::map<std::string, ParamLayout>;

absl::StatusOr<ParamLayouts> ParamLayoutsFromCubin(absl::string_view elf);
absl::StatusOr<ParamLayouts> ParamLayoutsFromPtx(absl::string_view ptx);
// Every uncompressed cubin and PTX entry of a fat binary; the first entry
// that names a kernel gives its layout. Entries that cannot be read are
// passed over (only a fat binary's own structure must be sound).
absl::StatusOr<ParamLayouts> ParamLayoutsFromFatbin(absl::string_view fatbin);

// The bytes of an image that starts at `image` and does not say its own
// length elsewhere (cuModuleLoadData takes none): a fatbin's header and
// entries, an ELF up to the end of its last table, or PTX up to its NUL.
// At most `limit` bytes are looked at. INVALID_ARGUMENT for anything else.
absl::StatusOr<absl::string_view> ImageExtent(const void* image, size_t limit);
// Layouts from an image of any of the three kinds.
absl::StatusOr<ParamLayouts> ParamLayoutsOf(absl::string_view image);

// The layout the node's driver reports for a kernel whose image hides it
// (a compressed fat binary). Checked like an image's: every parameter has a
// size, none overlaps the one before it, and all fit in CUDA's parameter
// buffer; else INVALID_ARGUMENT.
absl::StatusOr<ParamLayout> ParamLayoutFromDriver(absl::Span<const hal::KernelParameter> params);

// The parameter buffer for one launch: each argument's bytes at its offset.
// INVALID_ARGUMENT when an argument pointer is null.
absl::StatusOr<std::string> PackParams(const ParamLayout& layout, void* const* args);

}  // namespace accel::cuda_driver

#endif  // ACCEL_CLIENTS_CUDA_DRIVER_KERNEL_PARAMS_H_
