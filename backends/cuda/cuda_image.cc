#include "cuda_image.h"

#include <elf.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace accel::cuda {
namespace {
constexpr uint16_t kElfMachineCuda = 190;  // EM_CUDA
constexpr uint32_t kFatbinMagic = 0xBA55ED50;

// The driver parses images without bounds we can give it (cuModuleLoadData
// takes no size), so a truncated image could make it read past the end. The
// headers are checked here first: every table an image declares must lie
// inside it.
}  // namespace

absl::Status CheckCubin(absl::string_view image) {
  if (image.size() < sizeof(Elf64_Ehdr) || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0) {
    return absl::InvalidArgumentError("cubin image is not an ELF file");
  }
  Elf64_Ehdr header;
  std::memcpy(&header, image.data(), sizeof(header));
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_machine != kElfMachineCuda) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cubin image is not 64-bit CUDA machine code (ELF machine ", header.e_machine, ")"));
  }
  auto inside = [&](uint64_t offset, uint64_t size) {
    return offset <= image.size() && size <= image.size() - offset;
  };
  if (!inside(header.e_phoff, uint64_t{header.e_phnum} * header.e_phentsize) ||
      !inside(header.e_shoff, uint64_t{header.e_shnum} * header.e_shentsize)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cubin image is truncated (its header tables end past ", image.size(), " bytes)"));
  }
  if (header.e_shentsize == sizeof(Elf64_Shdr)) {
    for (uint16_t i = 0; i < header.e_shnum; ++i) {
      Elf64_Shdr section;
      std::memcpy(&section, image.data() + header.e_shoff + i * sizeof(Elf64_Shdr),
                  sizeof(section));
      if (section.sh_type != SHT_NOBITS && !inside(section.sh_offset, section.sh_size)) {
        return absl::InvalidArgumentError(absl::StrCat("cubin image is truncated (section ", i,
                                                       " ends past ", image.size(), " bytes)"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckFatbin(absl::string_view image) {
  // struct { u32 magic; u16 version; u16 header_size; u64 fat_size; }
  constexpr size_t kHeader = 16;
  uint32_t magic = 0;
  if (image.size() >= 4) std::memcpy(&magic, image.data(), 4);
  if (image.size() < kHeader || magic != kFatbinMagic) {
    return absl::InvalidArgumentError("fatbin image does not start with a fat binary header");
  }
  uint16_t header_size = 0;
  uint64_t fat_size = 0;
  std::memcpy(&header_size, image.data() + 6, 2);
  std::memcpy(&fat_size, image.data() + 8, 8);
  if (header_size < kHeader || header_size > image.size() ||
      fat_size > image.size() - header_size) {
    return absl::InvalidArgumentError(absl::StrCat("fatbin image is truncated (declares ",
                                                   header_size, " + ", fat_size, " bytes, has ",
                                                   image.size(), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckPtx(absl::string_view image) {
  // PTX is text handed to the driver as a C string: an embedded NUL would
  // silently cut it.
  if (image.find('\0') != absl::string_view::npos &&
      image.find_first_not_of('\0', image.find('\0')) != absl::string_view::npos) {
    return absl::InvalidArgumentError("ptx image is not text (it contains NUL bytes)");
  }
  return absl::OkStatus();
}

}  // namespace accel::cuda
