#include "clients/cuda_driver/kernel_params.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace accel::cuda_driver {
namespace {

constexpr uint32_t kFatbinMagic = 0xBA55ED50;
constexpr uint8_t kEiAttrKparamInfo = 0x17;
constexpr uint8_t kEiAttrCbankParamSize = 0x19;
constexpr uint16_t kFatbinPtx = 1, kFatbinElf = 2;
// Fatbin entries with one of these flags hold compressed payloads.
constexpr uint64_t kFatbinCompressed = 0x2000 | 0x8000;

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("kernel image: ", what));
}

template <typename T>
bool Read(absl::string_view bytes, size_t at, T* out) {
  if (at > bytes.size() || bytes.size() - at < sizeof(T)) return false;
  std::memcpy(out, bytes.data() + at, sizeof(T));
  return true;
}

uint32_t AlignUp(uint32_t value, uint32_t alignment) {
  return alignment <= 1 ? value : (value + alignment - 1) / alignment * alignment;
}

// Parses one .nv.info.<kernel> section.
absl::StatusOr<ParamLayout> ParseNvInfo(absl::string_view info) {
  std::map<uint16_t, KernelParam> by_ordinal;
  ParamLayout layout;
  for (size_t at = 0; at + 2 <= info.size();) {
    const uint8_t format = static_cast<uint8_t>(info[at]);
    const uint8_t attribute = static_cast<uint8_t>(info[at + 1]);
    // Every record starts with four bytes: its format, its attribute and a
    // 16-bit field that holds the value itself (a byte or a half word, or
    // nothing) or, for a sized record, the size of the value that follows.
    // nvcc pads a one-byte value to the full field (sm_100's cubins, and any
    // kernel with a barrier, have such records).
    size_t payload_at = at + 2, payload_size = 2;
    switch (format) {
      case 1:  // no value
      case 2:  // one byte, padded
      case 3:  // two bytes
        break;
      case 4: {  // sized
        uint16_t size = 0;
        if (!Read(info, at + 2, &size)) return Malformed("a truncated .nv.info record");
        payload_at = at + 4;
        payload_size = size;
        break;
      }
      default:
        return Malformed(absl::StrCat("an .nv.info record of format ", format));
    }
    if (payload_at > info.size() || info.size() - payload_at < payload_size) {
      return Malformed("an .nv.info record past its section");
    }
    const absl::string_view payload = info.substr(payload_at, payload_size);
    if (attribute == kEiAttrKparamInfo && payload.size() >= 12) {
      uint16_t ordinal = 0, offset = 0;
      uint32_t flags = 0;
      Read(payload, 4, &ordinal);
      Read(payload, 6, &offset);
      Read(payload, 8, &flags);
      by_ordinal[ordinal] = {offset, (flags >> 18) & 0x3fff};
    } else if (attribute == kEiAttrCbankParamSize && payload.size() == 2) {
      uint16_t total = 0;
      Read(payload, 0, &total);
      layout.total_size = total;
    }
    at = payload_at + payload_size;
  }
  for (const auto& [ordinal, param] : by_ordinal) {
    if (ordinal != layout.params.size()) return Malformed("kernel parameters with a gap");
    layout.params.push_back(param);
  }
  for (const KernelParam& p : layout.params) {
    layout.total_size = std::max(layout.total_size, p.offset + p.size);
  }
  return layout;
}

