// poold's flags: who may do what, and the secrets and certificates that
// prove it (TLS, tokens, the admin socket, the audit trail, etcd's access).
// Grouped in files so that poold --help lists them by role.
#include "pool/poold/flags.h"
#include "pool/poold/poold.h"

ABSL_FLAG(std::string, join_token_file, accel::pool::PooldOptions().join_token_file,
          "file holding the pool's join secret: a coordinator admits only nodes presenting it "
          "(without it, only nodes on its own host); a node presents it");
ABSL_FLAG(std::string, node_tokens, accel::pool::PooldOptions().node_tokens,
          "coordinator: node token file ('node NAME token_sha256=HEX' a line): each listed "
          "node joins only with its own token (its --join_token_file), not the shared one");
ABSL_FLAG(std::string, tls_cert, accel::pool::PooldOptions().tls_cert,
          "PEM certificate chain poold presents; with --tls_key, every gRPC link is TLS "
          "(clients, nodes, poolctl) and a node presents it to its coordinator. Renewed "
          "files are picked up within a second, without dropping sessions");
ABSL_FLAG(std::string, tls_key, accel::pool::PooldOptions().tls_key,
          "the private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, accel::pool::PooldOptions().tls_client_ca,
          "PEM CA whose client certificates poold requests and verifies. A coordinator with it "
          "admits a node only with a certificate naming that node");
ABSL_FLAG(std::string, coordinator_tls_ca, accel::pool::PooldOptions().coordinator_tls_ca,
          "node mode: the PEM CA that signed the coordinator's certificate (default: "
          "--tls_client_ca)");
ABSL_FLAG(std::string, operator_token_file, accel::pool::PooldOptions().operator_token_file,
          "coordinator: file holding the operator's token, which makes a TCP caller an "
          "operator; no caller is one for the address it calls from");
ABSL_FLAG(std::string, operator_cn, accel::pool::PooldOptions().operator_cn,
          "coordinator: comma-separated common names of client certificates (verified "
          "against --tls_client_ca) whose holders are operators");
ABSL_FLAG(std::string, admin_socket, accel::pool::PooldOptions().admin_socket,
          "coordinator: Unix socket for operator calls from this host, whose callers the "
          "kernel names (root, poold's user, --admin_group); default "
          "/run/accelpool/admin-PORT.sock (poolctl looks there); 'none': no admin socket");
ABSL_FLAG(std::string, metrics_password_file, accel::pool::PooldOptions().metrics_password_file,
          "coordinator: file holding a password the metrics endpoint requires (HTTP basic "
          "auth, any user name): its per-tenant figures are not for everyone who can reach "
          "the port");
ABSL_FLAG(std::string, audit_log, accel::pool::PooldOptions().audit_log,
          "coordinator: append-only audit trail (JSON lines, each chained to the one before "
          "by SHA-256) of leases, refusals, ends, operator actions, tenant changes, node joins "
          "and losses, and failed authentications; check it with 'poolctl audit verify FILE'");
ABSL_FLAG(std::string, admin_group, accel::pool::PooldOptions().admin_group,
          "coordinator: a group whose members may use the admin socket too");
ABSL_FLAG(std::string, etcd_tls_ca, accel::pool::PooldOptions().etcd_tls_ca,
          "coordinator: PEM CA of etcd's certificates (TLS to etcd)");
ABSL_FLAG(std::string, etcd_tls_cert, accel::pool::PooldOptions().etcd_tls_cert,
          "coordinator: PEM client certificate presented to etcd (its --client-cert-auth)");
ABSL_FLAG(std::string, etcd_tls_key, accel::pool::PooldOptions().etcd_tls_key,
          "coordinator: the private key of --etcd_tls_cert");
ABSL_FLAG(std::string, etcd_user, accel::pool::PooldOptions().etcd_user,
          "coordinator: etcd user (etcd's own authentication)");
ABSL_FLAG(std::string, etcd_password_file, accel::pool::PooldOptions().etcd_password_file,
          "coordinator: file holding --etcd_user's password");
