// A host-elf image mapped from memory by the host backend itself, not by the
// dynamic loader: a position-independent shared object is copied into fresh
// pages, relocated against its own symbols and the process's libraries, and
// given its segments' protections.
//
// Why not dlopen: the dynamic loader opens the image by path (a file, or a
// memfd under /proc/self/fd), runs its constructors and loads whatever
// libraries it names. A session worker that runs tenants' kernels under a
// seccomp filter must do none of that: it opens no file at all, and no code
// of an image runs before its kernels are launched.
//
// Supported: ELF64 ET_DYN for this machine, RELA relocations (relative,
// absolute, GOT and PLT slots), symbols defined in the image or exported by
// the process (libc, libm). Refused with a clear error: thread-local
// storage, text relocations, IFUNCs, copy relocations and anything else.
// Constructors and destructors (DT_INIT, DT_INIT_ARRAY, ...) are never run.
#ifndef ACCEL_BACKENDS_HOST_ELF_IMAGE_H_
#define ACCEL_BACKENDS_HOST_ELF_IMAGE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace accel::host {

// The host's architecture as the HAL names it ("x86_64", "aarch64"): the
// only one whose host-elf images the host backend loads.
const char* HostArch();

class ElfImage {
 public:
  // `image` must have passed CheckElf (host_module.cc): its header tables
  // and loaded segments lie inside it.
  static absl::StatusOr<std::unique_ptr<ElfImage>> Map(absl::string_view image);
  ~ElfImage();
  ElfImage(const ElfImage&) = delete;
  ElfImage& operator=(const ElfImage&) = delete;

  // The address of a symbol the image defines and exports, or null.
  void* Symbol(absl::string_view name) const;
  // The bytes of an object the image exports in writable memory (its
  // global variable), or an empty span.
  absl::Span<std::byte> Global(absl::string_view name) const;

 private:
  ElfImage() = default;
  void* mapping_ = nullptr;
  size_t span_ = 0;
  uint8_t* base_ = nullptr;  // the image's address 0
  std::map<std::string, uint64_t, std::less<>> exports_;
  struct GlobalRange {
    uint64_t vaddr;
    uint64_t size;
  };
  std::map<std::string, GlobalRange, std::less<>> globals_;
};

}  // namespace accel::host

#endif  // ACCEL_BACKENDS_HOST_ELF_IMAGE_H_
