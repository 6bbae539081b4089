/* The accelpool kernel set, SPIR-V edition (OpenCL C 2.0, compiled by
 * kernels.cmake with clang -target spir64 and llvm-spirv). Same kernel names,
 * argument order and semantics as tests/kernels/host/accel_kernels.c; the
 * bundle takes the signatures from the host image, so they are not repeated.
 *
 * How the HAL's concepts map here (the Level Zero backend's rules):
 *  - a HAL block is a work-group, the grid is the number of work-groups, so
 *    get_group_id / get_local_id / get_local_size are blockIdx / threadIdx /
 *    blockDim;
 *  - dynamic shared memory is one extra, trailing `__local` pointer argument
 *    that the HAL does not pass: the backend sets it to shared_memory_bytes
 *    (reduce_sum, shared_probe);
 *  - a buffer argument is a `__global` pointer to the view's first byte;
 *    scalars arrive by value; raw bytes arrive as a by-value struct whose
 *    size the kernel fixes.
 *
 * Known differences, each documented at its kernel: fail_with cannot fail a
 * launch, spin is a calibrated loop rather than a clock, and arg_probe takes
 * its f64 as 64 raw bits and its bytes as a 16-byte struct.
 */

/* blockIdx.x * blockDim.x + threadIdx.x: no global offset is ever set. */
#define GLOBAL_X() ((ulong)get_group_id(0) * get_local_size(0) + get_local_id(0))

/* fill(out: f32[n], value, n) */
kernel void fill(global float* out, float value, uint n) {
  ulong i = GLOBAL_X();
  if (i < n) out[i] = value;
}

/* vector_add(a, b, c: f32[n], n): c = a + b */
kernel void vector_add(global const float* a, global const float* b, global float* c, uint n) {
  ulong i = GLOBAL_X();
  if (i < n) c[i] = a[i] + b[i];
}

/* saxpy(x, y: f32[n], a, n): y = a * x + y */
kernel void saxpy(global const float* x, global float* y, float a, uint n) {
  ulong i = GLOBAL_X();
  if (i < n) y[i] = a * x[i] + y[i];
}

/* sgemm(A: f32[M*K], B: f32[K*N], C: f32[M*N], M, N, K, alpha, beta), row-major:
 * C = alpha * A B + beta * C. One work-item per element of C: dimension 0
 * over columns, dimension 1 over rows. */
kernel void sgemm(global const float* A, global const float* B, global float* C, uint M, uint N,
                  uint K, float alpha, float beta) {
  ulong col = GLOBAL_X();
  ulong row = (ulong)get_group_id(1) * get_local_size(1) + get_local_id(1);
  if (row >= M || col >= N) return;
  float sum = 0.0f;
  for (uint k = 0; k < K; ++k) sum += A[row * K + k] * B[(ulong)k * N + col];
  C[row * N + col] = alpha * sum + beta * C[row * N + col];
}

/* reduce_sum(in: f32[n], partial: f32[groups], n): partial[g] is the sum of
 * the elements work-group g visits in a grid-stride loop. Needs
 * get_local_size(0) floats of dynamic local memory (the trailing argument). */
