#include "pool/coordinator/etcd_client.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "pool/common/status_convert.h"

namespace accel::pool {
namespace {

constexpr char kScheme[] = "etcd://";

// A member that is down or cut off: another one may answer.
constexpr int kMaxResponseBytes = 64 << 20;

bool TryAnotherMember(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// etcd's simple auth tokens are each member's own, and lapse: a call that
// finds its token unknown authenticates again.
bool TokenLapsed(const grpc::Status& s) {
  return absl::StrContains(s.error_message(), "invalid auth token") ||
         (s.error_code() == grpc::StatusCode::UNAUTHENTICATED &&
          !absl::StrContains(s.error_message(), "authentication failed"));
}

}  // namespace

bool IsEtcdUrl(const std::string& state) { return absl::StartsWith(state, kScheme); }

std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<unsigned char>(prefix.back()) < 0xff) {
      ++prefix.back();
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

absl::StatusOr<EtcdLocation> ParseEtcdUrl(const std::string& url) {
  if (!IsEtcdUrl(url)) {
    return absl::InvalidArgumentError(absl::StrCat("'", url, "' is not an etcd:// address"));
  }
  absl::string_view rest = absl::string_view(url).substr(sizeof(kScheme) - 1);
  EtcdLocation location;
  if (const size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    std::string prefix(rest.substr(slash));
    while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
    if (prefix == "/") {
      return absl::InvalidArgumentError(
          absl::StrCat(url, ": the prefix is empty (say /accelpool, or leave it out)"));
    }
    location.prefix = prefix;
    rest = rest.substr(0, slash);
  }
  for (absl::string_view endpoint : absl::StrSplit(rest, ',')) {
    const size_t colon = endpoint.rfind(':');
    if (endpoint.empty() || colon == absl::string_view::npos || colon == 0 ||
        colon + 1 == endpoint.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(url, ": '", endpoint, "' is not HOST:PORT (etcd's client port)"));
    }
    location.endpoints.emplace_back(endpoint);
  }
  return location;
}

EtcdClient::EtcdClient(Options options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Connect(Options options) {
  if (options.location.endpoints.empty()) {
    return absl::InvalidArgumentError("etcd: no member addresses");
  }
  if (options.user.empty() != options.password.empty()) {
    return absl::InvalidArgumentError("etcd: a user needs a password, and a password a user");
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ClientCredentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  std::unique_ptr<EtcdClient> client(new EtcdClient(std::move(options)));
  for (const std::string& address : client->options_.location.endpoints) {
    grpc::ChannelArguments args;
    // A member that went away is noticed within seconds even by a call that
    // waits long (a campaign); etcd allows a ping every 5 s at most
    // (its --grpc-keepalive-min-time) and closes links that ping faster.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 6000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 3000);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    // Room for any value etcd takes (its --max-request-bytes, 1.5 MiB by
    // default, bounds one), with pages of many (RangePrefix).
    args.SetMaxReceiveMessageSize(kMaxResponseBytes);
    Member m;
    m.address = address;
    m.channel = grpc::CreateCustomChannel(address, *credentials, args);
    m.kv = etcdserverpb::KV::NewStub(m.channel);
    m.lease = etcdserverpb::Lease::NewStub(m.channel);
    m.auth = etcdserverpb::Auth::NewStub(m.channel);
    m.election = v3electionpb::Election::NewStub(m.channel);
    m.watch = etcdserverpb::Watch::NewStub(m.channel);
    m.maintenance = etcdserverpb::Maintenance::NewStub(m.channel);
    m.cluster = etcdserverpb::Cluster::NewStub(m.channel);
    client->members_.push_back(std::move(m));
  }
  return client;
}

std::string EtcdClient::endpoint() const {
  absl::MutexLock lock(&mu_);
  return members_[current_].address;
}

std::chrono::microseconds EtcdClient::last_round_trip() const {
  absl::MutexLock lock(&mu_);
  return round_trip_;
}

void EtcdClient::Prepare(grpc::ClientContext& context) {
  absl::MutexLock lock(&mu_);
  if (!auth_token_.empty()) context.AddMetadata("token", auth_token_);
}

absl::Status EtcdClient::Authenticate(Member& member) {
  etcdserverpb::AuthenticateRequest request;
  request.set_name(options_.user);
  request.set_password(options_.password);
  etcdserverpb::AuthenticateResponse response;
  grpc::ClientContext context;
  // A member's share of a call's time, as for any call (Call).
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::max<std::chrono::milliseconds>(options_.call_timeout / static_cast<int>(members_.size()),
                                          std::chrono::milliseconds(500)));
  context.set_wait_for_ready(true);
  grpc::Status status = member.auth->Authenticate(&context, request, &response);
  if (!status.ok()) {
    return FromGrpc(status,
                    absl::StrCat("etcd ", member.address, ": authenticating as ", options_.user));
  }
  absl::MutexLock lock(&mu_);
  auth_token_ = response.token();
  return absl::OkStatus();
}

absl::Status EtcdClient::Call(
    const char* what, const std::function<grpc::Status(Member&, grpc::ClientContext&)>& call,
    const std::function<uint64_t()>& raft_term) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + options_.call_timeout;
  // Each member gets its share of the time, so a member that is up but cut
  // off from the others (and so never answers) leaves time for the next.
  const auto attempt_time = std::max<std::chrono::milliseconds>(
      options_.call_timeout / static_cast<int>(members_.size()), std::chrono::milliseconds(500));
  size_t index;
  {
    absl::MutexLock lock(&mu_);
    index = current_;
  }
  const size_t first = index;
  bool authenticated = false;
  std::vector<std::string> failures;
  size_t tried = 0;
  // The member did not answer: the next one is tried (with a fresh token,
  // as tokens are each member's), after a pause once all have been.
  auto next = [&](const std::string& address, const std::string& why) {
    failures.push_back(absl::StrCat(address, ": ", why));
    index = (index + 1) % members_.size();
    authenticated = false;
    {
      absl::MutexLock lock(&mu_);
      auth_token_.clear();
    }
    if (++tried % members_.size() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  while (std::chrono::steady_clock::now() < deadline) {
    Member& member = members_[index];
    if (!options_.user.empty() && !authenticated) {
      bool have_token;
      {
        absl::MutexLock lock(&mu_);
        have_token = !auth_token_.empty();
      }
      if (!have_token) {
        if (absl::Status s = Authenticate(member); !s.ok()) {
          // A wrong password is the operator's to fix; a member down is not.
          if (s.code() != absl::StatusCode::kUnavailable &&
              s.code() != absl::StatusCode::kDeadlineExceeded) {
            return s;
          }
          next(member.address, std::string(s.message()));
          continue;
        }
        authenticated = true;
      }
    }
    // Waits for the member's connection within the try's time: gRPC does not
    // redial a member that refused a connection (one starting up, say) until
    // a call asks it to, and a failing-fast call never would. A member not
    // connected now (one just killed, say) gets a moment only, when others
    // may answer.
    const bool failing = members_.size() > 1 &&
                         member.channel->GetState(/*try_to_connect=*/true) != GRPC_CHANNEL_READY;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::min<std::chrono::steady_clock::duration>(
                             failing ? std::chrono::milliseconds(250) : attempt_time,
                             deadline - std::chrono::steady_clock::now()));
    context.set_wait_for_ready(true);
    Prepare(context);
    const auto sent = std::chrono::steady_clock::now();
    grpc::Status status = call(member, context);
    if (status.ok()) {
      bool look_up;
      {
        absl::MutexLock lock(&mu_);
        round_trip_ = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - sent);
        // This call moved to another member, or etcd elected a leader since
        // the last look: the current member may not lead. One caller looks
        // it up.
        if (index != first) {
          current_ = index;
          leader_unknown_ = true;
        }
        const uint64_t term = raft_term ? raft_term() : raft_term_;
        if (term != raft_term_) leader_unknown_ = true;
        look_up = leader_unknown_ && members_.size() > 1;
        if (look_up) {
          leader_unknown_ = false;
          raft_term_ = term;
        }
      }
      if (look_up) {
        absl::StatusOr<std::optional<size_t>> leader = FindRaftLeader(index);
        // (Another call may have moved on meanwhile; the leader is still it.)
        absl::MutexLock lock(&mu_);
        if (leader.ok()) {
          leader_lookup_failure_.clear();
          if (!leader->has_value()) {
            leader_unknown_ = true;  // etcd is electing one: the next call looks again
          } else if (**leader != current_) {
            current_ = **leader;
            auth_token_.clear();  // tokens are each member's
          }
        } else if (leader.status().ToString() != leader_lookup_failure_) {
          // Calls still work through a follower, at twice the round trips.
          leader_lookup_failure_ = leader.status().ToString();
          std::fprintf(stderr, "poold: etcd: calls go to %s, which may not be etcd's leader: %s\n",
                       members_[current_].address.c_str(), leader_lookup_failure_.c_str());
        }
      }
      return absl::OkStatus();
    }
    if (!options_.user.empty() && !authenticated && TokenLapsed(status)) {
      if (absl::Status s = Authenticate(member); !s.ok()) return s;
      authenticated = true;
      continue;  // the same member, with a fresh token
    }
    if (!TryAnotherMember(status)) {
      return FromGrpc(status, absl::StrCat("etcd ", member.address, ": ", what));
    }
    next(member.address, status.error_message());
  }
  return absl::UnavailableError(absl::StrCat(
      "etcd did not answer ", what, " within ",
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.call_timeout).count(), " ms (",
      failures.empty() ? "no member tried" : absl::StrJoin(failures, "; "), ")"));
}

