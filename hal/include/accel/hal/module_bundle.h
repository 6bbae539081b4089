// A module bundle: one kernel set in several image formats, plus the kernels'
// signatures. A device picks the image it runs best, so one application binary
// runs on whichever card it gets.
//
// File layout (little-endian): "ACCELBDL", u32 version (1), u32 kernel count,
// u32 image count; per kernel: string name, string signature; per image:
// i32 format, string arch, u64 size, bytes. A string is a u32 length and bytes.
#ifndef ACCEL_HAL_MODULE_BUNDLE_H_
#define ACCEL_HAL_MODULE_BUNDLE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "accel/hal/types.h"

namespace accel::hal {

class ModuleBundle {
 public:
  struct Image {
    ImageFormat format;
    std::string arch;  // target: "x86_64", "sm_90", "gfx90a", "" for any
    std::string bytes;
  };

  // INVALID_ARGUMENT for a malformed bundle.
  static absl::StatusOr<ModuleBundle> Parse(absl::string_view bytes);
  static absl::StatusOr<ModuleBundle> ReadFile(const std::string& path);
  std::string Serialize() const;

  void AddImage(ImageFormat format, std::string arch, std::string bytes);
  // INVALID_ARGUMENT for a malformed signature.
  absl::Status AddKernel(const std::string& name, absl::string_view signature);

  const std::vector<Image>& images() const { return images_; }
  // Kernel name -> argument kinds.
  const std::map<std::string, std::vector<ArgKind>>& kernels() const { return kernels_; }

 private:
  std::vector<Image> images_;
  std::map<std::string, std::vector<ArgKind>> kernels_;
};

}  // namespace accel::hal

#endif  // ACCEL_HAL_MODULE_BUNDLE_H_
