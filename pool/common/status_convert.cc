#include "pool/common/status_convert.h"

#include "absl/strings/str_cat.h"

namespace accel::pool {
namespace {
absl::StatusCode ValidCode(int code) {
  if (code < 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::StatusCode::kUnknown;
  }
  return static_cast<absl::StatusCode>(code);
}
}  // namespace

void ToProto(const absl::Status& status, v1::Status* out) {
  out->set_code(static_cast<int32_t>(status.code()));
  out->set_message(std::string(status.message()));
}

absl::Status FromProto(const v1::Status& status) {
  return absl::Status(ValidCode(status.code()), status.message());
}

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpc(const grpc::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message = absl::StrCat("pool unreachable: ", message);
  }
  return absl::Status(ValidCode(status.error_code()), absl::StrCat(what, ": ", message));
}

}  // namespace accel::pool
