#include "pool/coordinator/dashboard/dashboard_server.h"

#include <civetweb.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include "absl/strings/string_view.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pool/common/bearer_token.h"
#include "pool/common/bulk_socket.h"
#include "pool/common/random_token.h"
#include "pool/coordinator/dashboard/dashboard_assets.h"
#include "pool/coordinator/dashboard/dashboard_state.h"
#include "pool/coordinator/tenant_registry.h"

namespace accel::pool {
namespace {

// Only the page's own files; no frames, no plugins, no form posts.
constexpr char kSecurityHeaders[] =
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Cross-Origin-Resource-Policy: same-origin\r\n";

int Respond(mg_connection* connection, int code, absl::string_view content_type,
            absl::string_view body, bool cacheable = false) {
  const mg_request_info* request = mg_get_request_info(connection);
  const std::string head = absl::StrCat(
      "HTTP/1.1 ", code, " ", mg_get_response_code_text(connection, code), "\r\n",
      "Content-Type: ", content_type, "\r\n",
      code == 204 ? "" : absl::StrCat("Content-Length: ", body.size(), "\r\n"),
      "Cache-Control: ", cacheable ? "max-age=60" : "no-store", "\r\n", kSecurityHeaders,
      code == 401 ? "WWW-Authenticate: Bearer realm=\"accelpool dashboard\"\r\n" : "",
      code == 405 ? "Allow: GET, HEAD\r\n" : "", "\r\n");
  mg_write(connection, head.data(), head.size());
  if (std::strcmp(request->request_method, "HEAD") != 0) {
    mg_write(connection, body.data(), body.size());
  }
  return code;
}

int RespondError(mg_connection* connection, int code, absl::string_view message) {
  google::protobuf::Value text;
  text.set_string_value(std::string(message));
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(text, &json);  // a string always converts
  return Respond(connection, code, "application/json", absl::StrCat("{\"error\":", json, "}"));
}

// Opens and closes a connection to `address`, whatever comes of it.
void Knock(const addrinfo& address) {
  if (const int fd = socket(address.ai_family, SOCK_STREAM, 0); fd >= 0) {
    (void)connect(fd, address.ai_addr, address.ai_addrlen);  // only to wake the listener
    close(fd);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<DashboardServer>> DashboardServer::Start(
    Options options, Leadership& leadership, const PoolHistory& history) {
  if (options.operator_token_sha256.empty()) {
    return absl::InvalidArgumentError("the dashboard needs the operator's token");
  }
  std::unique_ptr<DashboardServer> server(
      new DashboardServer(std::move(options), leadership, history));
  // A dashboard has few viewers and each answer is quick; a client that
  // sends nothing holds a thread for 3 s at most. civetweb's own CORS
  // answers are off: no other origin is allowed anything.
  const char* config[] = {"listening_ports",
                          server->options_.listen.c_str(),
                          "num_threads",
                          "8",
                          "request_timeout_ms",
                          "3000",
                          "enable_directory_listing",
                          "no",
                          "access_control_allow_origin",
                          "",
                          "access_control_allow_methods",
                          "",
                          "access_control_allow_headers",
                          "",
                          nullptr};
  mg_callbacks callbacks{};
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.configuration_options = config;
  char error_text[256] = {};
  unsigned error_code = 0;
  mg_error_data error{&error_code, error_text, sizeof(error_text)};
  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve the dashboard on ", server->options_.listen, ": ",
                     error_text[0] != '\0' ? error_text : "civetweb did not start"));
  }
  mg_set_request_handler(server->context_, "/", &DashboardServer::HandleRequest, server.get());
  mg_server_port ports[1] = {};
  if (mg_get_server_ports(server->context_, 1, ports) < 1) {
    return absl::InternalError("the dashboard's server reports no port");
  }
  server->port_ = ports[0].port;
  return server;
}

DashboardServer::~DashboardServer() {
  if (context_ == nullptr) return;
  // civetweb's listener looks at its stop flag between polls of up to 2 s;
  // a connection ends the poll, so poold's shutdown does not wait that out.
  std::atomic<bool> stopped{false};
  std::thread stopper([this, &stopped] {
    mg_stop(context_);
    stopped = true;
  });
  std::string host = HostOfAddress(options_.listen);
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;  // the address it listens on; no lookup
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port_).c_str(), &hints, &found) == 0) {
    for (int i = 0; i < 40 && !stopped; ++i) {  // 2 s at most, as without
      Knock(*found);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    freeaddrinfo(found);
  }
  stopper.join();
}

int DashboardServer::HandleRequest(mg_connection* connection, void* self) {
  return static_cast<DashboardServer*>(self)->Handle(connection);
}

int DashboardServer::Handle(mg_connection* connection) {
  const mg_request_info* request = mg_get_request_info(connection);
  const absl::string_view method = request->request_method;
  if (method != "GET" && method != "HEAD") {
    return RespondError(connection, 405, "the dashboard only reads: GET or HEAD");
  }
  absl::string_view path = request->local_uri != nullptr ? request->local_uri : "/";
  if (path == "/api/pool") return ServePool(connection);
  // Browsers ask for an icon by themselves; the page has none.
  if (path == "/favicon.ico") return Respond(connection, 204, "image/x-icon", "", true);
  if (path == "/") path = "/index.html";
  for (const dashboard::EmbeddedFile& file : dashboard::EmbeddedFiles()) {
    if (file.path == path) return Respond(connection, 200, file.content_type, file.body, true);
  }
  return RespondError(connection, 404, "no such page");
}

int DashboardServer::ServePool(mg_connection* connection) {
  const char* authorization = mg_get_header(connection, "Authorization");
  const std::string token = authorization == nullptr ? "" : BearerTokenOf(authorization);
  if (token.empty() ||
      !SecretsEqual(TenantRegistry::HashToken(token), options_.operator_token_sha256)) {
    // Who tried, never what they presented.
    if (absl::StatusOr<std::shared_ptr<Coordinator>> leading = leadership_.Current();
        leading.ok() && !token.empty()) {
      const mg_request_info* request = mg_get_request_info(connection);
      (*leading)->Audit("auth_failed", {{"peer", absl::StrCat("dashboard ", request->remote_addr)},
                                        {"why", "not the operator's token"}});
    }
    return RespondError(
        connection, 401,
        token.empty() ? "sign in with the operator's token" : "that is not the operator's token");
  }
  const v1::DashboardState state = ReadDashboardState(leadership_, history_, options_.lease_limit);
  google::protobuf::util::JsonPrintOptions json_options;
  json_options.preserve_proto_field_names = true;
  json_options.always_print_primitive_fields = true;
  std::string json;
  if (const auto s = google::protobuf::util::MessageToJsonString(state, &json, json_options);
      !s.ok()) {
    return RespondError(connection, 500,
                        absl::StrCat("cannot write the pool as JSON: ", s.ToString()));
  }
  return Respond(connection, 200, "application/json", json);
}

}  // namespace accel::pool
