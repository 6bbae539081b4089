// Module images a node has received, by SHA-256, so a client uploads each
// image once per node. Shared by all tenants: the key is the digest the node
// computed itself, never one a client claims.
#ifndef ACCEL_POOL_WORKER_MODULE_CACHE_H_
#define ACCEL_POOL_WORKER_MODULE_CACHE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"

namespace accel::pool {

class ModuleCache {
 public:
  explicit ModuleCache(uint64_t capacity_bytes) : capacity_(capacity_bytes) {}

  // Stores the image; returns its digest.
  std::string Put(std::string image);
  // The image with that digest, or null.
  std::shared_ptr<const std::string> Get(const std::string& sha256);

 private:
  const uint64_t capacity_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const std::string>> images_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);  // oldest first
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_WORKER_MODULE_CACHE_H_
