#include "pool/node/node_service.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "pool/common/session_metadata.h"
#include "pool/common/status_convert.h"
#include "pool/common/version.h"

namespace accel::pool {
namespace {

// The gRPC side of a session. Writes from the session's threads are
// serialised; once the handler returns, the stream and context are gone and
// every call here becomes a no-op.
class GrpcSessionLink : public SessionLink {
 public:
  GrpcSessionLink(grpc::ServerContext* context,
                  grpc::ServerReaderWriter<v1::SessionResponse, v1::SessionRequest>* stream)
      : context_(context), stream_(stream) {}

  void Send(const v1::SessionResponse& response) override {
    absl::MutexLock lock(&write_mu_);
    Write(response);
  }
  void TrySend(const v1::SessionResponse& response) override {
    if (!write_mu_.TryLock()) return;  // a write is in progress, perhaps blocked
    Write(response);
    write_mu_.Unlock();
  }
  void Cut() override {
    absl::MutexLock lock(&context_mu_);
    if (context_ != nullptr) context_->TryCancel();
  }
  // The handler is returning.
  void Detach() {
    {
      absl::MutexLock lock(&context_mu_);
      context_ = nullptr;
    }
    absl::MutexLock lock(&write_mu_);
    stream_ = nullptr;
  }

 private:
  void Write(const v1::SessionResponse& response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    if (stream_ != nullptr && !stream_->Write(response)) stream_ = nullptr;
  }

  absl::Mutex context_mu_;
  grpc::ServerContext* context_ ABSL_GUARDED_BY(context_mu_);
  absl::Mutex write_mu_;
  grpc::ServerReaderWriter<v1::SessionResponse, v1::SessionRequest>* stream_
      ABSL_GUARDED_BY(write_mu_);
};

}  // namespace

grpc::Status NodeService::Session(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::SessionResponse, v1::SessionRequest>* stream) {
  // Authenticated from the call's metadata before any message is read: a
  // caller without a live lease's token is answered at once, and nothing it
  // sends is ever parsed.
  absl::StatusOr<SessionCredentials> credentials = ReadSessionCredentials(*context);
  if (!credentials.ok()) return ToGrpc(credentials.status());
  auto link = std::make_shared<GrpcSessionLink>(context, stream);
  absl::StatusOr<std::shared_ptr<SessionProcess>> session =
      agent_.Open(credentials->lease_id, credentials->token, link);
  if (!session.ok()) {
    link->Detach();
    return ToGrpc(session.status());
  }

  v1::SessionResponse hello;
  hello.set_server_major(kProtocolMajor);
  hello.set_server_minor(kProtocolMinor);
  if (!(*session)->bulk_key().empty()) {
    hello.set_bulk_port(agent_.bulk_port());
    hello.set_bulk_key((*session)->bulk_key());
  }
  agent_.AddNativeAttributes((*session)->lease(), hello);
  link->Send(hello);

  v1::SessionRequest request;
  while (stream->Read(&request)) {
    (*session)->Execute(request);
    request.Clear();
  }

  // The client is gone (closed, killed or cut off), the lease ended or the
  // worker died: the worker is reaped here, which frees all it held.
  agent_.Close(*std::move(session));
  link->Detach();
  return grpc::Status::OK;
}

}  // namespace accel::pool
