#include "elf_image.h"

#include <dlfcn.h>
#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace accel::host {
namespace {

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("host-elf image ", what));
}

template <typename T>
T At(absl::string_view image, uint64_t offset) {
  T value;
  std::memcpy(&value, image.data() + offset, sizeof(T));
  return value;
}

bool Inside(uint64_t offset, uint64_t size, uint64_t total) {
  return offset <= total && size <= total - offset;
}

#if defined(__x86_64__)
constexpr uint16_t kMachine = EM_X86_64;
constexpr const char* kArch = "x86_64";
#elif defined(__aarch64__)
constexpr uint16_t kMachine = EM_AARCH64;
constexpr const char* kArch = "aarch64";
#else
#error "host backend: unsupported host architecture"
#endif

#if defined(__x86_64__)
// x86-64 adds the addend only to absolute relocations; AArch64 to all.
constexpr bool kSlotsTakeAddend = false;
constexpr uint32_t kNone = R_X86_64_NONE, kRelative = R_X86_64_RELATIVE,
                   kGlobDat = R_X86_64_GLOB_DAT, kJumpSlot = R_X86_64_JUMP_SLOT,
                   kAbsolute = R_X86_64_64;
#elif defined(__aarch64__)
constexpr bool kSlotsTakeAddend = true;
constexpr uint32_t kNone = R_AARCH64_NONE, kRelative = R_AARCH64_RELATIVE,
                   kGlobDat = R_AARCH64_GLOB_DAT, kJumpSlot = R_AARCH64_JUMP_SLOT,
                   kAbsolute = R_AARCH64_ABS64;
#endif

// The ELF header and tables, checked before anything is read through them:
// every table and loaded segment must lie inside the image.
absl::Status CheckElf(absl::string_view image) {
  if (image.size() < sizeof(Elf64_Ehdr) || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0) {
    return absl::InvalidArgumentError("host-elf image is not an ELF file");
  }
  Elf64_Ehdr header;
  std::memcpy(&header, image.data(), sizeof(header));
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_type != ET_DYN) {
    return absl::InvalidArgumentError("host-elf image is not a 64-bit shared object");
  }
  if (header.e_machine != kMachine) {
    return absl::InvalidArgumentError(
        absl::StrCat("host-elf image is for ELF machine ", header.e_machine, ", not ", kArch));
  }
  // Every table and loaded segment must lie inside the image: the loader maps
  // a truncated file without complaint and the process dies of SIGBUS later.
  auto inside = [&](uint64_t offset, uint64_t size) {
    return offset <= image.size() && size <= image.size() - offset;
  };
  if (header.e_phentsize != sizeof(Elf64_Phdr) ||
      (header.e_shnum != 0 && header.e_shentsize != sizeof(Elf64_Shdr)) ||
      !inside(header.e_phoff, uint64_t{header.e_phnum} * sizeof(Elf64_Phdr)) ||
      !inside(header.e_shoff, uint64_t{header.e_shnum} * header.e_shentsize)) {
    return absl::InvalidArgumentError("host-elf image is truncated (header tables)");
  }
  for (uint16_t i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment;
    std::memcpy(&segment, image.data() + header.e_phoff + i * sizeof(Elf64_Phdr), sizeof(segment));
    if (segment.p_type == PT_LOAD && !inside(segment.p_offset, segment.p_filesz)) {
      return absl::InvalidArgumentError(absl::StrCat("host-elf image is truncated (segment ", i,
                                                     " ends past ", image.size(), " bytes)"));
    }
  }
  return absl::OkStatus();
}

int Protection(uint32_t flags) {
  return ((flags & PF_R) != 0 ? PROT_READ : 0) | ((flags & PF_W) != 0 ? PROT_WRITE : 0) |
         ((flags & PF_X) != 0 ? PROT_EXEC : 0);
}

}  // namespace

const char* HostArch() { return kArch; }

ElfImage::~ElfImage() {
  if (mapping_ != nullptr) munmap(mapping_, span_);
}

void* ElfImage::Symbol(absl::string_view name) const {
  auto it = exports_.find(name);
  return it == exports_.end() ? nullptr : base_ + it->second;
}

absl::Span<std::byte> ElfImage::Global(absl::string_view name) const {
  auto it = globals_.find(name);
  if (it == globals_.end()) return {};
  return absl::MakeSpan(reinterpret_cast<std::byte*>(base_ + it->second.vaddr), it->second.size);
}