// A PTX parameter's size and alignment from its declaration, e.g.
// ".param .align 8 .b8 name[16]" or ".param .u64 .ptr .global .align 1 name".
absl::StatusOr<KernelParam> ParsePtxParam(absl::string_view declaration, uint32_t* alignment) {
  uint32_t element = 0, align = 0, count = 1;
  std::vector<absl::string_view> words =
      absl::StrSplit(declaration, absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty());
  for (size_t i = 0; i < words.size(); ++i) {
    absl::string_view w = words[i];
    if (w == ".param" || w == ".ptr" || w == ".global" || w == ".const" || w == ".shared" ||
        w == ".local") {
      continue;
    }
    if (w == ".align" && i + 1 < words.size()) {
      if (!absl::SimpleAtoi(words[++i], &align)) return Malformed("a PTX .align without a number");
      continue;
    }
    if (absl::ConsumePrefix(&w, ".")) {
      if (w.size() >= 2 && (w[0] == 'u' || w[0] == 's' || w[0] == 'b' || w[0] == 'f')) {
        uint32_t bits = 0;
        if (absl::SimpleAtoi(w.substr(1), &bits) && bits % 8 == 0 && bits > 0 && bits <= 64) {
          element = bits / 8;
          continue;
        }
      }
      return Malformed(absl::StrCat("a PTX parameter of type .", w));
    }
    // The name, with an optional [count].
    if (size_t open = w.find('['); open != absl::string_view::npos) {
      absl::string_view n = w.substr(open + 1);
      if (!absl::ConsumeSuffix(&n, "]") || !absl::SimpleAtoi(n, &count) || count == 0) {
        return Malformed(absl::StrCat("a PTX parameter array '", w, "'"));
      }
    }
  }
  if (element == 0) return Malformed("a PTX parameter without a type");
  *alignment = align != 0 ? align : element;
  if (count > (1u << 16)) return Malformed("a PTX parameter over 64 KiB");
  return KernelParam{0, element * count};
}

}  // namespace

absl::StatusOr<ParamLayouts> ParamLayoutsFromCubin(absl::string_view elf) {
  if (elf.size() < 64 ||
      elf.substr(0, 4) !=
          "\x7f"
          "ELF" ||
      elf[4] != 2) {
    return Malformed("not a 64-bit ELF");
  }
  uint64_t shoff = 0;
  uint16_t shentsize = 0, shnum = 0, shstrndx = 0;
  Read(elf, 0x28, &shoff);
  Read(elf, 0x3a, &shentsize);
  Read(elf, 0x3c, &shnum);
  Read(elf, 0x3e, &shstrndx);
  if (shentsize < 64 || shstrndx >= shnum || shoff > elf.size() ||
      (elf.size() - shoff) / shentsize < shnum) {
    return Malformed("section headers outside the ELF");
  }
  auto section = [&](uint16_t i, uint32_t* name, absl::string_view* body) -> bool {
    const size_t at = shoff + size_t{i} * shentsize;
    uint64_t offset = 0, size = 0;
    uint32_t type = 0;
    Read(elf, at, name);
    Read(elf, at + 0x04, &type);
    Read(elf, at + 0x18, &offset);
    Read(elf, at + 0x20, &size);
    // A section of no bytes in the file (.nv.global: a __device__
    // variable's zero-filled memory) has nothing to read.
    constexpr uint32_t kNoBits = 8;  // SHT_NOBITS
    if (type == kNoBits) {
      *body = absl::string_view();
      return true;
    }
    if (offset > elf.size() || elf.size() - offset < size) return false;
    *body = elf.substr(offset, size);
    return true;
  };
  uint32_t ignored = 0;
  absl::string_view names;
  if (!section(shstrndx, &ignored, &names))
    return Malformed("a section name table outside the ELF");
  ParamLayouts layouts;
  for (uint16_t i = 0; i < shnum; ++i) {
    uint32_t name_at = 0;
    absl::string_view body;
    if (!section(i, &name_at, &body)) return Malformed("a section outside the ELF");
    if (name_at >= names.size()) continue;
    absl::string_view name = names.substr(name_at);
    name = name.substr(0, name.find('\0'));
    if (!absl::ConsumePrefix(&name, ".nv.info.")) continue;
    absl::StatusOr<ParamLayout> layout = ParseNvInfo(body);
    if (!layout.ok()) return layout.status();
    layouts[std::string(name)] = *std::move(layout);
  }
  return layouts;
}

