// Leases one device of the pool at $ACCEL_POOL through an installed
// accelpool, round-trips data through its memory, and releases it.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "accel/client/lease.h"
#include "accel/hal/hal.h"

int main() {
  namespace hal = accel::hal;
  const char* pool = std::getenv("ACCEL_POOL");
  if (pool == nullptr) {
    std::fprintf(stderr, "lease_consumer: set ACCEL_POOL\n");
    return 2;
  }
  accel::client::LeaseRequest request;
  request.holder = "install test";
  absl::StatusOr<std::unique_ptr<accel::client::Lease>> lease =
      accel::client::AcquireLease(pool, request);
  if (!lease.ok()) {
    std::fprintf(stderr, "lease_consumer: %s\n", lease.status().ToString().c_str());
    return 1;
  }
  hal::Device device = (*lease)->devices().at(0);
  std::vector<int> sent(1 << 16), back(sent.size());
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<int>(i * 7);
  absl::StatusOr<hal::Buffer> buffer = device.Allocate(sent.size() * sizeof(int));
  absl::StatusOr<hal::Stream> stream = device.CreateStream();
  absl::Status s = buffer.ok() ? stream.status() : buffer.status();
  if (s.ok()) s = stream->CopyToDevice(hal::AsBytes(absl::MakeConstSpan(sent)), *buffer);
  if (s.ok()) s = stream->CopyToHost(*buffer, hal::AsWritableBytes(absl::MakeSpan(back)));
  if (s.ok()) s = stream->Synchronize();
  if (s.ok() && back != sent) s = absl::DataLossError("the data came back changed");
  if (s.ok()) s = (*lease)->Release();
  if (!s.ok()) {
    std::fprintf(stderr, "lease_consumer: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("lease_consumer: leased %s as lease %s, 256 KiB round-tripped\n", device.id().c_str(),
              (*lease)->id().c_str());
  return 0;
}
