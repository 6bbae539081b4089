#include "pool/worker/module_cache.h"

#include "pool/common/sha256.h"

namespace accel::pool {

std::string ModuleCache::Put(std::string image) {
  std::string digest = Sha256(image);
  absl::MutexLock lock(&mu_);
  if (images_.count(digest) != 0) return digest;
  bytes_ += image.size();
  images_[digest] = std::make_shared<const std::string>(std::move(image));
  order_.push_back(digest);
  // Evict the oldest images beyond capacity; modules already loaded keep
  // their own copy inside the backend.
  while (bytes_ > capacity_ && order_.size() > 1) {
    auto it = images_.find(order_.front());
    bytes_ -= it->second->size();
    images_.erase(it);
    order_.pop_front();
  }
  return digest;
}

std::shared_ptr<const std::string> ModuleCache::Get(const std::string& sha256) {
  absl::MutexLock lock(&mu_);
  auto it = images_.find(sha256);
  return it == images_.end() ? nullptr : it->second;
}

}  // namespace accel::pool
