// poolctl: the operator's view of a pool.
//
//   poolctl [--pool ADDR] [-o table|json] nodes
//   poolctl ... devices
//   poolctl ... leases
//   poolctl ... lease release ID
//   poolctl ... drain NODE | undrain NODE
//
// ADDR defaults to $ACCEL_POOL, then 127.0.0.1:7070.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "accel/hal/types.h"
#include "pool/common/status_convert.h"
#include "pool/common/wire.h"

namespace {

namespace v1 = ::accelpool::v1;
using Table = std::vector<std::vector<std::string>>;

int Usage() {
  std::fprintf(stderr,
               "usage: poolctl [--pool ADDR] [-o table|json] "
               "nodes | devices | leases | lease release ID | drain NODE | undrain NODE\n");
  return 2;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "poolctl: %s\n", std::string(status.message()).c_str());
  return 1;
}

void PrintTable(const Table& rows) {
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

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string pool =
      std::getenv("ACCEL_POOL") != nullptr ? std::getenv("ACCEL_POOL") : "127.0.0.1:7070";
  bool json = false;
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--pool" || arg == "-o") && i + 1 >= argc) return Usage();
    if (arg == "--pool") {
      pool = argv[++i];
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

  auto stub =
      v1::Coordinator::NewStub(grpc::CreateChannel(pool, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto check = [&](const grpc::Status& s) {
    return accel::pool::FromGrpc(s, absl::StrCat("pool ", pool));
  };

  const std::string& command = words[0];
  if (command == "nodes" && words.size() == 1) {
    v1::ListNodesResponse r;
    if (absl::Status s = check(stub->ListNodes(&context, {}, &r)); !s.ok()) return Fail(s);
    if (json) return PrintJson(r);
    Table t = {{"NAME", "ADDRESS", "STATE", "DEVICES", "LEASES", "LABELS"}};
    for (const v1::NodeInfo& n : r.nodes()) {
      t.push_back({n.name(), n.address(), n.state(), absl::StrCat(n.devices()),
                   absl::StrCat(n.leases()), Labels(n.labels())});
    }
    PrintTable(t);
  } else if (command == "devices" && words.size() == 1) {
    v1::ListDevicesResponse r;
    if (absl::Status s = check(stub->ListDevices(&context, {}, &r)); !s.ok()) return Fail(s);
    if (json) return PrintJson(r);
    Table t = {{"ID", "NAME", "VENDOR", "ARCH", "MEMORY USED/LEASED/TOTAL", "LEASES", "LABELS"}};
    for (const v1::DeviceInfo& d : r.devices()) {
      using accel::hal::FormatByteSize;
      t.push_back(
          {d.id(), d.name(), d.vendor(), d.arch(),
           absl::StrCat(FormatByteSize(d.used_memory()), " / ", FormatByteSize(d.leased_memory()),
                        " / ", FormatByteSize(d.total_memory())),
           absl::StrCat(d.leases()), Labels(d.labels())});
    }
    PrintTable(t);
  } else if (command == "leases" && words.size() == 1) {
    v1::ListLeasesResponse r;
    if (absl::Status s = check(stub->ListLeases(&context, {}, &r)); !s.ok()) return Fail(s);
    if (json) return PrintJson(r);
    Table t = {{"ID", "HOLDER", "DEVICES", "MEMORY IN USE", "AGE", "EXPIRES IN", "SESSION"}};
    const int64_t now = NowMs();
    for (const v1::LeaseInfo& l : r.leases()) {
      std::vector<std::string> devices;
      for (const v1::LeasedDevice& d : l.devices()) devices.push_back(d.device().id());
      t.push_back({l.lease_id(), l.holder(), absl::StrJoin(devices, ","),
                   accel::hal::FormatByteSize(l.memory_in_use()),
                   Duration(now - l.created_unix_ms()), Duration(l.expires_unix_ms() - now),
                   l.session_open() ? "open" : "-"});
    }
    PrintTable(t);
  } else if (command == "lease" && words.size() == 3 && words[1] == "release") {
    v1::AdminReleaseRequest request;
    request.set_lease_id(words[2]);
    v1::ReleaseResponse r;
    if (absl::Status s = check(stub->AdminRelease(&context, request, &r)); !s.ok()) return Fail(s);
    std::printf("released %s\n", words[2].c_str());
  } else if ((command == "drain" || command == "undrain") && words.size() == 2) {
    v1::DrainNodeRequest request;
    request.set_node(words[1]);
    request.set_undrain(command == "undrain");
    v1::DrainNodeResponse r;
    if (absl::Status s = check(stub->DrainNode(&context, request, &r)); !s.ok()) return Fail(s);
    std::printf("%s %s\n", command == "drain" ? "draining" : "undrained", words[1].c_str());
  } else {
    return Usage();
  }
  return 0;
}
