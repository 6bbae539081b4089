/* The versioned ABI of `host-elf` kernel images, run by the host backend.
 *
 * A host-elf image is a shared object (built with -fPIC -shared) that exports:
 *
 *   uint32_t accel_host_module_abi_version(void);   returns ACCEL_HOST_KERNEL_ABI_VERSION
 *   const AccelHostKernelDesc* accel_host_module_kernels(size_t* count);
 *
 * Each kernel is a function called once per thread block, with the block's
 * index and the launch shape in the context. The kernel loops over the threads
 * of its block itself (ACCEL_HOST_FOR_EACH_THREAD); code between two such
 * loops sees every write of the first loop, which is what __syncthreads()
 * gives a GPU kernel. Blocks run in parallel on a thread pool, in no
 * particular order, so blocks must not depend on each other.
 *
 * A kernel returns 0 on success or a canonical status code (3 = invalid
 * argument, ...). A non-zero return becomes the stream's sticky error.
 *
 * See tests/kernels/host/accel_kernels.c for a complete example.
 */
#ifndef ACCEL_HAL_HOST_KERNEL_ABI_H_
#define ACCEL_HAL_HOST_KERNEL_ABI_H_

#include <stddef.h>
#include <stdint.h>

#include "accel/hal/plugin_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ACCEL_HOST_KERNEL_ABI_VERSION 1u

typedef struct AccelHostDim3 {
  uint32_t x, y, z;
} AccelHostDim3;

/* One argument as the kernel sees it. */
typedef struct AccelHostKernelArg {
  uint32_t kind; /* AccelArgKind */
  uint32_t reserved;
  uint64_t size; /* bytes: buffer range size, scalar width, or raw size */
  union {
    void* ptr;        /* ACCEL_ARG_BUFFER: start of the range */
    const void* data; /* ACCEL_ARG_BYTES */
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    float f32;
    double f64;
  } value;
} AccelHostKernelArg;

typedef struct AccelHostKernelContext {
  size_t struct_size;
  AccelHostDim3 grid_dim;
  AccelHostDim3 block_dim;
  AccelHostDim3 block_idx;
  void* shared_memory; /* dynamic shared memory of this block, zero-filled */
  uint64_t shared_memory_bytes;
  const AccelHostKernelArg* args;
  size_t num_args;
} AccelHostKernelContext;

typedef int32_t (*AccelHostKernelFn)(const AccelHostKernelContext* ctx);

typedef struct AccelHostKernelDesc {
  const char* name;
  AccelHostKernelFn fn;
  const char* signature; /* "buffer,buffer,f32,u32", or NULL if unchecked */
} AccelHostKernelDesc;

#define ACCEL_HOST_MODULE_ABI_VERSION_SYMBOL "accel_host_module_abi_version"
#define ACCEL_HOST_MODULE_KERNELS_SYMBOL "accel_host_module_kernels"

/* Loops over the threads of the current block, binding tx, ty, tz. */
#define ACCEL_HOST_FOR_EACH_THREAD(ctx, tx, ty, tz)      \
  for (uint32_t tz = 0; tz < (ctx)->block_dim.z; ++tz)   \
    for (uint32_t ty = 0; ty < (ctx)->block_dim.y; ++ty) \
      for (uint32_t tx = 0; tx < (ctx)->block_dim.x; ++tx)

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ACCEL_HAL_HOST_KERNEL_ABI_H_ */
