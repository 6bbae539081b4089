// libaccel_backend_remote.so: the remote backend as a plugin, so an
// unmodified HAL program leases from the pool named by ACCEL_POOL.
#include "clients/remote/remote_backend.h"

extern "C" __attribute__((visibility("default"))) const AccelBackendApi* accel_backend_get_api(
    uint32_t hal_abi_major, uint32_t /*hal_abi_minor*/) {
  return accel::client::RemoteBackendApi(hal_abi_major);
}
