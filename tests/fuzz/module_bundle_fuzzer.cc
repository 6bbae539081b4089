// ModuleBundle::Parse under libFuzzer: a bundle is a file anyone may hand a
// client, and a client's bytes reach the node as images.
#include <cstddef>
#include <cstdint>

#include "accel/hal/module_bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)accel::hal::ModuleBundle::Parse(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
