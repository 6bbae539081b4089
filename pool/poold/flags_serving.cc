// poold's flags: where it serves, in either role.
// Grouped in files so that poold --help lists them by role.
#include "pool/poold/flags.h"
#include "pool/poold/poold.h"

ABSL_FLAG(std::string, listen, accel::pool::PooldOptions().listen,
          "address to serve on; port 0 picks a free port (printed at start)");
ABSL_FLAG(std::string, advertise_address, accel::pool::PooldOptions().advertise_address,
          "node mode: the address clients reach this node at (default: the listen address)");
ABSL_FLAG(bool, bulk_channel, accel::pool::PooldOptions().bulk_channel,
          "offer sessions a bulk channel: a TCP port on the listen host that carries large "
          "copies beside gRPC, at close to raw TCP (or TLS) speed; under TLS it is TLS too");
ABSL_FLAG(int32_t, bulk_port, accel::pool::PooldOptions().bulk_port,
          "the bulk channel's port on the listen host (default: any free one); a fixed one "
          "for firewalls");
ABSL_FLAG(std::string, metrics_listen, accel::pool::PooldOptions().metrics_listen,
          "coordinator: serve Prometheus metrics at http://ADDRESS/metrics (e.g. "
          "127.0.0.1:9464; port 0 picks a free one); empty: no metrics endpoint");
ABSL_FLAG(std::string, http_listen, accel::pool::PooldOptions().http_listen,
          "coordinator: serve the web dashboard at http://ADDRESS/ (e.g. 127.0.0.1:8080; port "
          "0 picks a free one): nodes, devices, leases, the queue, tenants and the last "
          "hour's charts. It asks for the operator's token (--operator_token_file)");
ABSL_FLAG(double, handshake_seconds, accel::pool::PooldOptions().handshake_seconds,
          "a connection that has not finished its handshake (TLS, HTTP/2 preface) this long "
          "after it opened is closed");
