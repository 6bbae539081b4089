// What each backend cannot do the way the HAL specifies, with the reason, in
// one place per backend (as IREE's CTS does), instead of `if`s in tests.
// Keys are "Suite.Test" without the backend parameter.
#include <map>
#include <string>

#include "tests/conformance/fixture.h"

namespace accel::conformance {
namespace {

using Exceptions = std::map<std::string, std::string>;

const std::map<std::string, Exceptions>& AllExceptions() {
  static const auto* const kExceptions = new std::map<std::string, Exceptions>{
      // The reference backend implements the whole contract.
      {"host", {}},
      // Vendor backends list theirs as they are brought up on hardware.
      {"cuda", {}},
      {"rocm", {}},
      {"levelzero", {}},
  };
  return *kExceptions;
}

}  // namespace

std::optional<std::string> UnsupportedReason(const std::string& backend, const std::string& test) {
  auto b = AllExceptions().find(backend);
  if (b == AllExceptions().end()) return std::nullopt;
  auto t = b->second.find(test);
  if (t == b->second.end()) return std::nullopt;
  return t->second;
}

}  // namespace accel::conformance