absl::StatusOr<std::unique_ptr<ElfImage>> ElfImage::Map(absl::string_view image) {
  if (absl::Status s = CheckElf(image); !s.ok()) return s;
  const auto header = At<Elf64_Ehdr>(image, 0);
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  std::vector<Elf64_Phdr> segments;
  uint64_t low = UINT64_MAX, high = 0;
  const Elf64_Phdr* dynamic = nullptr;
  for (uint16_t i = 0; i < header.e_phnum; ++i) {
    segments.push_back(At<Elf64_Phdr>(image, header.e_phoff + i * sizeof(Elf64_Phdr)));
  }
  for (const Elf64_Phdr& s : segments) {
    if (s.p_type == PT_TLS) return Bad("uses thread-local storage, which host kernels cannot");
    if (s.p_type == PT_DYNAMIC) dynamic = &s;
    if (s.p_type != PT_LOAD) continue;
    if (s.p_filesz > s.p_memsz || s.p_vaddr > (1ull << 40) || s.p_memsz > (1ull << 40)) {
      return Bad("has a malformed loadable segment");
    }
    low = std::min(low, s.p_vaddr / page * page);
    high = std::max(high, (s.p_vaddr + s.p_memsz + page - 1) / page * page);
  }
  if (low >= high) return Bad("has no loadable segment");
  if (dynamic == nullptr) return Bad("has no dynamic section");

  std::unique_ptr<ElfImage> out(new ElfImage());
  out->span_ = high - low;
  void* mapping =
      mmap(nullptr, out->span_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot map a ", out->span_, "-byte host-elf image: ", std::strerror(errno)));
  }
  out->mapping_ = mapping;
  out->base_ = static_cast<uint8_t*>(mapping) - low;
  uint8_t* const base = out->base_;
  // An address the image names, checked to lie inside its mapping.
  auto mapped = [&](uint64_t vaddr, uint64_t size) -> uint8_t* {
    if (vaddr < low || !Inside(vaddr - low, size, out->span_)) return nullptr;
    return base + vaddr;
  };
  for (const Elf64_Phdr& s : segments) {
    if (s.p_type == PT_LOAD && s.p_filesz != 0) {
      std::memcpy(base + s.p_vaddr, image.data() + s.p_offset, s.p_filesz);  // checked above
    }
  }

  // The dynamic table, from the image's own bytes.
  if (!Inside(dynamic->p_offset, dynamic->p_filesz, image.size())) return Bad("is truncated");
  uint64_t rela = 0, rela_size = 0, plt = 0, plt_size = 0, symtab = 0, strtab = 0, strsz = 0;
  for (uint64_t off = 0; off + sizeof(Elf64_Dyn) <= dynamic->p_filesz; off += sizeof(Elf64_Dyn)) {
    const auto d = At<Elf64_Dyn>(image, dynamic->p_offset + off);
    if (d.d_tag == DT_NULL) break;
    switch (d.d_tag) {
      case DT_RELA:
        rela = d.d_un.d_ptr;
        break;
      case DT_RELASZ:
        rela_size = d.d_un.d_val;
        break;
      case DT_JMPREL:
        plt = d.d_un.d_ptr;
        break;
      case DT_PLTRELSZ:
        plt_size = d.d_un.d_val;
        break;
      case DT_PLTREL:
        if (d.d_un.d_val != DT_RELA) return Bad("uses REL relocations; only RELA is supported");
        break;
      case DT_SYMTAB:
        symtab = d.d_un.d_ptr;
        break;
      case DT_STRTAB:
        strtab = d.d_un.d_ptr;
        break;
      case DT_STRSZ:
        strsz = d.d_un.d_val;
        break;
      case DT_REL:
      case DT_RELR:
        return Bad("uses REL or RELR relocations; only RELA is supported");
      case DT_TEXTREL:
        return Bad("has text relocations");
      default:
        break;
    }
  }
  const char* strings = reinterpret_cast<const char*>(mapped(strtab, strsz));
  if (strings == nullptr || strsz == 0 || strings[strsz - 1] != '\0') {
    return Bad("has no valid dynamic string table");
  }
  // The symbol count comes from the section headers (the dynamic table
  // does not say it).
  uint64_t symbols = 0;
  for (uint16_t i = 0; i < header.e_shnum; ++i) {
    const auto section = At<Elf64_Shdr>(image, header.e_shoff + i * header.e_shentsize);
    if (section.sh_type == SHT_DYNSYM && section.sh_entsize == sizeof(Elf64_Sym)) {
      symbols = section.sh_size / sizeof(Elf64_Sym);
    }
  }
  // Tables are read by copying their entries out: an image may put them at
  // any address, aligned or not.
  const uint8_t* syms = mapped(symtab, symbols * sizeof(Elf64_Sym));
  if (syms == nullptr || symbols == 0) return Bad("has no valid dynamic symbol table");
  auto symbol = [&](uint64_t i) {
    Elf64_Sym sym;
    std::memcpy(&sym, syms + i * sizeof(Elf64_Sym), sizeof(sym));
    return sym;
  };
  auto name_of = [&](const Elf64_Sym& sym) -> const char* {
    return sym.st_name < strsz ? strings + sym.st_name : nullptr;
  };
  for (uint64_t i = 1; i < symbols; ++i) {
    const Elf64_Sym sym = symbol(i);
    const unsigned bind = ELF64_ST_BIND(sym.st_info), type = ELF64_ST_TYPE(sym.st_info);
    if (sym.st_shndx == SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK)) continue;
    if (type != STT_FUNC && type != STT_OBJECT) continue;
    const char* name = name_of(sym);
    if (name == nullptr || mapped(sym.st_value, 1) == nullptr) return Bad("has a bad symbol");
    out->exports_.emplace(name, sym.st_value);
    if (type == STT_OBJECT && sym.st_size > 0 && mapped(sym.st_value, sym.st_size) != nullptr) {
      out->globals_.emplace(name,
                            GlobalRange{sym.st_value, sym.st_size});  // kept if writable, below
    }
  }

  // Relocations: the image's own addresses, and the process's libraries'
  // symbols (found by dlsym, which opens nothing).
  auto relocate = [&](uint64_t table, uint64_t size) -> absl::Status {
    if (size == 0) return absl::OkStatus();
    const uint8_t* entries = mapped(table, size);
    if (entries == nullptr || size % sizeof(Elf64_Rela) != 0) {
      return Bad("has a bad relocation table");
    }
    for (uint64_t i = 0; i < size / sizeof(Elf64_Rela); ++i) {
      Elf64_Rela r;
      std::memcpy(&r, entries + i * sizeof(Elf64_Rela), sizeof(r));
      const uint32_t type = ELF64_R_TYPE(r.r_info);
      const uint64_t index = ELF64_R_SYM(r.r_info);
      if (type == kNone) continue;
      uint8_t* target = mapped(r.r_offset, sizeof(uint64_t));
      if (target == nullptr) return Bad("relocates outside its segments");
      uint64_t value = 0;
      if (type == kRelative) {
        value = reinterpret_cast<uint64_t>(base) + static_cast<uint64_t>(r.r_addend);
      } else if (type == kGlobDat || type == kJumpSlot || type == kAbsolute) {
        if (index == 0 || index >= symbols) return Bad("relocates against a bad symbol");
        const Elf64_Sym sym = symbol(index);
        const char* name = name_of(sym);
        if (name == nullptr) return Bad("relocates against a bad symbol");
        uint64_t address = 0;
        if (sym.st_shndx != SHN_UNDEF) {
          if (mapped(sym.st_value, 1) == nullptr) return Bad("has a bad symbol");
          address = reinterpret_cast<uint64_t>(base) + sym.st_value;
        } else if (void* found = dlsym(RTLD_DEFAULT, name)) {
          address = reinterpret_cast<uint64_t>(found);
        } else if (ELF64_ST_BIND(sym.st_info) != STB_WEAK) {
          return Bad(absl::StrCat("needs symbol '", name, "', which this process does not have"));
        }
        value = address +
                (type == kAbsolute || kSlotsTakeAddend ? static_cast<uint64_t>(r.r_addend) : 0);
      } else {
        return Bad(absl::StrCat("uses relocation type ", type,
                                ", which host kernels cannot (IFUNC, TLS, copy, ...)"));
      }
      std::memcpy(target, &value, sizeof(value));
    }
    return absl::OkStatus();
  };
  if (absl::Status s = relocate(rela, rela_size); !s.ok()) return s;
  if (absl::Status s = relocate(plt, plt_size); !s.ok()) return s;

  // Each page gets the protections of the segments on it; RELRO turns
  // read-only once relocated.
  std::vector<int> pages(out->span_ / page, 0);
  for (const Elf64_Phdr& s : segments) {
    if (s.p_type != PT_LOAD || s.p_memsz == 0) continue;
    for (uint64_t p = s.p_vaddr / page; p < (s.p_vaddr + s.p_memsz + page - 1) / page; ++p) {
      pages[p - low / page] |= Protection(s.p_flags);
    }
  }
  for (const Elf64_Phdr& s : segments) {
    if (s.p_type != PT_GNU_RELRO) continue;
    // Only whole pages: a partial one shares its page with writable data.
    const uint64_t first = (s.p_vaddr + page - 1) / page, end = (s.p_vaddr + s.p_memsz) / page;
    for (uint64_t p = first; p < end && p >= low / page && p - low / page < pages.size(); ++p) {
      pages[p - low / page] &= ~PROT_WRITE;
    }
  }
  // Globals are the objects whose every page stays writable.
  for (auto it = out->globals_.begin(); it != out->globals_.end();) {
    bool writable = true;
    for (uint64_t p = it->second.vaddr / page;
         p < (it->second.vaddr + it->second.size + page - 1) / page; ++p) {
      writable = writable && (pages[p - low / page] & PROT_WRITE) != 0;
    }
    it = writable ? std::next(it) : out->globals_.erase(it);
  }
  for (size_t p = 0; p < pages.size();) {
    size_t q = p;
    while (q < pages.size() && pages[q] == pages[p]) ++q;
    if (mprotect(static_cast<uint8_t*>(mapping) + p * page, (q - p) * page, pages[p]) != 0) {
      return absl::InternalError(
          absl::StrCat("mprotect of a host-elf image: ", std::strerror(errno)));
    }
    if ((pages[p] & PROT_EXEC) != 0) {
      __builtin___clear_cache(static_cast<char*>(mapping) + p * page,
                              static_cast<char*>(mapping) + q * page);
    }
    p = q;
  }
  return out;
}

}  // namespace accel::host
