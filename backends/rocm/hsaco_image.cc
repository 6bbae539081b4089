#include "hsaco_image.h"

#include <elf.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace accel::rocm {
namespace {

constexpr uint16_t kElfMachineAmdgpu = 224;  // EM_AMDGPU
constexpr absl::string_view kOffloadBundleMagic = "__CLANG_OFFLOAD_BUNDLE__";

// [offset, offset + size) lies inside `image`, without overflow.
bool Inside(absl::string_view image, uint64_t offset, uint64_t size) {
  return offset <= image.size() && size <= image.size() - offset;
}

uint64_t ReadU64(absl::string_view image, uint64_t offset) {
  uint64_t value = 0;
  std::memcpy(&value, image.data() + offset, sizeof(value));
  return value;
}

// One AMDGPU ELF code object; `what` names it in messages ("hsaco image",
// or a bundle entry).
absl::Status CheckElf(absl::string_view image, absl::string_view what) {
  if (image.size() < sizeof(Elf64_Ehdr) || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " is not an ELF file or clang offload bundle (", image.size(), " bytes)"));
  }
  Elf64_Ehdr header;
  std::memcpy(&header, image.data(), sizeof(header));
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not a 64-bit little-endian ELF file"));
  }
  if (header.e_machine != kElfMachineAmdgpu) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is for ELF machine ", header.e_machine,
                                                   ", not AMDGPU (", kElfMachineAmdgpu, ")"));
  }
  // Tables with entries of another size would be misread, by us and by HIP.
  if (header.e_phnum != 0 && header.e_phentsize != sizeof(Elf64_Phdr)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " has program headers of ", header.e_phentsize, " bytes, not ", sizeof(Elf64_Phdr)));
  }
  if (header.e_shnum != 0 && header.e_shentsize != sizeof(Elf64_Shdr)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " has section headers of ", header.e_shentsize, " bytes, not ", sizeof(Elf64_Shdr)));
  }
  // Extended numbering (more than 0xff00 sections, the real count in
  // section 0) never occurs in a code object; a reader that missed it would
  // see no sections at all.
  if ((header.e_shnum == 0 && header.e_shoff != 0) || header.e_shstrndx == SHN_XINDEX) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " uses extended ELF section numbering, which code objects do not"));
  }
  if (header.e_shnum != 0 && header.e_shstrndx >= header.e_shnum) {
    return absl::InvalidArgumentError(absl::StrCat(what, " names section ", header.e_shstrndx,
                                                   " as its string table but has ", header.e_shnum,
                                                   " sections"));
  }
  if (!Inside(image, header.e_phoff, uint64_t{header.e_phnum} * sizeof(Elf64_Phdr)) ||
      !Inside(image, header.e_shoff, uint64_t{header.e_shnum} * sizeof(Elf64_Shdr))) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is truncated (its header tables end past ", image.size(), " bytes)"));
  }
  for (uint16_t i = 0; i < header.e_shnum; ++i) {
    Elf64_Shdr section;
    std::memcpy(&section, image.data() + header.e_shoff + uint64_t{i} * sizeof(Elf64_Shdr),
                sizeof(section));
    if (section.sh_type != SHT_NOBITS && !Inside(image, section.sh_offset, section.sh_size)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " is truncated (section ", i, " ends past ", image.size(), " bytes)"));
    }
  }
  for (uint16_t i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment;
    std::memcpy(&segment, image.data() + header.e_phoff + uint64_t{i} * sizeof(Elf64_Phdr),
                sizeof(segment));
    if (segment.p_type == PT_LOAD && !Inside(image, segment.p_offset, segment.p_filesz)) {
      return absl::InvalidArgumentError(absl::StrCat(what, " is truncated (loadable segment ", i,
                                                     " ends past ", image.size(), " bytes)"));
    }
  }
  return absl::OkStatus();
}

// A clang offload bundle (clang-offload-bundler's binary format):
//   "__CLANG_OFFLOAD_BUNDLE__", u64 entry count, then per entry
//   u64 offset, u64 size, u64 triple size, the triple's bytes.
// HIP picks the entry for the device's ISA by its triple
// ("hipv4-amdgcn-amd-amdhsa--gfx90a"); the host entry is usually empty.
absl::Status CheckBundle(absl::string_view image) {
  constexpr absl::string_view kWhat = "clang offload bundle";
  uint64_t cursor = kOffloadBundleMagic.size();
  if (!Inside(image, cursor, sizeof(uint64_t))) {
    return absl::InvalidArgumentError(
        absl::StrCat(kWhat, " is truncated (no entry count in ", image.size(), " bytes)"));
  }
  const uint64_t count = ReadU64(image, cursor);
  cursor += sizeof(uint64_t);
  if (count == 0) return absl::InvalidArgumentError(absl::StrCat(kWhat, " has no entries"));
  bool any_code_object = false;
  // Each entry needs at least 24 header bytes, so a huge count fails on the
  // bounds check below long before the loop runs long.
  for (uint64_t i = 0; i < count; ++i) {
    if (!Inside(image, cursor, 3 * sizeof(uint64_t))) {
      return absl::InvalidArgumentError(absl::StrCat(kWhat, " is truncated (entry ", i, " of ",
                                                     count, " ends past ", image.size(),
                                                     " bytes)"));
    }
    const uint64_t offset = ReadU64(image, cursor);
    const uint64_t size = ReadU64(image, cursor + 8);
    const uint64_t triple_size = ReadU64(image, cursor + 16);
    cursor += 3 * sizeof(uint64_t);
    if (!Inside(image, cursor, triple_size)) {
      return absl::InvalidArgumentError(absl::StrCat(kWhat, " is truncated (the triple of entry ",
                                                     i, " ends past ", image.size(), " bytes)"));
    }
    const absl::string_view triple = image.substr(cursor, triple_size);
    cursor += triple_size;
    if (!Inside(image, offset, size)) {
      return absl::InvalidArgumentError(absl::StrCat(kWhat, " is truncated (entry ", i, " '",
                                                     triple, "' ends past ", image.size(),
                                                     " bytes)"));
    }
    if (size == 0 || !absl::StrContains(triple, "amdgcn")) continue;  // the host part
    absl::Status status =
        CheckElf(image.substr(offset, size), absl::StrCat(kWhat, " entry ", i, " '", triple, "'"));
    if (!status.ok()) return status;
    any_code_object = true;
  }
  if (!any_code_object) {
    return absl::InvalidArgumentError(absl::StrCat(kWhat, " holds no AMDGPU code object"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckHsacoImage(absl::string_view image) {
  if (absl::StartsWith(image, kOffloadBundleMagic)) return CheckBundle(image);
  return CheckElf(image, "hsaco image");
}

}  // namespace accel::rocm
