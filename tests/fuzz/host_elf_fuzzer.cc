// The host backend's own ELF loader under libFuzzer: it maps and relocates a
// tenant's host-elf image (running none of it), so every header, table and
// relocation it reads comes from the client.
#include <cstddef>
#include <cstdint>

#include "elf_image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)accel::host::ElfImage::Map(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
