// Options for a poold in a test's own process: on a free 127.0.0.1 port,
// serving `devices` host devices of 64 MiB, with no admin socket (tests run
// side by side, and the default socket's path is per port of a real host).
#ifndef ACCEL_TESTS_POOLD_LOOPBACK_POOLD_H_
#define ACCEL_TESTS_POOLD_LOOPBACK_POOLD_H_

#include <string>

#include "pool/poold/poold.h"

namespace accel::testing {

inline pool::PooldOptions LoopbackPoold(const std::string& node_name, int devices) {
  pool::PooldOptions options;
  options.listen = "127.0.0.1:0";
  options.backends = "host";
  options.host_devices = devices;
  options.host_device_memory = "64MiB";
  options.admin_socket = "none";
  options.node_name = node_name;
  return options;
}

}  // namespace accel::testing

#endif  // ACCEL_TESTS_POOLD_LOOPBACK_POOLD_H_
