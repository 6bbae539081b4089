// poolctl: the operator's view of a pool.
//
//   poolctl [--pool ADDR] [-o table|json] nodes
//   poolctl ... status                         the coordinators, which leads, the state store
//   poolctl ... devices
//   poolctl ... leases
//   poolctl ... lease revoke ID        (also: lease release ID)
//   poolctl ... cordon NODE | uncordon NODE   no new leases there / again
//   poolctl ... drain NODE                    cordon, then revoke its leases
//   poolctl ... top [--interval S] [--iterations N]   devices, refreshed
//   poolctl ... lease explain ID              why it is where it is, or why it waits
//   poolctl ... tenants
//   poolctl ... tenant create NAME [--priority N] [--devices N] [--memory SIZE] [--leases N]
//                                  [--isolation device|shared] [--max-kernel-seconds S]
//   poolctl ... tenant update NAME [same options] [--rotate-token]
//   poolctl ... tenant delete NAME
//   poolctl audit verify FILE                 checks an audit log's chain (poold --audit_log)
//
// ADDR defaults to $ACCEL_POOL, then 127.0.0.1:7070; a highly available
// pool's coordinators as HOST:PORT,HOST:PORT (calls follow the leader).
// --token (default $ACCEL_POOL_TOKEN) is the operator's token, or a
// tenant's to see its own leases. Without a token, for a pool on this host
// named by one address, poolctl uses the pool's admin socket (poold
// --admin_socket), where root, poold's user and the admin group are
// operators. TLS: --tls_ca/--tls_cert/--tls_key or
// $ACCEL_POOL_TLS_CA/_CERT/_KEY.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "accel/hal/types.h"
#include "pool/common/admin_socket_path.h"
#include "pool/common/audit_log.h"
#include "pool/common/bearer_token.h"
#include "pool/common/coordinator_list.h"
#include "pool/common/lease_pages.h"
#include "pool/common/loopback_host.h"
#include "pool/common/status_convert.h"
#include "pool/common/tls.h"
#include "pool/common/wire.h"

namespace {

namespace v1 = ::accelpool::v1;
using Table = std::vector<std::vector<std::string>>;

int Usage() {
  std::fprintf(
      stderr,
      "usage: poolctl [--pool ADDR] [--token_file FILE] [--tls_ca FILE] [--tls_cert FILE "
      "--tls_key FILE] [--admin_socket PATH|none] [-o table|json] "
      "status | nodes | devices | leases | lease revoke ID | lease explain ID | cordon NODE | "
      "uncordon NODE | drain NODE | top [--interval S] [--iterations N] | tenants | "
      "tenant create NAME [--priority N] [--devices N] [--memory SIZE] [--leases N] "
      "[--isolation device|shared] [--max-kernel-seconds S] | "
      "tenant update NAME [same options] [--rotate-token] | tenant delete NAME | "
      "audit verify FILE\n");
  return 2;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "poolctl: %s\n", std::string(status.message()).c_str());
  return 1;
}

// A string from the pool made safe for a terminal: a client chooses its
// holder string and labels, and escape sequences in them must not reach the
// operator's terminal as commands.
std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void PrintTable(Table rows) {
  for (auto& row : rows) {
    for (std::string& cell : row) cell = Printable(cell);
  }
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += i + 1 == row.size() ? row[i] : absl::StrFormat("%-*s  ", widths[i], row[i]);
    }
    std::printf("%s\n", line.c_str());
  }
}

int PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    return Fail(absl::InternalError("cannot encode JSON"));
  }
  std::printf("%s", json.c_str());
  return 0;
}

std::string Duration(int64_t ms) {
  if (ms < 0) return "-";
  int64_t s = ms / 1000;
  if (s < 120) return absl::StrCat(s, "s");
  if (s < 7200) return absl::StrCat(s / 60, "m");
  return absl::StrCat(s / 3600, "h");
}

std::string Labels(const google::protobuf::Map<std::string, std::string>& labels) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : labels) parts.push_back(absl::StrCat(k, "=", v));
  std::sort(parts.begin(), parts.end());
  return parts.empty() ? "-" : absl::StrJoin(parts, ",");
}

// "used/limit", where a limit of 0 is none.
std::string OfQuota(const std::string& used, uint64_t limit, const std::string& formatted_limit) {
  return absl::StrCat(used, "/", limit == 0 ? "-" : formatted_limit);
}

