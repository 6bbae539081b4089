/* The stable C ABI between the HAL and a backend plugin.
 *
 * A backend is a shared library libaccel_backend_<name>.so that exports one
 * function, accel_backend_get_api(), returning a table of function pointers.
 * A chip vendor can build a backend against this header alone, without
 * rebuilding accelpool.
 *
 * Stability rules (in the spirit of PJRT's C API):
 *  - Every struct that crosses the boundary starts with `struct_size`. Structs
 *    only grow by appending fields; a reader uses a field only when the
 *    writer's struct_size covers it.
 *  - The function table only grows by appending. The HAL treats a function
 *    beyond the plugin's table size (or a NULL entry) as absent.
 *  - ACCEL_PLUGIN_ABI_MAJOR changes only for incompatible changes; the HAL
 *    refuses a plugin with another major version. MINOR grows with appends.
 *
 * Conventions:
 *  - Functions that can fail return an AccelError* (NULL on success). The
 *    caller owns a returned error and releases it with error_destroy().
 *  - Error codes are the canonical status codes (the numbering of
 *    absl::StatusCode and gRPC). Messages carry the vendor's error name and
 *    number.
 *  - Objects are opaque. Handles created by a plugin are destroyed by it.
 *  - Stream operations are asynchronous. Host memory passed to them must stay
 *    valid until the operation completes (the stream is synchronized or an
 *    event recorded after it completes). A failure of the stream itself
 *    (its queued work failed, its device or context is lost) is reported
 *    once, by the call that finds it, and flagged by error_is_stream_failure:
 *    the HAL keeps it as the stream's sticky error and sends the stream no
 *    more work, so a plugin needs no sticky state of its own. Before ABI 1.1
 *    (no error_is_stream_failure), errors of stream_synchronize are taken as
 *    stream failures.
 *  - buffer_free, stream_destroy, event_destroy and module_destroy may be
 *    called while queued work still uses the object: the plugin defers the
 *    release until that work is done.
 *  - The HAL validates handles, ranges, launch shapes and argument types
 *    before calling a plugin; plugins still must not crash on bad input.
 *  - A loaded plugin stays loaded for the life of the process (vendor
 *    runtimes cannot be unloaded safely); backend_close still runs.
 */
#ifndef ACCEL_HAL_PLUGIN_ABI_H_
#define ACCEL_HAL_PLUGIN_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACCEL_PLUGIN_ABI_MAJOR 1
#define ACCEL_PLUGIN_ABI_MINOR 5
#define ACCEL_PLUGIN_ENTRY_POINT "accel_backend_get_api"

/* Canonical status codes (same values as absl::StatusCode). */
typedef enum AccelStatusCode {
  ACCEL_OK = 0,
  ACCEL_CANCELLED = 1,
  ACCEL_UNKNOWN = 2,
  ACCEL_INVALID_ARGUMENT = 3,
  ACCEL_DEADLINE_EXCEEDED = 4,
  ACCEL_NOT_FOUND = 5,
  ACCEL_ALREADY_EXISTS = 6,
  ACCEL_PERMISSION_DENIED = 7,
  ACCEL_RESOURCE_EXHAUSTED = 8,
  ACCEL_FAILED_PRECONDITION = 9,
  ACCEL_ABORTED = 10,
  ACCEL_OUT_OF_RANGE = 11,
  ACCEL_UNIMPLEMENTED = 12,
  ACCEL_INTERNAL = 13,
  ACCEL_UNAVAILABLE = 14,
  ACCEL_DATA_LOSS = 15,
  ACCEL_UNAUTHENTICATED = 16
} AccelStatusCode;

/* Kernel image formats. Values are part of the ABI and of the bundle file. */
typedef enum AccelImageFormat {
  ACCEL_IMAGE_HOST_ELF = 1, /* shared object with accel host kernels */
  ACCEL_IMAGE_PTX = 2,
  ACCEL_IMAGE_CUBIN = 3,
  ACCEL_IMAGE_FATBIN = 4,
  ACCEL_IMAGE_HSACO = 5,
  ACCEL_IMAGE_SPIRV = 6
} AccelImageFormat;