absl::StatusOr<std::optional<size_t>> EtcdClient::FindRaftLeader(size_t asked) {
  Member& member = members_[asked];
  auto prepare = [&](grpc::ClientContext& context) {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    Prepare(context);
  };
  etcdserverpb::StatusResponse status;
  {
    grpc::ClientContext context;
    prepare(context);
    grpc::Status s = member.maintenance->Status(&context, {}, &status);
    if (!s.ok()) return FromGrpc(s, absl::StrCat("etcd ", member.address, ": Status"));
  }
  if (status.leader() == 0) return std::nullopt;
  if (status.leader() == status.header().member_id()) return asked;
  etcdserverpb::MemberListResponse list;
  {
    grpc::ClientContext context;
    prepare(context);
    grpc::Status s = member.cluster->MemberList(&context, {}, &list);
    if (!s.ok()) return FromGrpc(s, absl::StrCat("etcd ", member.address, ": MemberList"));
  }
  for (const etcdserverpb::Member& m : list.members()) {
    if (m.id() != status.leader()) continue;
    for (absl::string_view url : m.clienturls()) {
      // "http://127.0.0.1:2379" is the endpoint "127.0.0.1:2379".
      if (const size_t scheme = url.find("://"); scheme != absl::string_view::npos) {
        url.remove_prefix(scheme + 3);
      }
      absl::ConsumeSuffix(&url, "/");
      for (size_t i = 0; i < members_.size(); ++i) {
        if (members_[i].address == url) return i;
      }
    }
    return absl::NotFoundError(absl::StrCat("etcd's leader, member ", m.name(), " (",
                                            absl::StrJoin(m.clienturls(), ", "),
                                            "), is none of the endpoints given"));
  }
  return absl::NotFoundError("etcd's leader is not in its own member list");
}

