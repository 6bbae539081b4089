// The coordinator's web dashboard (poold --http_listen): an HTTP server
// (civetweb) serving the embedded page, which signs in with the operator's
// token and reads GET /api/pool (a DashboardState as JSON) every 2 s.
//
// The page itself holds no data; every answer that does needs
// "Authorization: Bearer <operator token>". No cookie is set, so no other
// site can make a browser call the API with an operator's credentials. A
// strict Content-Security-Policy allows only the page's own script and
// style sheet, and the script builds the page with textContent only: a
// hostile holder or label shows as text.
#ifndef ACCEL_POOL_COORDINATOR_DASHBOARD_DASHBOARD_SERVER_H_
#define ACCEL_POOL_COORDINATOR_DASHBOARD_DASHBOARD_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "pool/coordinator/dashboard/pool_history.h"
#include "pool/coordinator/leadership.h"

struct mg_context;
struct mg_connection;

namespace accel::pool {

class DashboardServer {
 public:
  struct Options {
    std::string listen;                 // HOST:PORT, port 0 for a free one
    std::string operator_token_sha256;  // hex; required
    uint32_t lease_limit = 500;         // live and queued leases shown, each
  };
  static absl::StatusOr<std::unique_ptr<DashboardServer>> Start(Options options,
                                                                Leadership& leadership,
                                                                const PoolHistory& history);
  ~DashboardServer();  // waits for the requests in flight
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  int port() const { return port_; }

 private:
  DashboardServer(Options options, Leadership& leadership, const PoolHistory& history)
      : options_(std::move(options)), leadership_(leadership), history_(history) {}
  static int HandleRequest(mg_connection* connection, void* self);
  int Handle(mg_connection* connection);
  int ServePool(mg_connection* connection);

  const Options options_;
  Leadership& leadership_;
  const PoolHistory& history_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_DASHBOARD_DASHBOARD_SERVER_H_