kernel void reduce_sum(global const float* in, global float* partial, uint n,
                       local float* scratch) {
  const uint lid = get_local_id(0);
  const uint lsize = get_local_size(0);
  const ulong stride = (ulong)get_num_groups(0) * lsize;
  float sum = 0.0f;
  for (ulong i = GLOBAL_X(); i < n; i += stride) sum += in[i];
  scratch[lid] = sum;
  barrier(CLK_LOCAL_MEM_FENCE);
  /* Pairwise tree; correct for any work-group size, not only powers of 2. */
  for (uint s = 1; s < lsize; s <<= 1) {
    if (lid % (2 * s) == 0 && lid + s < lsize) scratch[lid] += scratch[lid + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) partial[get_group_id(0)] = scratch[0];
}

/* affine_u32(x: u32[n], a, b, n): x = x * a + b (wraps mod 2^32). */
kernel void affine_u32(global uint* x, uint a, uint b, uint n) {
  ulong i = GLOBAL_X();
  if (i < n) x[i] = x[i] * a + b;
}

/* A program-scope global of the module, {1, 2, 3, 4} when loaded: the
 * conformance suite reads and writes it through Module::GetGlobal, and runs
 * affine_u32 on it. */
global uint accel_global_table[4] = {1, 2, 3, 4};

/* The raw-bytes argument of arg_probe: SPIR-V kernels need a fixed size, so
 * it is the 16 bytes the conformance test passes. The backend hands the
 * HAL's bytes to the driver by size; another size fails the launch with
 * INVALID_ARGUMENT (ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_SIZE). */
typedef struct {
  uchar bytes[16];
} ArgProbeBytes;

/* arg_probe(out, i32, u32, i64, u64, f32, f64, bytes): writes each argument
 * into out at 8-byte slots 0..5, then the raw bytes from slot 6 on. The f64
 * is received as its 64 bits (ulong): the kernel only stores it, and a
 * `double` parameter would make the whole module need fp64, which many
 * Intel GPUs lack. */
kernel void arg_probe(global uchar* out, int i32, uint u32, long i64, ulong u64, float f32,
                      ulong f64_bits, ArgProbeBytes raw) {
  if (get_group_id(0) != 0 || get_local_id(0) != 0) return;
  *(global int*)(out + 0) = i32;
  *(global uint*)(out + 8) = u32;
  *(global long*)(out + 16) = i64;
  *(global ulong*)(out + 24) = u64;
  *(global float*)(out + 32) = f32;
  *(global ulong*)(out + 40) = f64_bits;
  for (int i = 0; i < 16; ++i) out[48 + i] = raw.bytes[i];
}

/* index_probe(out: u32[total work-items]): every work-item of a 3-D launch
 * adds 1 + its global linear index to its own slot. */
kernel void index_probe(global uint* out) {
  ulong gx = get_global_id(0), gy = get_global_id(1), gz = get_global_id(2);
  ulong id = (gz * get_global_size(1) + gy) * get_global_size(0) + gx;
  out[id] += (uint)(id + 1);
}

/* shared_probe(out: u32[groups * local size]): each work-item writes its
 * index to local memory; after the barrier item t reads its neighbour's
 * slot. Needs get_local_size(0) uints of dynamic local memory. */
kernel void shared_probe(global uint* out, local uint* shared) {
  const uint t = get_local_id(0);
  const uint n = get_local_size(0);
  shared[t] = t * 10 + 1;
  barrier(CLK_LOCAL_MEM_FENCE);
  out[(ulong)get_group_id(0) * n + t] = shared[(t + 1) % n];
}

/* fail_with(code): the host and CUDA versions fail the launch with `code`.
 * SPIR-V kernels have no way to end a launch with an error: there is no trap
 * that Level Zero turns into a per-launch status (a deliberate fault would
 * take the whole device down). So it does nothing here, and the conformance
 * cases that need a failing kernel are listed unsupported for levelzero. */
kernel void fail_with(uint code) { (void)code; }

/* How many loop iterations make one microsecond. OpenCL C has no portable
 * clock, so spin is a bounded loop, calibrated once per device family by
 * kernels.cmake (ACCEL_SPIRV_SPIN_ITERATIONS_PER_US). */
#ifndef SPIN_ITERATIONS_PER_US
#define SPIN_ITERATIONS_PER_US 64
#endif

/* spin(microseconds): keeps work-group 0 busy for about that long, for the
 * timing and asynchrony tests. Each iteration is a volatile local-memory
 * read-modify-write, which the compiler must keep and which cannot overlap
 * the next one. */
kernel void spin(ulong microseconds) {
  local volatile uint sink;
  if (get_group_id(0) != 0 || get_local_id(0) != 0) return;
  sink = 1;
  ulong iterations = microseconds * SPIN_ITERATIONS_PER_US;
  for (ulong i = 0; i < iterations; ++i) sink = sink * 1664525u + 1013904223u;
}

/* empty(): does nothing; measures launch overhead. */
kernel void empty(void) {}