absl::StatusOr<etcdserverpb::RangeResponse> EtcdClient::Range(
    const etcdserverpb::RangeRequest& request) {
  etcdserverpb::RangeResponse response;
  absl::Status s = Call(
      "Range",
      [&](Member& m, grpc::ClientContext& c) { return m.kv->Range(&c, request, &response); },
      [&] { return response.header().raft_term(); });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<int64_t> EtcdClient::RangePrefix(
    const std::string& prefix, const std::function<absl::Status(const mvccpb::KeyValue&)>& each) {
  int64_t revision = 0;
  // Pages of 1000 keys; a page over gRPC's message limit (large values:
  // the lease journal's entries) is asked again in smaller ones.
  int64_t limit = 1000;
  for (std::string from = prefix;;) {
    etcdserverpb::RangeRequest request;
    request.set_key(from);
    request.set_range_end(PrefixEnd(prefix));
    request.set_limit(limit);
    request.set_revision(revision);
    absl::StatusOr<etcdserverpb::RangeResponse> page = Range(request);
    if (page.status().code() == absl::StatusCode::kResourceExhausted && limit > 1) {
      limit = std::max<int64_t>(1, limit / 10);
      continue;
    }
    if (!page.ok()) return page.status();
    if (revision == 0) revision = page->header().revision();
    for (const mvccpb::KeyValue& kv : page->kvs()) {
      if (absl::Status s = each(kv); !s.ok()) return s;
    }
    if (!page->more() || page->kvs().empty()) return revision;
    from = page->kvs(page->kvs_size() - 1).key() + std::string(1, '\0');
  }
}

absl::StatusOr<etcdserverpb::TxnResponse> EtcdClient::Txn(const etcdserverpb::TxnRequest& request) {
  etcdserverpb::TxnResponse response;
  absl::Status s = Call(
      "Txn", [&](Member& m, grpc::ClientContext& c) { return m.kv->Txn(&c, request, &response); },
      [&] { return response.header().raft_term(); });
  if (!s.ok()) return s;
  return response;
}

absl::Status EtcdClient::Compact(int64_t revision) {
  etcdserverpb::CompactionRequest request;
  request.set_revision(revision);
  etcdserverpb::CompactionResponse response;
  absl::Status s = Call(
      "Compact",
      [&](Member& m, grpc::ClientContext& c) { return m.kv->Compact(&c, request, &response); },
      [&] { return response.header().raft_term(); });
  // etcd refuses a revision compacted already (another compactor, or etcd's
  // own --auto-compaction): what was asked for is done.
  if (!s.ok() && absl::StrContains(s.message(), "required revision has been compacted")) {
    return absl::OkStatus();
  }
  return s;
}

absl::StatusOr<etcdserverpb::LeaseGrantResponse> EtcdClient::LeaseGrant(int64_t ttl_seconds) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(ttl_seconds);
  etcdserverpb::LeaseGrantResponse response;
  absl::Status s = Call(
      "LeaseGrant",
      [&](Member& m, grpc::ClientContext& c) {
        return m.lease->LeaseGrant(&c, request, &response);
      },
      [&] { return response.header().raft_term(); });
  if (!s.ok()) return s;
  if (!response.error().empty()) {
    return absl::UnavailableError(absl::StrCat("etcd LeaseGrant: ", response.error()));
  }
  return response;
}

