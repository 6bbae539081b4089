// poold's flags: where it serves, in either role.
// Grouped in files so that poold --help lists them by role.
#include "pool/poold/flags.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7070",
          "address to serve on; port 0 picks a free port (printed at start)");
ABSL_FLAG(std::string, advertise_address, "",
          "node mode: the address clients reach this node at (default: the listen address)");
ABSL_FLAG(bool, bulk_channel, true,
          "offer sessions a bulk channel: a TCP port on the listen host that carries large "
          "copies beside gRPC, at close to raw TCP (or TLS) speed; under TLS it is TLS too");
ABSL_FLAG(int32_t, bulk_port, 0,
          "the bulk channel's port on the listen host (default: any free one); a fixed one "
          "for firewalls");
ABSL_FLAG(std::string, metrics_listen, "",
          "coordinator: serve Prometheus metrics at http://ADDRESS/metrics (e.g. "
          "127.0.0.1:9464; port 0 picks a free one); empty: no metrics endpoint");
ABSL_FLAG(double, handshake_seconds, 10,
          "a connection that has not finished its handshake (TLS, HTTP/2 preface) this long "
          "after it opened is closed");
