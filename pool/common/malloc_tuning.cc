#include "pool/common/malloc_tuning.h"

#include <malloc.h>

#include <cstdlib>
#include <initializer_list>

namespace accel::pool {

void TuneMallocForBulkTransfers() {
  for (const char* name : {"GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}) {
    if (std::getenv(name) != nullptr) return;
  }
#ifdef M_MMAP_THRESHOLD
  // 32 MiB is glibc's largest allowed threshold: above every message size.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  // Freed message buffers stay in the heap for the next message; the process
  // keeps at most this much free memory beyond its peak in use.
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
}

}  // namespace accel::pool