absl::Status EtcdClient::LeaseRevoke(int64_t lease) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease);
  etcdserverpb::LeaseRevokeResponse response;
  return Call("LeaseRevoke", [&](Member& m, grpc::ClientContext& c) {
    return m.lease->LeaseRevoke(&c, request, &response);
  });
}

absl::StatusOr<int64_t> EtcdClient::LeaseKeepAlive(int64_t lease) {
  etcdserverpb::LeaseKeepAliveResponse response;
  absl::Status s = Call(
      "LeaseKeepAlive",
      [&](Member& m, grpc::ClientContext& c) {
        // The API is a stream of keep-alives; one request and its answer per
        // call keeps a member change as simple as for unary calls.
        auto stream = m.lease->LeaseKeepAlive(&c);
        etcdserverpb::LeaseKeepAliveRequest request;
        request.set_id(lease);
        if (stream->Write(request) && stream->Read(&response)) {
          stream->WritesDone();
          c.TryCancel();
          stream->Finish().IgnoreError();
          return grpc::Status::OK;
        }
        stream->WritesDone();
        grpc::Status finished = stream->Finish();
        return finished.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "keep-alive unanswered")
                             : finished;
      },
      [&] { return response.header().raft_term(); });
  if (!s.ok()) return s;
  return response.ttl();
}

absl::Status EtcdClient::Resign(const v3electionpb::LeaderKey& leader) {
  v3electionpb::ResignRequest request;
  *request.mutable_leader() = leader;
  v3electionpb::ResignResponse response;
  return Call("Resign", [&](Member& m, grpc::ClientContext& c) {
    return m.election->Resign(&c, request, &response);
  });
}

absl::StatusOr<v3electionpb::CampaignResponse> EtcdClient::Campaign(grpc::ClientContext& context,
                                                                    const std::string& election,
                                                                    int64_t lease,
                                                                    const std::string& value) {
  v3electionpb::CampaignRequest request;
  request.set_name(election);
  request.set_lease(lease);
  request.set_value(value);
  v3electionpb::CampaignResponse response;
  Member* member;
  {
    absl::MutexLock lock(&mu_);
    member = &members_[current_];
  }
  Prepare(context);
  grpc::Status status = member->election->Campaign(&context, request, &response);
  if (!status.ok()) {
    if (TryAnotherMember(status)) {
      absl::MutexLock lock(&mu_);
      current_ = (current_ + 1) % members_.size();
      leader_unknown_ = true;
    }
    return FromGrpc(status, absl::StrCat("etcd ", member->address, ": Campaign"));
  }
  return response;
}

std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>>
EtcdClient::Watch(grpc::ClientContext& context) {
  Member* member;
  {
    absl::MutexLock lock(&mu_);
    member = &members_[current_];
  }
  Prepare(context);
  return member->watch->Watch(&context);
}

void EtcdClient::MemberFailed() {
  absl::MutexLock lock(&mu_);
  current_ = (current_ + 1) % members_.size();
  leader_unknown_ = true;
}

}  // namespace accel::pool
