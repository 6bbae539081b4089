// A client process for fault tests: leases one device, allocates memory,
// prints "ready <lease id>", then holds the lease until killed (or 180 s).
//   lease_holder POOL TTL_SECONDS BYTES [HOLDER]
// HOLDER is what the lease says holds it (default "lease_holder"): any
// text, as a hostile client's may be.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "accel/client/lease.h"

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) return 2;
  accel::client::LeaseRequest request;
  request.ttl_seconds = static_cast<uint32_t>(std::atoi(argv[2]));
  request.holder = argc == 5 ? argv[4] : "lease_holder";
  auto lease = accel::client::AcquireLease(argv[1], request);
  if (!lease.ok()) {
    std::fprintf(stderr, "lease: %s\n", lease.status().ToString().c_str());
    return 1;
  }
  const accel::hal::Device& device = (*lease)->devices().at(0);
  auto buffer = device.Allocate(std::strtoull(argv[3], nullptr, 10));
  if (!buffer.ok() || !device.Fill(*buffer, "\x5a", 1).ok()) return 1;
  std::printf("ready %s\n", (*lease)->id().c_str());
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(180));
  return 0;
}