/* Typed kernel arguments. Values are part of the ABI. */
typedef enum AccelArgKind {
  ACCEL_ARG_BUFFER = 1, /* a device buffer range: the kernel sees a pointer */
  ACCEL_ARG_I32 = 2,
  ACCEL_ARG_U32 = 3,
  ACCEL_ARG_I64 = 4,
  ACCEL_ARG_U64 = 5,
  ACCEL_ARG_F32 = 6,
  ACCEL_ARG_F64 = 7,
  ACCEL_ARG_BYTES = 8 /* raw bytes passed by value (a struct) */
} AccelArgKind;

typedef struct AccelError AccelError;
typedef struct AccelBackend AccelBackend;
typedef struct AccelDevice AccelDevice;
typedef struct AccelBuffer AccelBuffer;
typedef struct AccelStream AccelStream;
typedef struct AccelEvent AccelEvent;
typedef struct AccelModule AccelModule;
typedef struct AccelKernel AccelKernel;

/* One option given to backend_open, e.g. {"devices", "4"}. */
typedef struct AccelOption {
  const char* key;
  const char* value;
} AccelOption;

typedef struct AccelBackendOpenArgs {
  size_t struct_size;
  const AccelOption* options;
  size_t num_options;
} AccelBackendOpenArgs;

typedef struct AccelDeviceProperties {
  size_t struct_size;
  char name[256];
  char vendor[64];
  char arch[64];       /* e.g. "sm_90", "gfx90a", "x86_64" */
  char uuid[64];       /* canonical 8-4-4-4-12 form where known, else "" */
  char pci_bus_id[32]; /* "0000:17:00.0" where known, else "" */
  int32_t numa_node;   /* -1 when unknown */
  uint32_t compute_units;
  uint64_t total_memory;
  uint32_t max_threads_per_block;
  uint32_t max_grid[3];
  uint32_t max_block[3];
  uint64_t max_shared_memory_per_block;
} AccelDeviceProperties;

/* One device attribute in its vendor's own numbering (ABI 1.2). */
typedef struct AccelNativeAttribute {
  int32_t id;
  int32_t reserved;
  int64_t value;
} AccelNativeAttribute;

/* Where one kernel parameter lies in the kernel's parameter buffer (ABI 1.4). */
typedef struct AccelKernelParameter {
  uint64_t offset;
  uint64_t size;
} AccelKernelParameter;

/* A question about a kernel for its driver (ABI 1.5): accel::hal::KernelQuery
 * in C. `kind` is one of ACCEL_KERNEL_QUERY_*. */
#define ACCEL_KERNEL_QUERY_ATTRIBUTE 0
#define ACCEL_KERNEL_QUERY_MAX_ACTIVE_BLOCKS 1
#define ACCEL_KERNEL_QUERY_AVAILABLE_DYNAMIC_SHARED_MEMORY 2
#define ACCEL_KERNEL_QUERY_MAX_ACTIVE_CLUSTERS 3
typedef struct AccelKernelQuery {
  size_t struct_size;
  uint32_t kind;
  int32_t attribute;
  uint32_t flags;
  uint32_t blocks;
  uint32_t grid[3];
  uint32_t block[3];
  uint32_t cluster[3];
  uint64_t dynamic_shared_bytes;
} AccelKernelQuery;

typedef struct AccelLaunchConfig {
  size_t struct_size;
  uint32_t grid[3];
  uint32_t block[3];
  uint64_t shared_memory_bytes;
} AccelLaunchConfig;

typedef struct AccelKernelArg {
  uint32_t kind; /* AccelArgKind */
  uint32_t reserved;
  union {
    struct {
      AccelBuffer* buffer;
      uint64_t offset;
      uint64_t size;
    } buffer;
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    float f32;
    double f64;
    struct {
      const void* data; /* copied by the plugin before stream_launch returns */
      uint64_t size;
    } bytes;
  } value;
} AccelKernelArg;