absl::StatusOr<ParamLayouts> ParamLayoutsFromPtx(absl::string_view ptx) {
  ParamLayouts layouts;
  for (size_t at = ptx.find(".entry"); at != absl::string_view::npos;
       at = ptx.find(".entry", at + 6)) {
    const size_t open = ptx.find('(', at);
    const size_t brace = ptx.find('{', at);
    absl::string_view name =
        absl::StripAsciiWhitespace(ptx.substr(at + 6, std::min(open, brace) - (at + 6)));
    ParamLayout layout;
    if (open != absl::string_view::npos && open < brace) {
      const size_t close = ptx.find(')', open);
      if (close == absl::string_view::npos) return Malformed("a PTX .entry without ')'");
      for (absl::string_view d :
           absl::StrSplit(ptx.substr(open + 1, close - open - 1), ',', absl::SkipWhitespace())) {
        uint32_t alignment = 1;
        absl::StatusOr<KernelParam> param = ParsePtxParam(d, &alignment);
        if (!param.ok()) return param.status();
        param->offset = AlignUp(layout.total_size, alignment);
        layout.total_size = param->offset + param->size;
        layout.params.push_back(*param);
      }
    }
    if (name.empty()) return Malformed("a PTX .entry without a name");
    layouts[std::string(name)] = std::move(layout);
  }
  return layouts;
}

absl::StatusOr<ParamLayouts> ParamLayoutsFromFatbin(absl::string_view fatbin) {
  uint32_t magic = 0;
  uint16_t header_size = 0;
  uint64_t fat_size = 0;
  if (!Read(fatbin, 0, &magic) || magic != kFatbinMagic || !Read(fatbin, 6, &header_size) ||
      !Read(fatbin, 8, &fat_size) || header_size > fatbin.size() ||
      fatbin.size() - header_size < fat_size) {
    return Malformed("not a whole fat binary");
  }
  ParamLayouts layouts;
  const absl::string_view entries = fatbin.substr(header_size, fat_size);
  for (size_t at = 0; at + 16 <= entries.size();) {
    uint16_t kind = 0;
    uint32_t entry_header = 0;
    uint64_t payload = 0, flags = 0;
    Read(entries, at, &kind);
    Read(entries, at + 4, &entry_header);
    Read(entries, at + 8, &payload);
    Read(entries, at + 40, &flags);
    if (entry_header < 16 || entry_header > entries.size() - at ||
        entries.size() - at - entry_header < payload) {
      return Malformed("a fat binary entry past its end");
    }
    const absl::string_view body = entries.substr(at + entry_header, payload);
    if ((flags & kFatbinCompressed) == 0 && (kind == kFatbinElf || kind == kFatbinPtx)) {
      absl::StatusOr<ParamLayouts> found =
          kind == kFatbinElf ? ParamLayoutsFromCubin(body)
                             : ParamLayoutsFromPtx(body.substr(0, body.find('\0')));
      // An entry this reader cannot follow (a newer toolkit's metadata) is
      // passed over like a compressed one: another entry, or the node's
      // driver, tells its kernels' layouts.
      if (found.ok()) layouts.insert(found->begin(), found->end());  // the first entry's stays
    }
    at += entry_header + payload;
  }
  return layouts;
}

