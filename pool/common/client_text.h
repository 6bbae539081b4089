// Text a client sent, as it may appear in an error message, a log line or a
// gRPC trailer: any value a client sends may be the worst one (64 MB of
// terminal escape codes), so it is cut to a few dozen characters and
// escaped before it is echoed back or shown to anyone.
#ifndef ACCEL_POOL_COMMON_CLIENT_TEXT_H_
#define ACCEL_POOL_COMMON_CLIENT_TEXT_H_

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace accel::pool {

inline std::string ClientText(absl::string_view text) {
  constexpr size_t kShown = 64;
  if (text.size() <= kShown) return absl::CHexEscape(text);
  return absl::StrCat(absl::CHexEscape(text.substr(0, kShown)), "... (", text.size(), " bytes)");
}

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_CLIENT_TEXT_H_