typedef struct AccelBackendApi {
  size_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  const char* name; /* "host", "cuda", ... */

  /* Errors. */
  int32_t (*error_code)(const AccelError* error);
  const char* (*error_message)(const AccelError* error);
  void (*error_destroy)(AccelError* error);

  /* Backend. Opening never fails because a vendor driver is missing: the
   * backend then reports zero devices and says why. */
  AccelError* (*backend_open)(const AccelBackendOpenArgs* args, AccelBackend** out);
  void (*backend_close)(AccelBackend* backend);
  /* "" when usable, else why not ("libcuda.so.1 not found: ..."). */
  const char* (*backend_unavailable_reason)(AccelBackend* backend);
  uint32_t (*backend_device_count)(AccelBackend* backend);
  /* Devices are owned by the backend and live until backend_close. */
  AccelError* (*backend_get_device)(AccelBackend* backend, uint32_t index, AccelDevice** out);

  /* Devices. */
  AccelError* (*device_properties)(AccelDevice* device, AccelDeviceProperties* out);
  AccelError* (*device_memory_info)(AccelDevice* device, uint64_t* free_bytes,
                                    uint64_t* total_bytes);
  /* How well the device runs an image: < 0 cannot run it, larger is better. */
  int32_t (*device_image_score)(AccelDevice* device, int32_t format, const char* arch);

  /* Memory. Allocations are zero-filled: no tenant sees another's bytes. */
  AccelError* (*buffer_allocate)(AccelDevice* device, uint64_t size, AccelBuffer** out);
  void (*buffer_free)(AccelBuffer* buffer);

  /* Streams: in-order, asynchronous. */
  AccelError* (*stream_create)(AccelDevice* device, AccelStream** out);
  void (*stream_destroy)(AccelStream* stream);
  AccelError* (*stream_copy_host_to_device)(AccelStream* stream, const void* src, AccelBuffer* dst,
                                            uint64_t dst_offset, uint64_t size);
  AccelError* (*stream_copy_device_to_host)(AccelStream* stream, AccelBuffer* src,
                                            uint64_t src_offset, void* dst, uint64_t size);
  AccelError* (*stream_copy_device_to_device)(AccelStream* stream, AccelBuffer* src,
                                              uint64_t src_offset, AccelBuffer* dst,
                                              uint64_t dst_offset, uint64_t size);
  /* pattern_size is 1, 2 or 4; size is a multiple of it. */
  AccelError* (*stream_fill)(AccelStream* stream, AccelBuffer* dst, uint64_t offset, uint64_t size,
                             const void* pattern, uint32_t pattern_size);
  AccelError* (*stream_launch)(AccelStream* stream, AccelKernel* kernel,
                               const AccelLaunchConfig* config, const AccelKernelArg* args,
                               size_t num_args);
  AccelError* (*stream_record_event)(AccelStream* stream, AccelEvent* event);
  AccelError* (*stream_wait_event)(AccelStream* stream, AccelEvent* event);
  /* Waits for all queued work; returns the stream's sticky error if any. */
  AccelError* (*stream_synchronize)(AccelStream* stream);

  /* Events. */
  AccelError* (*event_create)(AccelDevice* device, AccelEvent** out);
  void (*event_destroy)(AccelEvent* event);
  AccelError* (*event_synchronize)(AccelEvent* event);
  /* *complete = 1 when the last recorded work has finished (or none was). */
  AccelError* (*event_query)(AccelEvent* event, int32_t* complete);
  AccelError* (*event_elapsed_ms)(AccelEvent* start, AccelEvent* end, float* milliseconds);

  /* Modules and kernels. */
  AccelError* (*module_load)(AccelDevice* device, int32_t format, const void* image, uint64_t size,
                             AccelModule** out);
  void (*module_destroy)(AccelModule* module);
  /* The kernel lives as long as its module. *signature is the kernel's
   * argument kinds ("buffer,f32,u32") when the image says, else NULL. */
  AccelError* (*module_get_kernel)(AccelModule* module, const char* name, AccelKernel** out,
                                   const char** signature);

  /* ABI 1.1. Nonzero when the error is a failure of the stream itself (see
   * the conventions above), zero when it fails only the call that returned it. */
  int32_t (*error_is_stream_failure)(const AccelError* error);
  /* ABI 1.1, optional. Where the device's memory is host memory (the host
   * backend, an integrated device): the host address of the buffer's first
   * byte, valid until buffer_free. Accesses through it are ordered with no
   * stream. UNIMPLEMENTED (or absent) where the host cannot address it. */
  AccelError* (*buffer_map_host)(AccelBuffer* buffer, void** out);
  /* ABI 1.2, optional. The device's attributes in its vendor's own
   * numbering, for a library that presents the vendor's API to unmodified
   * programs (the cuda backend: every CUdevice_attribute its driver
   * answers, by number, so that cuDeviceGetAttribute on a leased device
   * gives the node's values). *count pairs at *out, in any order, owned by
   * the device and valid until backend_close. Absent, or a count
   * of 0, where the vendor has no such numbering. */
  AccelError* (*device_native_attributes)(AccelDevice* device, const AccelNativeAttribute** out,
                                          size_t* count);
  /* ABI 1.3, optional. The address by which the device's own kernels name
   * the buffer's first byte (a CUdeviceptr, a hipDeviceptr_t, a USM
   * pointer, a host device's host address), for a library that presents
   * the vendor's API to unmodified programs, whose kernels follow pointers
   * stored anywhere in their arguments. Stable for the buffer's life. The
   * HAL never dereferences it. UNIMPLEMENTED (or absent) where the device
   * has no such addresses. */
  AccelError* (*buffer_device_address)(AccelBuffer* buffer, uint64_t* out);
  /* ABI 1.3, optional. The module's global variable `name` (a CUDA
   * __device__ or __constant__ variable, a host-elf image's exported
   * writable object): *out is a buffer over the module's own memory for it,
   * *size its size. buffer_free releases only the handle: the memory is the
   * module's, and the HAL keeps the module loaded while the buffer lives.
   * NOT_FOUND when the module has no such global. */
  AccelError* (*module_get_global)(AccelModule* module, const char* name, AccelBuffer** out,
                                   uint64_t* size);
  /* ABI 1.4, optional. The kernel's parameters as its device's driver lays
   * them out (CUDA's cuFuncGetParamInfo), for a library that presents the
   * vendor's API to unmodified programs and must pack a launch's `void**`
   * arguments when the program's image hides its layout (a compressed fat
   * binary, say). *count is set to the number of parameters; the first
   * min(capacity, *count) are written at *out. UNIMPLEMENTED (or absent)
   * where the driver cannot tell. */
  AccelError* (*kernel_parameters)(AccelKernel* kernel, AccelKernelParameter* out,
                                   uint32_t capacity, uint32_t* count);
  /* ABI 1.5, optional. The driver's answer to `query` about the kernel (an
   * attribute, or how many of its blocks or clusters fit), for the same
   * libraries: their programs ask the driver what a kernel uses and how
   * many of its blocks fit. UNIMPLEMENTED (or absent) where the driver
   * cannot answer; INVALID_ARGUMENT for a question it refuses. */
  AccelError* (*kernel_query)(AccelKernel* kernel, const AccelKernelQuery* query, int64_t* out);
} AccelBackendApi;

/* The one symbol a backend exports. Returns NULL when the plugin cannot
 * serve a HAL of that ABI major version. */
typedef const AccelBackendApi* (*AccelGetBackendApiFn)(uint32_t hal_abi_major,
                                                       uint32_t hal_abi_minor);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ACCEL_HAL_PLUGIN_ABI_H_ */
