// Adapts the C++ backend interfaces to the C function table of plugin_abi.h.
// Each opaque C handle is the corresponding C++ object; AccelError wraps a
// Status. Nothing here throws across the boundary: C++ exceptions inside a
// backend become INTERNAL errors.
#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "accel/hal/plugin/backend_interface.h"
#include "accel/hal/types.h"

struct AccelError {
  absl::Status status;
};

namespace accel::hal::plugin {
namespace {

template <typename T, typename C>
T* Impl(C* handle) {
  return reinterpret_cast<T*>(handle);
}
template <typename C, typename T>
C* Handle(T* impl) {
  return reinterpret_cast<C*>(impl);
}

AccelError* ToError(const absl::Status& status) {
  if (status.ok()) return nullptr;
  return new AccelError{status};
}

// Runs `body` (returning Status), turning exceptions into INTERNAL errors.
template <typename F>
AccelError* Guard(F&& body) {
  try {
    return ToError(body());
  } catch (const std::bad_alloc&) {
    return ToError(absl::ResourceExhaustedError("backend ran out of host memory"));
  } catch (const std::exception& e) {
    return ToError(absl::InternalError(absl::StrCat("backend threw: ", e.what())));
  } catch (...) {
    return ToError(absl::InternalError("backend threw an unknown exception"));
  }
}

struct Exported {
  const char* name = nullptr;
  BackendFactory factory = nullptr;
};
Exported& exported() {
  static Exported value;
  return value;
}

int32_t ErrorCode(const AccelError* e) { return static_cast<int32_t>(e->status.code()); }
const char* ErrorMessage(const AccelError* e) { return e->status.message().data(); }
void ErrorDestroy(AccelError* e) { delete e; }
int32_t ErrorIsStreamFailure(const AccelError* e) { return IsStreamFailure(e->status) ? 1 : 0; }

AccelError* BackendOpen(const AccelBackendOpenArgs* args, AccelBackend** out) {
  return Guard([&]() -> absl::Status {
    BackendOptions options;
    if (args != nullptr &&
        args->struct_size >= offsetof(AccelBackendOpenArgs, num_options) + sizeof(size_t)) {
      for (size_t i = 0; i < args->num_options; ++i) {
        const AccelOption& o = args->options[i];
        if (o.key != nullptr) options[o.key] = o.value != nullptr ? o.value : "";
      }
    }
    auto backend = exported().factory(options);
    if (!backend.ok()) return backend.status();
    *out = Handle<AccelBackend>(backend->release());
    return absl::OkStatus();
  });
}
void BackendClose(AccelBackend* b) { delete Impl<BackendImpl>(b); }
const char* BackendUnavailableReason(AccelBackend* b) {
  return Impl<BackendImpl>(b)->unavailable_reason().c_str();
}
uint32_t BackendDeviceCount(AccelBackend* b) { return Impl<BackendImpl>(b)->device_count(); }
AccelError* BackendGetDevice(AccelBackend* b, uint32_t index, AccelDevice** out) {
  auto* backend = Impl<BackendImpl>(b);
  if (index >= backend->device_count()) {
    return ToError(absl::InvalidArgumentError(
        absl::StrCat("device index ", index, " out of range (", backend->device_count(), ")")));
  }
  *out = Handle<AccelDevice>(&backend->device(index));
  return nullptr;
}

AccelError* DeviceProperties(AccelDevice* d, AccelDeviceProperties* out) {
  return Guard([&]() -> absl::Status {
    AccelDeviceProperties props = Impl<DeviceImpl>(d)->Properties();
    // Copy no more than the caller's struct holds: it may be an older HAL.
    size_t n = std::min(out->struct_size, sizeof(props));
    props.struct_size = n;
    std::memcpy(out, &props, n);
    return absl::OkStatus();
  });
}
AccelError* DeviceNativeAttributes(AccelDevice* d, const AccelNativeAttribute** out,
                                   size_t* count) {
  return Guard([&]() -> absl::Status {
    absl::Span<const AccelNativeAttribute> attributes = Impl<DeviceImpl>(d)->NativeAttributes();
    *out = attributes.data();
    *count = attributes.size();
    return absl::OkStatus();
  });
}
AccelError* DeviceMemoryInfo(AccelDevice* d, uint64_t* free_bytes, uint64_t* total_bytes) {
  return Guard([&]() -> absl::Status {
    auto info = Impl<DeviceImpl>(d)->MemoryInfo();
    if (!info.ok()) return info.status();
    *free_bytes = info->first;
    *total_bytes = info->second;
    return absl::OkStatus();
  });
}
int32_t DeviceImageScore(AccelDevice* d, int32_t format, const char* arch) {
  // Converting an out-of-range value to the enum would be undefined.
  if (!IsKnownImageFormat(format)) return -1;
  return Impl<DeviceImpl>(d)->ImageScore(static_cast<AccelImageFormat>(format),
                                         arch != nullptr ? arch : "");
}

// Hands a newly made object to the caller as its opaque handle.
template <typename C, typename T>
absl::Status Emit(absl::StatusOr<std::unique_ptr<T>> made, C** out) {
  if (!made.ok()) return made.status();
  *out = Handle<C>(made->release());
  return absl::OkStatus();
}

AccelError* BufferAllocate(AccelDevice* d, uint64_t size, AccelBuffer** out) {
  return Guard([&] { return Emit(Impl<DeviceImpl>(d)->Allocate(size), out); });
}
void BufferFree(AccelBuffer* b) { delete Impl<BufferImpl>(b); }
AccelError* BufferMapHost(AccelBuffer* b, void** out) {
  return Guard([&]() -> absl::Status {
    absl::StatusOr<void*> address = Impl<BufferImpl>(b)->MapHost();
    if (!address.ok()) return address.status();
    *out = *address;
    return absl::OkStatus();
  });
}
AccelError* BufferDeviceAddress(AccelBuffer* b, uint64_t* out) {
  return Guard([&]() -> absl::Status {
    absl::StatusOr<uint64_t> address = Impl<BufferImpl>(b)->DeviceAddress();
    if (!address.ok()) return address.status();
    *out = *address;
    return absl::OkStatus();
  });
}

AccelError* StreamCreate(AccelDevice* d, AccelStream** out) {
  return Guard([&] { return Emit(Impl<DeviceImpl>(d)->CreateStream(), out); });
}
void StreamDestroy(AccelStream* s) { delete Impl<StreamImpl>(s); }
AccelError* StreamCopyH2D(AccelStream* s, const void* src, AccelBuffer* dst, uint64_t dst_offset,
                          uint64_t size) {
  return Guard([&] {
    return Impl<StreamImpl>(s)->CopyHostToDevice(src, *Impl<BufferImpl>(dst), dst_offset, size);
  });
}
AccelError* StreamCopyD2H(AccelStream* s, AccelBuffer* src, uint64_t src_offset, void* dst,
                          uint64_t size) {
  return Guard([&] {
    return Impl<StreamImpl>(s)->CopyDeviceToHost(*Impl<BufferImpl>(src), src_offset, dst, size);
  });
}
AccelError* StreamCopyD2D(AccelStream* s, AccelBuffer* src, uint64_t src_offset, AccelBuffer* dst,
                          uint64_t dst_offset, uint64_t size) {
  return Guard([&] {
    return Impl<StreamImpl>(s)->CopyDeviceToDevice(*Impl<BufferImpl>(src), src_offset,
                                                   *Impl<BufferImpl>(dst), dst_offset, size);
  });
}
AccelError* StreamFill(AccelStream* s, AccelBuffer* dst, uint64_t offset, uint64_t size,
                       const void* pattern, uint32_t pattern_size) {
  return Guard([&]() -> absl::Status {
    if (pattern_size != 1 && pattern_size != 2 && pattern_size != 4) {
      return absl::InvalidArgumentError(
          absl::StrCat("fill pattern size must be 1, 2 or 4 bytes, not ", pattern_size));
    }
    uint32_t value = 0;
    std::memcpy(&value, pattern, pattern_size);
    return Impl<StreamImpl>(s)->Fill(*Impl<BufferImpl>(dst), offset, size, value, pattern_size);
  });
}
size_t ScalarWidth(uint32_t kind) {
  switch (kind) {
    case ACCEL_ARG_I32:
    case ACCEL_ARG_U32:
    case ACCEL_ARG_F32:
      return 4;
    case ACCEL_ARG_I64:
    case ACCEL_ARG_U64:
    case ACCEL_ARG_F64:
      return 8;
    default:
      return 0;
  }
}
AccelError* StreamLaunch(AccelStream* s, AccelKernel* k, const AccelLaunchConfig* config,
                         const AccelKernelArg* args, size_t num_args) {
  return Guard([&]() -> absl::Status {
    std::vector<LaunchArg> converted(num_args);
    for (size_t i = 0; i < num_args; ++i) {
      const AccelKernelArg& a = args[i];
      LaunchArg& c = converted[i];
      c.kind = static_cast<AccelArgKind>(a.kind);
      if (a.kind == ACCEL_ARG_BUFFER) {
        c.buffer = Impl<BufferImpl>(a.value.buffer.buffer);
        c.offset = a.value.buffer.offset;
        c.size = a.value.buffer.size;
      } else if (a.kind == ACCEL_ARG_BYTES) {
        c.data = a.value.bytes.data;
        c.size = a.value.bytes.size;
      } else if (size_t width = ScalarWidth(a.kind); width != 0) {
        c.data = &a.value;
        c.size = width;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("argument ", i, " has unknown kind ", a.kind));
      }
    }
    return Impl<StreamImpl>(s)->Launch(*Impl<KernelImpl>(k), *config, converted);
  });
}
AccelError* StreamRecordEvent(AccelStream* s, AccelEvent* e) {
  return Guard([&] { return Impl<StreamImpl>(s)->RecordEvent(*Impl<EventImpl>(e)); });
}
AccelError* StreamWaitEvent(AccelStream* s, AccelEvent* e) {
  return Guard([&] { return Impl<StreamImpl>(s)->WaitEvent(*Impl<EventImpl>(e)); });
}
AccelError* StreamSynchronize(AccelStream* s) {
  return Guard([&] { return Impl<StreamImpl>(s)->Synchronize(); });
}

AccelError* EventCreate(AccelDevice* d, AccelEvent** out) {
  return Guard([&] { return Emit(Impl<DeviceImpl>(d)->CreateEvent(), out); });
}
void EventDestroy(AccelEvent* e) { delete Impl<EventImpl>(e); }
AccelError* EventSynchronize(AccelEvent* e) {
  return Guard([&] { return Impl<EventImpl>(e)->Synchronize(); });
}
AccelError* EventQuery(AccelEvent* e, int32_t* complete) {
  return Guard([&]() -> absl::Status {
    auto done = Impl<EventImpl>(e)->IsComplete();
    if (!done.ok()) return done.status();
    *complete = *done ? 1 : 0;
    return absl::OkStatus();
  });
}
AccelError* EventElapsedMs(AccelEvent* start, AccelEvent* end, float* ms) {
  return Guard([&]() -> absl::Status {
    auto elapsed = Impl<EventImpl>(end)->ElapsedMillisecondsSince(*Impl<EventImpl>(start));
    if (!elapsed.ok()) return elapsed.status();
    *ms = *elapsed;
    return absl::OkStatus();
  });
}

AccelError* ModuleLoad(AccelDevice* d, int32_t format, const void* image, uint64_t size,
                       AccelModule** out) {
  return Guard([&] {
    if (!IsKnownImageFormat(format)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown image format ", format));
    }
    absl::string_view bytes(static_cast<const char*>(image), size);
    return Emit(Impl<DeviceImpl>(d)->LoadModule(static_cast<AccelImageFormat>(format), bytes), out);
  });
}
void ModuleDestroy(AccelModule* m) { delete Impl<ModuleImpl>(m); }
AccelError* ModuleGetKernel(AccelModule* m, const char* name, AccelKernel** out,
                            const char** signature) {
  return Guard([&]() -> absl::Status {
    auto kernel = Impl<ModuleImpl>(m)->GetKernel(name);
    if (!kernel.ok()) return kernel.status();
    *out = Handle<AccelKernel>(*kernel);
    if (signature != nullptr) {
      const std::string& sig = (*kernel)->signature();
      *signature = sig.empty() ? nullptr : sig.c_str();
    }
    return absl::OkStatus();
  });
}

AccelError* ModuleGetGlobal(AccelModule* m, const char* name, AccelBuffer** out, uint64_t* size) {
  return Guard([&]() -> absl::Status {
    absl::StatusOr<ModuleGlobal> global = Impl<ModuleImpl>(m)->GetGlobal(name);
    if (!global.ok()) return global.status();
    *size = global->size;
    *out = Handle<AccelBuffer>(global->buffer.release());
    return absl::OkStatus();
  });
}

AccelError* KernelParameters(AccelKernel* k, AccelKernelParameter* out, uint32_t capacity,
                             uint32_t* count) {
  return Guard([&]() -> absl::Status {
    absl::StatusOr<std::vector<AccelKernelParameter>> params = Impl<KernelImpl>(k)->Parameters();
    if (!params.ok()) return params.status();
    *count = static_cast<uint32_t>(params->size());
    std::copy_n(params->begin(), std::min<size_t>(capacity, params->size()), out);
    return absl::OkStatus();
  });
}

AccelError* QueryKernel(AccelKernel* k, const AccelKernelQuery* query, int64_t* out) {
  return Guard([&]() -> absl::Status {
    if (query == nullptr || out == nullptr || query->struct_size < sizeof(AccelKernelQuery)) {
      return absl::InvalidArgumentError("kernel_query: no query, no answer, or an older query");
    }
    absl::StatusOr<int64_t> answer = Impl<KernelImpl>(k)->Query(*query);
    if (!answer.ok()) return answer.status();
    *out = *answer;
    return absl::OkStatus();
  });
}

}  // namespace

