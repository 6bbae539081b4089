// Module images a session has sent, by SHA-256, so that its client uploads
// each image once per session. It lives in the session's worker, so no other
// session (and no other tenant) can load an image by its digest or learn that
// it was sent. The key is the digest the worker computed itself, never one a
// client claims.
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
