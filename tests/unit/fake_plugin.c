/* Deliberately broken backend plugins for the loader's tests, one per
 * FAKE_MODE: 1 speaks ABI major 99, 2 returns no table, 3 has a table too
 * short to hold the required functions, 4 exports no entry point. */
#include <string.h>

#include "accel/hal/plugin_abi.h"

#if FAKE_MODE != 4
static AccelBackendApi api;

__attribute__((visibility("default"))) const AccelBackendApi* accel_backend_get_api(
    uint32_t major, uint32_t minor) {
  (void)major;
  (void)minor;
  memset(&api, 0, sizeof(api));
  api.struct_size = sizeof(api);
  api.abi_major = ACCEL_PLUGIN_ABI_MAJOR;
#if FAKE_MODE == 1
  api.abi_major = 99;
#elif FAKE_MODE == 2
  return NULL;
#elif FAKE_MODE == 3
  api.struct_size = offsetof(AccelBackendApi, error_code);
#endif
  return &api;
}
#else
__attribute__((visibility("default"))) int not_a_backend(void) { return 0; }
#endif
