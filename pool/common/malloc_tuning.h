// glibc malloc settings for processes that move bulk data through gRPC.
//
// Every 1-4 MiB message buffer gRPC allocates is, with glibc's defaults,
// either mmapped and unmapped per message or carved from the heap top and
// trimmed back to the kernel when freed; both make the next message
// page-fault its way through fresh memory. Keeping such buffers in the heap
// and not trimming it removes the faults (on the 2-core development VM,
// before the bulk channel: a plain gRPC byte stream 0.11 -> 3.3 GB/s).
#ifndef ACCEL_POOL_COMMON_MALLOC_TUNING_H_
#define ACCEL_POOL_COMMON_MALLOC_TUNING_H_

namespace accel::pool {

// Raises malloc's mmap and trim thresholds, unless the process was started
// with its own malloc settings (MALLOC_*_ or GLIBC_TUNABLES), which win.
// Idempotent; affects the whole process, so libraries call it only when they
// are about to move bulk data.
void TuneMallocForBulkTransfers();

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_MALLOC_TUNING_H_
