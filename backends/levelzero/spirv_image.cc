#include "spirv_image.h"

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace accel::levelzero {
namespace {
constexpr uint32_t kSpirvMagic = 0x07230203;
constexpr size_t kSpirvHeaderWords = 5;
}  // namespace

absl::Status CheckSpirv(absl::string_view image) {
  if (image.size() < kSpirvHeaderWords * 4 || image.size() % 4 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a SPIR-V module: ", image.size(), " bytes is not a whole module"));
  }
  std::vector<uint32_t> words(image.size() / 4);
  std::memcpy(words.data(), image.data(), image.size());
  if (words[0] != kSpirvMagic) {
    return absl::InvalidArgumentError("not a SPIR-V module: bad magic number");
  }
  for (size_t i = kSpirvHeaderWords; i < words.size();) {
    uint32_t count = words[i] >> 16;
    if (count == 0 || count > words.size() - i) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed SPIR-V module: instruction at word ", i, " is truncated"));
    }
    i += count;
  }
  return absl::OkStatus();
}

}  // namespace accel::levelzero
