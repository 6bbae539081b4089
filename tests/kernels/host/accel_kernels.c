/* The accelpool kernel set, host-elf edition: used by the conformance suite,
 * the examples and the benchmarks. Each kernel has a twin in every other
 * format the build produces, with the same name, signature and semantics.
 *
 * How to write a host kernel (see accel/hal/host_kernel_abi.h):
 *  - a kernel is `int32_t k(const AccelHostKernelContext* ctx)`, called once
 *    per block; loop over the block's threads with ACCEL_HOST_FOR_EACH_THREAD;
 *  - read arguments from ctx->args[i] (ARG_PTR / ARG_F32 / ... below);
 *  - two consecutive thread loops behave like code around __syncthreads();
 *  - return 0, or a canonical status code to fail the launch;
 *  - list the kernel with its signature in the table at the bottom.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "accel/hal/host_kernel_abi.h"

#define ARG_PTR(ctx, i, type) ((type*)(ctx)->args[i].value.ptr)
#define ARG_U32(ctx, i) ((ctx)->args[i].value.u32)
#define ARG_U64(ctx, i) ((ctx)->args[i].value.u64)
#define ARG_F32(ctx, i) ((ctx)->args[i].value.f32)

/* Global linear thread index along x, as blockIdx.x * blockDim.x + threadIdx.x. */
#define GLOBAL_X(ctx, tx) ((uint64_t)(ctx)->block_idx.x * (ctx)->block_dim.x + (tx))

/* fill(out: f32[n], value, n) */
static int32_t fill(const AccelHostKernelContext* ctx) {
  float* out = ARG_PTR(ctx, 0, float);
  float value = ARG_F32(ctx, 1);
  uint32_t n = ARG_U32(ctx, 2);
  ACCEL_HOST_FOR_EACH_THREAD(ctx, tx, ty, tz) {
    uint64_t i = GLOBAL_X(ctx, tx);
    if (i < n) out[i] = value;
  }
  return 0;
}

/* vector_add(a, b, c: f32[n], n): c = a + b */
static int32_t vector_add(const AccelHostKernelContext* ctx) {
  const float* a = ARG_PTR(ctx, 0, const float);
  const float* b = ARG_PTR(ctx, 1, const float);
  float* c = ARG_PTR(ctx, 2, float);
  uint32_t n = ARG_U32(ctx, 3);
  ACCEL_HOST_FOR_EACH_THREAD(ctx, tx, ty, tz) {
    uint64_t i = GLOBAL_X(ctx, tx);
    if (i < n) c[i] = a[i] + b[i];
  }
  return 0;
}

/* saxpy(x, y: f32[n], a, n): y = a * x + y */
static int32_t saxpy(const AccelHostKernelContext* ctx) {
  const float* x = ARG_PTR(ctx, 0, const float);
  float* y = ARG_PTR(ctx, 1, float);
  float a = ARG_F32(ctx, 2);
  uint32_t n = ARG_U32(ctx, 3);
  ACCEL_HOST_FOR_EACH_THREAD(ctx, tx, ty, tz) {
    uint64_t i = GLOBAL_X(ctx, tx);
    if (i < n) y[i] = a * x[i] + y[i];
  }
  return 0;
}

/* sgemm(A: f32[M*K], B: f32[K*N], C: f32[M*N], M, N, K, alpha, beta), row-major:
 * C = alpha * A B + beta * C. One thread per element of C: x over columns,
 * y over rows. */