absl::StatusOr<absl::string_view> ImageExtent(const void* image, size_t limit) {
  if (image == nullptr) return Malformed("no image");
  const char* bytes = static_cast<const char*>(image);
  const absl::string_view head(bytes, std::min<size_t>(limit, 64));
  uint32_t magic = 0;
  if (Read(head, 0, &magic) && magic == kFatbinMagic) {
    uint16_t header_size = 0;
    uint64_t fat_size = 0;
    Read(head, 6, &header_size);
    Read(head, 8, &fat_size);
    if (fat_size > limit || header_size > limit - fat_size)
      return Malformed("a fat binary too large");
    return absl::string_view(bytes, header_size + fat_size);
  }
  if (head.size() >= 64 && head.substr(0, 4) ==
                               "\x7f"
                               "ELF") {
    uint64_t shoff = 0, phoff = 0;
    uint16_t phentsize = 0, phnum = 0, shentsize = 0, shnum = 0;
    Read(head, 0x20, &phoff);
    Read(head, 0x28, &shoff);
    Read(head, 0x36, &phentsize);
    Read(head, 0x38, &phnum);
    Read(head, 0x3a, &shentsize);
    Read(head, 0x3c, &shnum);
    if (shoff > limit || phoff > limit) return Malformed("an ELF too large");
    uint64_t end =
        std::max(shoff + uint64_t{shentsize} * shnum, phoff + uint64_t{phentsize} * phnum);
    // Sections may lie after the header table: the largest end of any.
    for (uint16_t i = 0; i < shnum && end <= limit; ++i) {
      uint64_t offset = 0, size = 0;
      uint32_t type = 0;
      std::memcpy(&type, bytes + shoff + size_t{i} * shentsize + 4, 4);
      std::memcpy(&offset, bytes + shoff + size_t{i} * shentsize + 0x18, 8);
      std::memcpy(&size, bytes + shoff + size_t{i} * shentsize + 0x20, 8);
      if (type != 8 /* SHT_NOBITS */) end = std::max(end, offset + size);
    }
    if (end > limit) return Malformed("an ELF too large");
    return absl::string_view(bytes, end);
  }
  const void* nul = std::memchr(bytes, '\0', limit);
  if (nul == nullptr) return Malformed("an image that is neither a fat binary, ELF nor PTX");
  return absl::string_view(bytes, static_cast<size_t>(static_cast<const char*>(nul) - bytes));
}

absl::StatusOr<ParamLayouts> ParamLayoutsOf(absl::string_view image) {
  uint32_t magic = 0;
  if (Read(image, 0, &magic) && magic == kFatbinMagic) return ParamLayoutsFromFatbin(image);
  if (absl::StartsWith(image,
                       "\x7f"
                       "ELF"))
    return ParamLayoutsFromCubin(image);
  return ParamLayoutsFromPtx(image);
}

absl::StatusOr<ParamLayout> ParamLayoutFromDriver(absl::Span<const hal::KernelParameter> params) {
  // CUDA 12.1's limit for a kernel's parameters on Volta and later.
  constexpr uint64_t kMostParamBytes = 32764;
  ParamLayout layout;
  for (size_t i = 0; i < params.size(); ++i) {
    const hal::KernelParameter& p = params[i];
    if (p.size == 0 || p.offset < layout.total_size || p.offset > kMostParamBytes ||
        p.size > kMostParamBytes - p.offset) {
      return absl::InvalidArgumentError(absl::StrCat("the node reports parameter ", i,
                                                     " at offset ", p.offset, " of ", p.size,
                                                     " bytes, which no kernel has"));
    }
    layout.params.push_back({static_cast<uint32_t>(p.offset), static_cast<uint32_t>(p.size)});
    layout.total_size = static_cast<uint32_t>(p.offset + p.size);
  }
  return layout;
}

absl::StatusOr<std::string> PackParams(const ParamLayout& layout, void* const* args) {
  std::string buffer(layout.total_size, '\0');
  if (layout.params.empty()) return buffer;
  if (args == nullptr)
    return absl::InvalidArgumentError("a kernel with parameters, and no arguments");
  for (size_t i = 0; i < layout.params.size(); ++i) {
    const KernelParam& p = layout.params[i];
    if (args[i] == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("kernel argument ", i, " is null"));
    }
    if (p.offset > buffer.size() || buffer.size() - p.offset < p.size) {
      return absl::InvalidArgumentError(
          absl::StrCat("kernel parameter ", i, " lies outside the buffer"));
    }
    if (p.size > 0) std::memcpy(buffer.data() + p.offset, args[i], p.size);
  }
  return buffer;
}

}  // namespace accel::cuda_driver
