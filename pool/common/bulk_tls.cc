#include "pool/common/bulk_tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace accel::pool {
namespace {

// Both ends derive the channel's keys from the handshake with this label.
constexpr char kExporterLabel[] = "EXPORTER-accelpool-bulk-channel";
// How often the node looks at its certificate files (as tls.cc does).
constexpr auto kReloadInterval = std::chrono::seconds(1);

std::string OpenSslErrors() {
  std::string all;
  while (unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    absl::StrAppend(&all, all.empty() ? "" : "; ", text);
  }
  return all.empty() ? "no OpenSSL error recorded" : all;
}

// The keys of both directions, as this end uses them.
absl::StatusOr<ChannelKeys> ExportKeys(SSL* ssl, bool server) {
  unsigned char material[2 * (kSealKeyBytes + kSealIvBytes)];
  if (SSL_export_keying_material(ssl, material, sizeof(material), kExporterLabel,
                                 sizeof(kExporterLabel) - 1, nullptr, 0, 0) != 1) {
    return absl::InternalError(
        absl::StrCat("bulk channel: cannot export keys from TLS: ", OpenSslErrors()));
  }
  auto part = [&](size_t at, size_t n) {
    return std::string(reinterpret_cast<const char*>(material) + at, n);
  };
  const size_t half = kSealKeyBytes + kSealIvBytes;
  SealKey client_to_server{part(0, kSealKeyBytes), part(kSealKeyBytes, kSealIvBytes), 0};
  SealKey server_to_client{part(half, kSealKeyBytes), part(half + kSealKeyBytes, kSealIvBytes), 0};
  OPENSSL_cleanse(material, sizeof(material));
  if (server) return ChannelKeys{server_to_client, client_to_server};
  return ChannelKeys{client_to_server, server_to_client};
}

// What both ends share: TLS 1.3 only (its exporter is bound to the whole
// handshake) and no session tickets, which would be TLS records in the
// stream after the handshake.
SSL_CTX* NewContext(bool server) {
  SSL_CTX* context = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (context == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(context, TLS1_3_VERSION);
  SSL_CTX_set_num_tickets(context, 0);
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  // Never read past the handshake's last record: what follows is sealed.
  SSL_CTX_set_read_ahead(context, 0);
  return context;
}

absl::StatusOr<SSL_CTX*> ServerContext(const TlsFiles& files) {
  if (absl::Status s = CheckServerFiles(files); !s.ok()) return s;
  SSL_CTX* context = NewContext(/*server=*/true);
  if (context == nullptr || SSL_CTX_use_certificate_chain_file(context, files.cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(context, files.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      (!files.ca.empty() &&
       SSL_CTX_load_verify_locations(context, files.ca.c_str(), nullptr) != 1)) {
    SSL_CTX_free(context);
    return absl::InvalidArgumentError(
        absl::StrCat("bulk channel: cannot load ", files.cert, ": ", OpenSslErrors()));
  }
  // As the gRPC server does: a certificate is asked for and, when one is
  // presented, verified; the session's bulk key authenticates the client.
  if (!files.ca.empty()) SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
  return context;
}

std::string FileStamp(const TlsFiles& files) {
  std::string stamp;
  for (const std::string* path : {&files.cert, &files.key, &files.ca}) {
    struct stat st {};
    if (!path->empty() && stat(path->c_str(), &st) == 0) {
      absl::StrAppend(&stamp, st.st_size, ".", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, "/");
    } else {
      absl::StrAppend(&stamp, "-/");
    }
  }
  return stamp;
}

// The reason a handshake step failed, with the peer's certificate problem
// when that was it.
absl::Status HandshakeFailed(SSL* ssl, int rc, const std::string& context) {
  const int error = SSL_get_error(ssl, rc);
  std::string why;
  if (const long verify = SSL_get_verify_result(ssl); verify != X509_V_OK) {
    why = absl::StrCat("certificate: ", X509_verify_cert_error_string(verify));
  } else if (error == SSL_ERROR_SYSCALL || error == SSL_ERROR_ZERO_RETURN) {
    why = "the peer closed the connection";
  } else {
    why = OpenSslErrors();
  }
  ERR_clear_error();
  return absl::UnavailableError(absl::StrCat("bulk channel TLS handshake ", context, ": ", why));
}

}  // namespace

absl::StatusOr<std::unique_ptr<BulkTlsServer>> BulkTlsServer::Create(const TlsFiles& files) {
  absl::StatusOr<SSL_CTX*> context = ServerContext(files);
  if (!context.ok()) return context.status();
  return std::unique_ptr<BulkTlsServer>(new BulkTlsServer(files, *context));
}

BulkTlsServer::BulkTlsServer(const TlsFiles& files, SSL_CTX* context)
    : files_(files),
      context_(context),
      checked_(std::chrono::steady_clock::now()),
      stamp_(FileStamp(files)) {}

BulkTlsServer::~BulkTlsServer() {
  absl::MutexLock lock(&mu_);
  SSL_CTX_free(context_);
}

SSL_CTX* BulkTlsServer::Current() {
  absl::MutexLock lock(&mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now - checked_ >= kReloadInterval) {
    checked_ = now;
    if (std::string stamp = FileStamp(files_); stamp != stamp_) {
      stamp_ = std::move(stamp);
      absl::StatusOr<SSL_CTX*> renewed = ServerContext(files_);
      if (renewed.ok()) {
        SSL_CTX_free(context_);  // handshakes under way keep their reference
        context_ = *renewed;
      } else {
        std::fprintf(stderr, "poold: the bulk channel keeps its certificate: %s\n",
                     renewed.status().ToString().c_str());
      }
    }
  }
  return context_;
}

absl::StatusOr<std::unique_ptr<BulkTlsServer::Handshake>> BulkTlsServer::Begin(int fd) {
  SSL* ssl = SSL_new(Current());
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return absl::InternalError(absl::StrCat("bulk channel: cannot start TLS: ", OpenSslErrors()));
  }
  SSL_set_accept_state(ssl);
  std::unique_ptr<Handshake> handshake(new Handshake(ssl));
  handshake->events_ = POLLIN;
  return handshake;
}

BulkTlsServer::Handshake::~Handshake() {
  // Never SSL_shutdown: a close_notify would be a TLS record in the stream.
  SSL_set_quiet_shutdown(ssl_, 1);
  SSL_free(ssl_);
}

absl::Status BulkTlsServer::Handshake::Step() {
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    if (SSL_has_pending(ssl_)) {
      return absl::UnavailableError("bulk channel: the client sent data within the TLS handshake");
    }
    absl::StatusOr<ChannelKeys> keys = ExportKeys(ssl_, /*server=*/true);
    if (!keys.ok()) return keys.status();
    keys_ = *std::move(keys);
    done_ = true;
    return absl::OkStatus();
  }
  switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ:
      events_ = POLLIN;
      return absl::OkStatus();
    case SSL_ERROR_WANT_WRITE:
      events_ = POLLOUT;
      return absl::OkStatus();
    default:
      return HandshakeFailed(ssl_, rc, "with a client");
  }
}

