// poolctl: the operator's view of a pool. `poolctl --help` lists the
// verbs, `poolctl VERB --help` a verb's options (clients/poolctl/
// command_line.cc defines them):
//
//   poolctl [--pool ADDR] [-o table|json] status | nodes | devices | leases | top
//   poolctl ... lease revoke|explain ID      cordon|uncordon|drain NODE
//   poolctl ... tenants                      tenant create|update|delete NAME [options]
//   poolctl audit verify FILE                poolctl completion bash
//
// ADDR defaults to $ACCEL_POOL, then 127.0.0.1:7070; a highly available
// pool's coordinators as HOST:PORT,HOST:PORT (calls follow the leader).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <variant>
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
#include "clients/poolctl/command_line.h"
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

// Applies the "tenant create|update" options given to `tenant`.
void ApplyTenantOptions(const accel::poolctl::CommandLine& cl, v1::TenantInfo& tenant) {
  if (cl.priority) tenant.set_priority(*cl.priority);
  if (cl.max_devices) tenant.set_max_devices(*cl.max_devices);
  if (cl.max_leases) tenant.set_max_leases(*cl.max_leases);
  if (cl.max_memory) tenant.set_max_memory(*cl.max_memory);
  if (cl.device_isolation) tenant.set_device_isolation(*cl.device_isolation);
  if (cl.max_kernel_ms) tenant.set_max_kernel_ms(*cl.max_kernel_ms);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  std::variant<accel::poolctl::CommandLine, accel::poolctl::Stop> parsed =
      accel::poolctl::ParseCommandLine(argc, argv);
  if (const auto* stop = std::get_if<accel::poolctl::Stop>(&parsed)) return stop->exit_code;
  const accel::poolctl::CommandLine& cl = std::get<accel::poolctl::CommandLine>(parsed);
  const std::string& pool = cl.pool;
  const std::string& token = cl.token;
  const accel::pool::TlsFiles& tls = cl.tls;
  std::string admin_socket = cl.admin_socket;
  const bool json = cl.json;
  const std::string& command = cl.verb;
  const std::string& argument = cl.argument;
  // A local file: no pool is asked.
  if (command == "audit verify") {
    absl::StatusOr<uint64_t> lines = accel::pool::VerifyAuditLog(argument);
    if (!lines.ok()) return Fail(lines.status());
    std::printf("audit log %s: %llu line(s), chain intact\n", argument.c_str(),
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

  if (command == "status") {
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
  if (command == "nodes") {
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
  } else if (command == "devices") {
    v1::ListDevicesResponse r;
    if (absl::Status s = list_devices(r); !s.ok()) return Fail(s);
    if (json) return PrintJson(r);
    PrintTable(devices_table(r));
  } else if (command == "leases") {
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
  } else if (command == "lease explain") {
    v1::ExplainLeaseRequest request;
    request.set_lease_id(argument);
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
  } else if (command == "tenants") {
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
  } else if (command == "tenant create" || command == "tenant update") {
    v1::PutTenantRequest request;
    request.set_create(command == "tenant create");
    v1::TenantInfo& tenant = *request.mutable_tenant();
    tenant.set_name(argument);
    if (!request.create()) {
      // An update changes only the options given: start from what is there.
      v1::ListTenantsResponse r;
      if (absl::Status s = call(&v1::Coordinator::Stub::ListTenants, v1::ListTenantsRequest(), &r);
          !s.ok()) {
        return Fail(s);
      }
      for (const v1::TenantInfo& t : r.tenants()) {
        if (t.name() == argument) tenant = t;
      }
    }
    ApplyTenantOptions(cl, tenant);
    request.set_rotate_token(cl.rotate_token);
    v1::PutTenantResponse r;
    if (absl::Status s = call(&v1::Coordinator::Stub::PutTenant, request, &r); !s.ok()) {
      return Fail(s);
    }
    if (json) return PrintJson(r);
    std::printf("%s tenant %s\n", request.create() ? "created" : "updated", argument.c_str());
    if (!r.token().empty()) {
      std::printf("token (shown only now; give it to the tenant as ACCEL_POOL_TOKEN): %s\n",
                  r.token().c_str());
    }
  } else if (command == "tenant delete") {
    v1::DeleteTenantRequest request;
    request.set_name(argument);
    v1::DeleteTenantResponse r;
    if (absl::Status s = call(&v1::Coordinator::Stub::DeleteTenant, request, &r); !s.ok()) {
      return Fail(s);
    }
    std::printf("deleted tenant %s\n", argument.c_str());
  } else if (command == "lease revoke") {
    if (absl::Status s = revoke(argument); !s.ok()) return Fail(s);
    std::printf("revoked %s\n", argument.c_str());
  } else if (command == "cordon" || command == "uncordon" || command == "undrain") {
    if (absl::Status s = cordon(argument, command == "cordon"); !s.ok()) return Fail(s);
    std::printf("%s %s\n", command == "cordon" ? "cordoned" : "uncordoned", argument.c_str());
  } else if (command == "drain") {
    // Cordoned first, so that nothing new lands there while its leases go.
    if (absl::Status s = cordon(argument, true); !s.ok()) return Fail(s);
    v1::ListLeasesResponse r;
    if (absl::Status s = list_leases(r); !s.ok()) return Fail(s);
    int revoked = 0;
    for (const v1::LeaseInfo& l : r.leases()) {
      // A gang across nodes is on the node if any of its devices is.
      if (std::none_of(l.devices().begin(), l.devices().end(),
                       [&](const v1::LeasedDevice& d) { return d.device().node() == argument; })) {
        continue;
      }
      absl::Status s = revoke(l.lease_id());
      if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return Fail(s);  // gone already: fine
      revoked += s.ok();
    }
    std::printf("drained %s: cordoned, %d lease(s) revoked\n", argument.c_str(), revoked);
  } else if (command == "top") {
    const double interval = cl.interval_seconds;
    const int64_t iterations = cl.iterations;
    const bool terminal = isatty(STDOUT_FILENO);
    for (int64_t n = 0; iterations < 0 || n < iterations; ++n) {
      if (n > 0) std::this_thread::sleep_for(std::chrono::duration<double>(interval));
      v1::ListDevicesResponse r;
      if (absl::Status s = list_devices(r); !s.ok()) return Fail(s);
      if (terminal) std::printf("\033[H\033[2J");  // redraw in place
      std::printf("poolctl top: %s, every %gs\n", pool.c_str(), interval);
      PrintTable(devices_table(r));
      std::fflush(stdout);
    }
  } else {
    return Fail(absl::InternalError(absl::StrCat("no code for verb '", command, "'")));
  }
  return 0;
}
