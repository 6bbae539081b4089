#include "pool/node/node_service.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "pool/common/status_convert.h"
#include "pool/common/version.h"

namespace accel::pool {
namespace {

// Serialises writes from the session's threads and stops them once the
// handler returns (the gRPC stream is gone then).
class Writer {
 public:
  explicit Writer(grpc::ServerReaderWriter<v1::SessionResponse, v1::SessionRequest>* stream)
      : stream_(stream) {}
  void Write(const v1::SessionResponse& response) {
    absl::MutexLock lock(&mu_);
    if (stream_ != nullptr && !stream_->Write(response)) stream_ = nullptr;
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
  }

 private:
  absl::Mutex mu_;
  grpc::ServerReaderWriter<v1::SessionResponse, v1::SessionRequest>* stream_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::Status NodeService::Session(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::SessionResponse, v1::SessionRequest>* stream) {
  v1::SessionRequest request;
  if (!stream->Read(&request)) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "session closed before it began");
  }
  if (request.client_major() != kProtocolMajor) {
    return ToGrpc(absl::FailedPreconditionError(
        absl::StrCat("client speaks protocol ", request.client_major(), ".x; this node speaks ",
                     kProtocolMajor, ".", kProtocolMinor)));
  }
  auto writer = std::make_shared<Writer>(stream);
  absl::StatusOr<std::shared_ptr<pool::Session>> session = agent_.Open(
      request.lease_id(), request.token(),
      [writer](const v1::SessionResponse& r) { writer->Write(r); },
      [context] { context->TryCancel(); });
  if (!session.ok()) return ToGrpc(session.status());

  v1::SessionResponse hello;
  hello.set_server_major(kProtocolMajor);
  hello.set_server_minor(kProtocolMinor);
  writer->Write(hello);

  do {
    for (v1::Command& command : *request.mutable_commands()) (*session)->Execute(command);
    request.Clear();
  } while (stream->Read(&request));

  // The client is gone (closed, killed or cut off) or the lease ended:
  // everything the session holds is freed here.
  agent_.Close(*session);
  session->reset();
  writer->Close();
  return grpc::Status::OK;
}

}  // namespace accel::pool