static int32_t sgemm(const AccelHostKernelContext* ctx) {
  const float* A = ARG_PTR(ctx, 0, const float);
  const float* B = ARG_PTR(ctx, 1, const float);
  float* C = ARG_PTR(ctx, 2, float);
  uint32_t M = ARG_U32(ctx, 3), N = ARG_U32(ctx, 4), K = ARG_U32(ctx, 5);
  float alpha = ARG_F32(ctx, 6), beta = ARG_F32(ctx, 7);
  ACCEL_HOST_FOR_EACH_THREAD(ctx, tx, ty, tz) {
    uint64_t col = GLOBAL_X(ctx, tx);
    uint64_t row = (uint64_t)ctx->block_idx.y * ctx->block_dim.y + ty;
    if (row >= M || col >= N) continue;
    float sum = 0.0f;
    for (uint32_t k = 0; k < K; ++k) sum += A[row * K + k] * B[(uint64_t)k * N + col];
    C[row * N + col] = alpha * sum + beta * C[row * N + col];
  }
  return 0;
}

/* reduce_sum(in: f32[n], partial: f32[gridDim.x], n): partial[b] is the sum of
 * the elements block b visits in a grid-stride loop; one block sums it all.
 * Uses blockDim.x floats of dynamic shared memory, like the GPU versions. */
static int32_t reduce_sum(const AccelHostKernelContext* ctx) {
  const float* in = ARG_PTR(ctx, 0, const float);
  float* partial = ARG_PTR(ctx, 1, float);
  uint32_t n = ARG_U32(ctx, 2);
  float* shared = (float*)ctx->shared_memory;
  if (ctx->shared_memory_bytes < ctx->block_dim.x * sizeof(float)) return 3; /* invalid arg */
  uint64_t stride = (uint64_t)ctx->grid_dim.x * ctx->block_dim.x;
  ACCEL_HOST_FOR_EACH_THREAD(ctx, tx, ty, tz) {
    float sum = 0.0f;
    for (uint64_t i = GLOBAL_X(ctx, tx); i < n; i += stride) sum += in[i];
    shared[tx] = sum;
  }
  /* __syncthreads(); then thread 0 combines. */
  float total = 0.0f;
  for (uint32_t t = 0; t < ctx->block_dim.x; ++t) total += shared[t];
  partial[ctx->block_idx.x] = total;
  return 0;
}

/* affine_u32(x: u32[n], a, b, n): x = x * a + b. Not commutative, so a chain
 * of launches proves stream ordering. */
static int32_t affine_u32(const AccelHostKernelContext* ctx) {
  uint32_t* x = ARG_PTR(ctx, 0, uint32_t);
  uint32_t a = ARG_U32(ctx, 1), b = ARG_U32(ctx, 2), n = ARG_U32(ctx, 3);
  ACCEL_HOST_FOR_EACH_THREAD(ctx, tx, ty, tz) {
    uint64_t i = GLOBAL_X(ctx, tx);
    if (i < n) x[i] = x[i] * a + b;
  }
  return 0;
}

/* arg_probe(out, i32, u32, i64, u64, f32, f64, bytes): writes each argument
 * into out at 8-byte slots 0..5, then the raw bytes from slot 6 on. */
static int32_t arg_probe(const AccelHostKernelContext* ctx) {
  unsigned char* out = ARG_PTR(ctx, 0, unsigned char);
  if (ctx->block_idx.x != 0) return 0;
  memcpy(out + 0, &ctx->args[1].value.i32, 4);
  memcpy(out + 8, &ctx->args[2].value.u32, 4);
  memcpy(out + 16, &ctx->args[3].value.i64, 8);
  memcpy(out + 24, &ctx->args[4].value.u64, 8);
  memcpy(out + 32, &ctx->args[5].value.f32, 4);
  memcpy(out + 40, &ctx->args[6].value.f64, 8);
  if (ctx->args[7].size > ctx->args[0].size - 48) return 3;
  memcpy(out + 48, ctx->args[7].value.data, ctx->args[7].size);
  return 0;
}

/* index_probe(out: u32[total threads]): every thread of a 3-D launch adds
 * 1 + its global linear index to its own slot, so a test sees each thread ran
 * exactly once. */