absl::StatusOr<ChannelKeys> BulkTlsConnect(int fd, const std::string& host, const TlsFiles& files,
                                           int timeout_ms) {
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError(
        "a TLS client certificate needs its key, and a key its certificate");
  }
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(NewContext(/*server=*/false),
                                                            SSL_CTX_free);
  if (context == nullptr ||
      (files.ca.empty()
           ? SSL_CTX_set_default_verify_paths(context.get())
           : SSL_CTX_load_verify_locations(context.get(), files.ca.c_str(), nullptr)) != 1 ||
      (!files.cert.empty() &&
       (SSL_CTX_use_certificate_chain_file(context.get(), files.cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(context.get(), files.key.c_str(), SSL_FILETYPE_PEM) != 1))) {
    return absl::InvalidArgumentError(
        absl::StrCat("bulk channel: cannot load the client's TLS files: ", OpenSslErrors()));
  }
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(context.get()), SSL_free);
  if (ssl == nullptr || SSL_set_fd(ssl.get(), fd) != 1) {
    return absl::InternalError(absl::StrCat("bulk channel: cannot start TLS: ", OpenSslErrors()));
  }
  SSL_set_quiet_shutdown(ssl.get(), 1);  // see ~Handshake
  // The node's certificate must name the address the client dialled, as
  // gRPC checks it: an IP address against its IP entries, a name against
  // its DNS entries (and sent as SNI).
  in6_addr ip{};
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  const bool is_ip =
      inet_pton(AF_INET, host.c_str(), &ip) == 1 || inet_pton(AF_INET6, host.c_str(), &ip) == 1;
  if ((is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
             : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size())) != 1 ||
      (!is_ip && SSL_set_tlsext_host_name(ssl.get(), host.c_str()) != 1)) {
    return absl::InvalidArgumentError(absl::StrCat("bulk channel: cannot verify host ", host));
  }
  // Non-blocking for the handshake, so that it keeps its deadline.
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  absl::Status status;
  for (;;) {
    const int rc = SSL_connect(ssl.get());
    if (rc == 1) break;
    const int error = SSL_get_error(ssl.get(), rc);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      status = HandshakeFailed(ssl.get(), rc, absl::StrCat("with ", host));
      break;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, static_cast<short>(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) == 0) {
      status = absl::UnavailableError(absl::StrCat("bulk channel TLS handshake with ", host,
                                                   ": no answer within ", timeout_ms, " ms"));
      break;
    }
  }
  fcntl(fd, F_SETFL, flags);
  if (!status.ok()) return status;
  return ExportKeys(ssl.get(), /*server=*/false);
}

}  // namespace accel::pool