// Applies "tenant create|update" options to `tenant`; false on a bad one.
bool ParseTenantOptions(const std::vector<std::string>& words, v1::TenantInfo& tenant,
                        bool& rotate_token) {
  for (size_t i = 3; i < words.size(); ++i) {
    const std::string& option = words[i];
    if (option == "--rotate-token") {
      rotate_token = true;
      continue;
    }
    if (i + 1 >= words.size()) return false;
    const std::string& value = words[++i];
    uint32_t number = 0;
    if (option == "--memory") {
      absl::StatusOr<uint64_t> bytes = accel::hal::ParseByteSize(value);
      if (!bytes.ok()) return false;
      tenant.set_max_memory(*bytes);
    } else if (option == "--isolation") {
      if (value != "device" && value != "shared") return false;
      tenant.set_device_isolation(value == "device");
    } else if (option == "--max-kernel-seconds") {
      double seconds = 0;
      if (!absl::SimpleAtod(value, &seconds) || seconds < 0 || seconds > 86400) return false;
      tenant.set_max_kernel_ms(static_cast<uint32_t>(seconds * 1000));
    } else if (option == "--priority") {
      int32_t priority = 0;
      if (!absl::SimpleAtoi(value, &priority)) return false;
      tenant.set_priority(priority);
    } else if (!absl::SimpleAtoi(value, &number)) {
      return false;
    } else if (option == "--devices") {
      tenant.set_max_devices(number);
    } else if (option == "--leases") {
      tenant.set_max_leases(number);
    } else {
      return false;
    }
  }
  return true;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string pool =
      std::getenv("ACCEL_POOL") != nullptr ? std::getenv("ACCEL_POOL") : "127.0.0.1:7070";
  std::string token =
      std::getenv("ACCEL_POOL_TOKEN") != nullptr ? std::getenv("ACCEL_POOL_TOKEN") : "";
  // TLS as every client takes it: $ACCEL_POOL_TLS_CA/_CERT/_KEY, or flags.
  accel::pool::TlsFiles tls = accel::pool::TlsFilesFromEnvironment();
  std::string admin_socket;  // "": found by the pool's port; "none": TCP
  bool json = false;
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    const bool takes_value = arg == "--pool" || arg == "-o" || arg == "--token" ||
                             arg == "--token_file" || arg == "--tls_ca" || arg == "--tls_cert" ||
                             arg == "--tls_key" || arg == "--admin_socket";
    if (takes_value && i + 1 >= argc) return Usage();
    if (arg == "--admin_socket") {
      admin_socket = argv[++i];
    } else if (arg == "--tls_ca") {
      tls.ca = argv[++i];
    } else if (arg == "--tls_cert") {
      tls.cert = argv[++i];
    } else if (arg == "--tls_key") {
      tls.key = argv[++i];
    } else if (arg == "--pool") {
      pool = argv[++i];
    } else if (arg == "--token") {
      token = argv[++i];
      std::fprintf(stderr,
                   "poolctl: warning: a token on the command line is visible to every user "
                   "of this host (ps, /proc); use --token_file or ACCEL_POOL_TOKEN\n");
    } else if (arg == "--token_file") {
      std::ifstream in(argv[++i]);
      if (!in) return Fail(absl::NotFoundError(absl::StrCat("cannot read ", argv[i])));
      std::getline(in, token);
      token = std::string(absl::StripAsciiWhitespace(token));
    } else if (arg == "-o") {
      std::string format = argv[++i];
      if (format != "json" && format != "table") return Usage();
      json = format == "json";
    } else if (arg == "-h" || arg == "--help") {
      return Usage();
    } else {
      words.push_back(arg);
    }
  }
  if (words.empty()) return Usage();
  // A local file: no pool is asked.
  if (words[0] == "audit") {
    if (words.size() != 3 || words[1] != "verify") return Usage();
    absl::StatusOr<uint64_t> lines = accel::pool::VerifyAuditLog(words[2]);
    if (!lines.ok()) return Fail(lines.status());
    std::printf("audit log %s: %llu line(s), chain intact\n", words[2].c_str(),
                static_cast<unsigned long long>(*lines));
    return 0;
  }

  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      accel::pool::ClientCredentials(tls);
  if (!credentials.ok()) return Fail(credentials.status());
  // On the pool's own host, without a token, poolctl speaks through the
  // admin socket, where the kernel says who it is (root, poold's user, or
  // the admin group): that is how a local operator needs no token.
  std::string target = pool;
  // (Only for one coordinator: a list's calls follow its leader, over TCP.)
  if (admin_socket.empty() && token.empty() && pool.find(',') == std::string::npos) {
    const size_t colon = pool.rfind(':');
    int port = 0;
    if (colon != std::string::npos && accel::pool::IsLoopbackHost(pool.substr(0, colon)) &&
        absl::SimpleAtoi(pool.substr(colon + 1), &port)) {
      admin_socket = accel::pool::FindAdminSocket(port);
    }
  }
  if (!admin_socket.empty() && admin_socket != "none") {
    target = "unix:" + admin_socket;
    *credentials = grpc::InsecureChannelCredentials();  // the kernel names the caller
  }
  absl::StatusOr<std::shared_ptr<accel::pool::CoordinatorList>> coordinators =
      accel::pool::CoordinatorList::Parse(target, *credentials);
  if (!coordinators.ok()) return Fail(coordinators.status());
  // One call on the pool's leader, with a deadline of its own.
  auto call = [&](auto method, const auto& request, auto* response) {
    return accel::pool::FromGrpc(
        (*coordinators)
            ->CallLeader(
                std::chrono::system_clock::now() + std::chrono::seconds(10),
                std::chrono::seconds(5),
                [&](grpc::ClientContext& c) { accel::pool::AttachBearerToken(c, token); },
                [&](v1::Coordinator::Stub& stub, grpc::ClientContext& c) {
                  return (stub.*method)(&c, request, response);
                }),
        absl::StrCat("pool ", pool));
  };
  auto list_leases = [&](v1::ListLeasesResponse& r) -> absl::Status {
    absl::StatusOr<v1::ListLeasesResponse> all = accel::pool::ListAllLeases(
        [&](const v1::ListLeasesRequest& request, v1::ListLeasesResponse* page) {
          return call(&v1::Coordinator::Stub::ListLeases, request, page);
        });
    if (!all.ok()) return all.status();
    r = *std::move(all);
    return absl::OkStatus();
  };
  auto list_devices = [&](v1::ListDevicesResponse& r) {
    return call(&v1::Coordinator::Stub::ListDevices, v1::ListDevicesRequest(), &r);
  };
  auto devices_table = [](const v1::ListDevicesResponse& r) {
    Table t = {{"ID", "NAME", "VENDOR", "ARCH", "MEMORY USED/LEASED/TOTAL", "LEASES", "LABELS"}};
    for (const v1::DeviceInfo& d : r.devices()) {
      using accel::hal::FormatByteSize;
      t.push_back(
          {d.id(), d.name(), d.vendor(), d.arch(),
           absl::StrCat(FormatByteSize(d.used_memory()), " / ", FormatByteSize(d.leased_memory()),
                        " / ", FormatByteSize(d.total_memory())),
           absl::StrCat(d.leases()), Labels(d.labels())});
    }
    return t;
  };
  auto cordon = [&](const std::string& node, bool on) {
    v1::DrainNodeRequest request;
    request.set_node(node);
    request.set_undrain(!on);
    v1::DrainNodeResponse r;
    return call(&v1::Coordinator::Stub::DrainNode, request, &r);
  };
  auto revoke = [&](const std::string& lease_id) {
    v1::AdminReleaseRequest request;
    request.set_lease_id(lease_id);
    v1::ReleaseResponse r;
    return call(&v1::Coordinator::Stub::AdminRelease, request, &r);
  };

  const std::string& command = words[0];
  if (command == "status" && words.size() == 1) {
    // Every coordinator named says what it is; the leader says the rest.
    Table t = {{"COORDINATOR", "ROLE", "LEADER"}};
    v1::ControlPlaneResponse leader;
    for (const std::string& address : (*coordinators)->addresses()) {
      v1::ControlPlaneResponse r;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      accel::pool::AttachBearerToken(context, token);
      grpc::Status s = (*coordinators)->Stub(address).GetControlPlane(&context, {}, &r);
      t.push_back({address, s.ok() ? r.role() : absl::StrCat("unreachable: ", s.error_message()),
                   r.leader_address()});
      if (s.ok() && r.role() == "leader") leader = r;
    }
    if (json) return PrintJson(leader);
    PrintTable(t);
    if (leader.role().empty()) return Fail(absl::UnavailableError("no coordinator named leads"));
    std::printf("state store: %s%s\n",
                leader.state_store().empty() ? "(shown to operators)"
                                             : Printable(leader.state_store()).c_str(),
                leader.store_status().empty()
                    ? ""
                    : Printable(absl::StrCat(" (", leader.store_status(), ")")).c_str());
    if (leader.store_round_trip_us() > 0) {
      std::printf("state store round trip: %.2f ms\n", leader.store_round_trip_us() / 1000.0);
    }
    if (leader.coordinators_size() > 0) {
      std::printf("coordinators in the election: %s\n",
                  Printable(absl::StrJoin(leader.coordinators(), ", ")).c_str());
    }
    return 0;
  }
  if (command == "nodes" && words.size() == 1) {
    v1::ListNodesResponse r;
    if (absl::Status s = call(&v1::Coordinator::Stub::ListNodes, v1::ListNodesRequest(), &r);
        !s.ok()) {
      return Fail(s);
    }
    if (json) return PrintJson(r);
    Table t = {{"NAME", "ADDRESS", "STATE", "DEVICES", "LEASES", "LABELS"}};
    for (const v1::NodeInfo& n : r.nodes()) {
      t.push_back({n.name(), n.address(), n.state(), absl::StrCat(n.devices()),
                   absl::StrCat(n.leases()), Labels(n.labels())});
    }
    PrintTable(t);
  } else if (command == "devices" && words.size() == 1) {
    v1::ListDevicesResponse r;
    if (absl::Status s = list_devices(r); !s.ok()) return Fail(s);
    if (json) return PrintJson(r);
    PrintTable(devices_table(r));
  } else if (command == "leases" && words.size() == 1) {
    v1::ListLeasesResponse r;
    if (absl::Status s = list_leases(r); !s.ok()) return Fail(s);
    if (json) return PrintJson(r);
    Table t = {{"ID", "STATE", "TENANT", "HOLDER", "DEVICES", "MEMORY IN USE/QUOTA", "AGE",
                "EXPIRES IN", "SESSION", "WHY HERE / WHY WAITING"}};
    const int64_t now = NowMs();
    for (const v1::LeaseInfo& l : r.leases()) {
      std::vector<std::string> devices;
      uint64_t quota = 0;
      for (const v1::LeasedDevice& d : l.devices()) {
        devices.push_back(d.device().id());
        quota += d.memory_quota();
      }
      const bool queued = l.state() == "queued";
      t.push_back({l.lease_id(), l.state(), l.tenant().empty() ? "-" : l.tenant(), l.holder(),
                   queued ? "-" : absl::StrJoin(devices, ","),
                   queued ? "-"
                          : absl::StrCat(accel::hal::FormatByteSize(l.memory_in_use()), " / ",
                                         accel::hal::FormatByteSize(quota)),
                   Duration(now - l.created_unix_ms()),
                   queued ? "-" : Duration(l.expires_unix_ms() - now),
                   l.session_open() ? "open" : "-", l.reason().empty() ? "-" : l.reason()});
    }
    PrintTable(t);
  } else if (command == "lease" && words.size() == 3 && words[1] == "explain") {
    v1::ExplainLeaseRequest request;
    request.set_lease_id(words[2]);
    v1::LeaseInfo l;
    if (absl::Status s = call(&v1::Coordinator::Stub::ExplainLease, request, &l); !s.ok()) {
      return Fail(s);
    }
    if (json) return PrintJson(l);
    std::vector<std::string> devices;
    for (const v1::LeasedDevice& d : l.devices()) {
      devices.push_back(absl::StrCat(d.device().id(), d.shared() ? " (shared, " : " (whole, ",
                                     accel::hal::FormatByteSize(d.memory_quota()), ", weight ",
                                     d.compute_weight(), ")"));
    }
    PrintTable({{"lease", l.lease_id()},
                {"state", l.state()},
                {"tenant", l.tenant().empty() ? "-" : l.tenant()},
                {"holder", l.holder()},
                {"policy", l.policy()},
                {"node", l.node().empty() ? "-" : l.node()},
                {"devices", devices.empty() ? "-" : absl::StrJoin(devices, ", ")},
                {"why", l.reason()}});
  } else if (command == "tenants" && words.size() == 1) {
    v1::ListTenantsResponse r;
    if (absl::Status s = call(&v1::Coordinator::Stub::ListTenants, v1::ListTenantsRequest(), &r);
        !s.ok()) {
      return Fail(s);
    }
    if (json) return PrintJson(r);
    using accel::hal::FormatByteSize;
    Table t = {
        {"NAME", "PRIORITY", "DEVICES", "MEMORY", "LEASES", "QUEUED", "ISOLATION", "MAX KERNEL"}};
    for (const v1::TenantInfo& tenant : r.tenants()) {
      t.push_back({tenant.name(), absl::StrCat(tenant.priority()),
                   OfQuota(absl::StrCat(tenant.devices()), tenant.max_devices(),
                           absl::StrCat(tenant.max_devices())),
                   OfQuota(FormatByteSize(tenant.memory()), tenant.max_memory(),
                           FormatByteSize(tenant.max_memory())),
                   OfQuota(absl::StrCat(tenant.leases()), tenant.max_leases(),
                           absl::StrCat(tenant.max_leases())),
                   absl::StrCat(tenant.queued()), tenant.device_isolation() ? "device" : "shared",
                   tenant.max_kernel_ms() == 0
                       ? std::string("pool's")
                       : absl::StrCat(tenant.max_kernel_ms() / 1000.0, "s")});
    }
    PrintTable(t);
  } else if (command == "tenant" && words.size() >= 3 &&
             (words[1] == "create" || words[1] == "update")) {
    v1::PutTenantRequest request;
    request.set_create(words[1] == "create");
    v1::TenantInfo& tenant = *request.mutable_tenant();
    tenant.set_name(words[2]);
    if (!request.create()) {
      // An update changes only the options given: start from what is there.
      v1::ListTenantsResponse r;
      if (absl::Status s = call(&v1::Coordinator::Stub::ListTenants, v1::ListTenantsRequest(), &r);
          !s.ok()) {
        return Fail(s);
      }
      for (const v1::TenantInfo& t : r.tenants()) {
        if (t.name() == words[2]) tenant = t;
      }
    }
    bool rotate = false;
    if (!ParseTenantOptions(words, tenant, rotate)) return Usage();
    request.set_rotate_token(rotate);
    v1::PutTenantResponse r;
    if (absl::Status s = call(&v1::Coordinator::Stub::PutTenant, request, &r); !s.ok()) {
      return Fail(s);
    }
    if (json) return PrintJson(r);
    std::printf("%s tenant %s\n", request.create() ? "created" : "updated", words[2].c_str());
    if (!r.token().empty()) {
      std::printf("token (shown only now; give it to the tenant as ACCEL_POOL_TOKEN): %s\n",
                  r.token().c_str());
    }
  } else if (command == "tenant" && words.size() == 3 && words[1] == "delete") {
    v1::DeleteTenantRequest request;
    request.set_name(words[2]);
    v1::DeleteTenantResponse r;
    if (absl::Status s = call(&v1::Coordinator::Stub::DeleteTenant, request, &r); !s.ok()) {
      return Fail(s);
    }
    std::printf("deleted tenant %s\n", words[2].c_str());
  } else if (command == "lease" && words.size() == 3 &&
             (words[1] == "revoke" || words[1] == "release")) {
    if (absl::Status s = revoke(words[2]); !s.ok()) return Fail(s);
    std::printf("revoked %s\n", words[2].c_str());
  } else if ((command == "cordon" || command == "uncordon" || command == "undrain") &&
             words.size() == 2) {
    if (absl::Status s = cordon(words[1], command == "cordon"); !s.ok()) return Fail(s);
    std::printf("%s %s\n", command == "cordon" ? "cordoned" : "uncordoned", words[1].c_str());
  } else if (command == "drain" && words.size() == 2) {
    // Cordoned first, so that nothing new lands there while its leases go.
    if (absl::Status s = cordon(words[1], true); !s.ok()) return Fail(s);
    v1::ListLeasesResponse r;
    if (absl::Status s = list_leases(r); !s.ok()) return Fail(s);
    int revoked = 0;
    for (const v1::LeaseInfo& l : r.leases()) {
      // A gang across nodes is on the node if any of its devices is.
      if (std::none_of(l.devices().begin(), l.devices().end(),
                       [&](const v1::LeasedDevice& d) { return d.device().node() == words[1]; })) {
        continue;
      }
      absl::Status s = revoke(l.lease_id());
      if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return Fail(s);  // gone already: fine
      revoked += s.ok();
    }
    std::printf("drained %s: cordoned, %d lease(s) revoked\n", words[1].c_str(), revoked);
  } else if (command == "top" && words.size() % 2 == 1) {
    double interval = 2;
    long iterations = -1;  // until interrupted
    for (size_t i = 1; i + 1 < words.size(); i += 2) {
      if (words[i] == "--interval") {
        interval = std::atof(words[i + 1].c_str());
      } else if (words[i] == "--iterations") {
        iterations = std::atol(words[i + 1].c_str());
      } else {
        return Usage();
      }
    }
    if (interval <= 0) return Usage();
    const bool terminal = isatty(STDOUT_FILENO);
    for (long n = 0; iterations < 0 || n < iterations; ++n) {
      if (n > 0) std::this_thread::sleep_for(std::chrono::duration<double>(interval));
      v1::ListDevicesResponse r;
      if (absl::Status s = list_devices(r); !s.ok()) return Fail(s);
      if (terminal) std::printf("\033[H\033[2J");  // redraw in place
      std::printf("poolctl top: %s, every %gs\n", pool.c_str(), interval);
      PrintTable(devices_table(r));
      std::fflush(stdout);
    }
  } else {
    return Usage();
  }
  return 0;
}