static int32_t index_probe(const AccelHostKernelContext* ctx) {
  uint32_t* out = ARG_PTR(ctx, 0, uint32_t);
  const AccelHostDim3 g = ctx->grid_dim, b = ctx->block_dim, bi = ctx->block_idx;
  ACCEL_HOST_FOR_EACH_THREAD(ctx, tx, ty, tz) {
    uint64_t gx = (uint64_t)bi.x * b.x + tx, gy = (uint64_t)bi.y * b.y + ty,
             gz = (uint64_t)bi.z * b.z + tz;
    uint64_t id = (gz * ((uint64_t)g.y * b.y) + gy) * ((uint64_t)g.x * b.x) + gx;
    out[id] += (uint32_t)(id + 1);
  }
  return 0;
}

/* shared_probe(out: u32[blocks * blockDim.x]): each thread writes its index to
 * shared memory; after the barrier thread t reads its neighbour's slot. */
static int32_t shared_probe(const AccelHostKernelContext* ctx) {
  uint32_t* out = ARG_PTR(ctx, 0, uint32_t);
  uint32_t* shared = (uint32_t*)ctx->shared_memory;
  uint32_t n = ctx->block_dim.x;
  if (ctx->shared_memory_bytes < n * sizeof(uint32_t)) return 3;
  ACCEL_HOST_FOR_EACH_THREAD(ctx, tx, ty, tz) { shared[tx] = tx * 10 + 1; }
  ACCEL_HOST_FOR_EACH_THREAD(ctx, tx, ty, tz) {
    out[(uint64_t)ctx->block_idx.x * n + tx] = shared[(tx + 1) % n];
  }
  return 0;
}

/* fail_with(code): fails the launch with that canonical status code. */
static int32_t fail_with(const AccelHostKernelContext* ctx) { return (int32_t)ARG_U32(ctx, 0); }

/* spin(microseconds): busy-waits in block 0, for timing and asynchrony tests. */
static int32_t spin(const AccelHostKernelContext* ctx) {
  if (ctx->block_idx.x != 0) return 0;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  uint64_t wait_ns = ARG_U64(ctx, 0) * 1000;
  do {
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((uint64_t)(now.tv_sec - start.tv_sec) * 1000000000u + (uint64_t)now.tv_nsec -
               (uint64_t)start.tv_nsec <
           wait_ns);
  return 0;
}

/* A global variable of the module, {1, 2, 3, 4} when loaded: the
 * conformance suite reads and writes it through Module::GetGlobal, and runs
 * affine_u32 on it. Exported, as host-elf globals must be to be found. */
__attribute__((visibility("default"))) uint32_t accel_global_table[4] = {1, 2, 3, 4};

/* empty(): does nothing; measures launch overhead. */
static int32_t empty(const AccelHostKernelContext* ctx) {
  (void)ctx;
  return 0;
}

static const AccelHostKernelDesc kKernels[] = {
    {"fill", fill, "buffer,f32,u32"},
    {"vector_add", vector_add, "buffer,buffer,buffer,u32"},
    {"saxpy", saxpy, "buffer,buffer,f32,u32"},
    {"sgemm", sgemm, "buffer,buffer,buffer,u32,u32,u32,f32,f32"},
    {"reduce_sum", reduce_sum, "buffer,buffer,u32"},
    {"affine_u32", affine_u32, "buffer,u32,u32,u32"},
    {"arg_probe", arg_probe, "buffer,i32,u32,i64,u64,f32,f64,bytes"},
    {"index_probe", index_probe, "buffer"},
    {"shared_probe", shared_probe, "buffer"},
    {"fail_with", fail_with, "u32"},
    {"spin", spin, "u64"},
    {"empty", empty, ""},
};

__attribute__((visibility("default"))) uint32_t accel_host_module_abi_version(void) {
  return ACCEL_HOST_KERNEL_ABI_VERSION;
}

__attribute__((visibility("default"))) const AccelHostKernelDesc* accel_host_module_kernels(
    size_t* count) {
  *count = sizeof(kKernels) / sizeof(kKernels[0]);
  return kKernels;
}