namespace {
constexpr char kStreamFailurePayload[] = "accel.plugin/stream-failure";
}  // namespace

absl::Status StreamFailure(absl::Status status) {
  if (!status.ok()) status.SetPayload(kStreamFailurePayload, absl::Cord());
  return status;
}

bool IsStreamFailure(const absl::Status& status) {
  return status.GetPayload(kStreamFailurePayload).has_value();
}

const AccelBackendApi* ExportBackend(const char* name, BackendFactory factory,
                                     uint32_t hal_abi_major) {
  if (hal_abi_major != ACCEL_PLUGIN_ABI_MAJOR) return nullptr;
  exported().name = name;
  exported().factory = factory;
  static const AccelBackendApi api = [name] {
    AccelBackendApi t{};
    t.struct_size = sizeof(AccelBackendApi);
    t.abi_major = ACCEL_PLUGIN_ABI_MAJOR;
    t.abi_minor = ACCEL_PLUGIN_ABI_MINOR;
    t.name = name;
    t.error_code = ErrorCode;
    t.error_message = ErrorMessage;
    t.error_destroy = ErrorDestroy;
    t.backend_open = BackendOpen;
    t.backend_close = BackendClose;
    t.backend_unavailable_reason = BackendUnavailableReason;
    t.backend_device_count = BackendDeviceCount;
    t.backend_get_device = BackendGetDevice;
    t.device_properties = DeviceProperties;
    t.device_memory_info = DeviceMemoryInfo;
    t.device_image_score = DeviceImageScore;
    t.buffer_allocate = BufferAllocate;
    t.buffer_free = BufferFree;
    t.stream_create = StreamCreate;
    t.stream_destroy = StreamDestroy;
    t.stream_copy_host_to_device = StreamCopyH2D;
    t.stream_copy_device_to_host = StreamCopyD2H;
    t.stream_copy_device_to_device = StreamCopyD2D;
    t.stream_fill = StreamFill;
    t.stream_launch = StreamLaunch;
    t.stream_record_event = StreamRecordEvent;
    t.stream_wait_event = StreamWaitEvent;
    t.stream_synchronize = StreamSynchronize;
    t.event_create = EventCreate;
    t.event_destroy = EventDestroy;
    t.event_synchronize = EventSynchronize;
    t.event_query = EventQuery;
    t.event_elapsed_ms = EventElapsedMs;
    t.module_load = ModuleLoad;
    t.module_destroy = ModuleDestroy;
    t.module_get_kernel = ModuleGetKernel;
    t.error_is_stream_failure = ErrorIsStreamFailure;
    t.buffer_map_host = BufferMapHost;
    t.device_native_attributes = DeviceNativeAttributes;
    t.buffer_device_address = BufferDeviceAddress;
    t.module_get_global = ModuleGetGlobal;
    t.kernel_parameters = KernelParameters;
    t.kernel_query = QueryKernel;
    return t;
  }();
  return &api;
}

void CopyProperty(absl::string_view value, char* field, size_t field_size) {
  if (field_size == 0) return;
  size_t n = std::min(value.size(), field_size - 1);
  std::memcpy(field, value.data(), n);
  field[n] = '\0';
}

}  // namespace accel::hal::plugin
