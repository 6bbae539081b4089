// gRPC transport settings shared by poold and clients: bulk copies need
// large messages and large flow-control windows to get near the link's
// bandwidth; defaults (4 MiB messages, 64 KiB windows, 16 KiB frames) are
// tuned for small RPCs.
#ifndef ACCEL_POOL_COMMON_TRANSPORT_H_
#define ACCEL_POOL_COMMON_TRANSPORT_H_

#include <grpcpp/grpcpp.h>

#include "pool/common/version.h"

namespace accel::pool {

// Calls set_int(key, value) for each setting.
template <typename SetInt>
void ForEachBulkTransferSetting(SetInt&& set_int) {
  set_int(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, kMaxMessageBytes);
  set_int(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, kMaxMessageBytes);
  set_int(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 20);
  set_int(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, (16 << 20) - 1);
  set_int(GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE, 8 << 20);
}

inline void ApplyBulkTransferSettings(grpc::ChannelArguments& args) {
  ForEachBulkTransferSetting([&](const char* key, int value) { args.SetInt(key, value); });
}

inline void ApplyBulkTransferSettings(grpc::ServerBuilder& builder) {
  ForEachBulkTransferSetting(
      [&](const char* key, int value) { builder.AddChannelArgument(key, value); });
}

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_TRANSPORT_H_
