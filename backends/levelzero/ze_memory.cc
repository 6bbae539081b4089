#include "ze_memory.h"

namespace accel::levelzero {

ZeAllocation::~ZeAllocation() {
  if (owner_ != nullptr) return;
  // Every command that used this memory has completed (or the device is
  // lost): the streams drop their references only then. zeMemFree can only
  // fail for a bad handle or a lost device; there is nobody to report it to
  // from a destructor, and the bytes are gone either way, so the accounting
  // is released regardless.
  api_->zeMemFree(context_, ptr_);
  in_use_->fetch_sub(size_);
}

}  // namespace accel::levelzero
