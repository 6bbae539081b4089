// Where leases go: the placement policies, and the queue of requests that
// wait for room.
//
// binpack fills the nodes and devices that are already most used, keeping
// whole nodes and whole devices free for large requests; spread uses the
// emptiest first, for isolation and bandwidth. Every lease and every waiting
// request carries the reason for where it is, for `poolctl lease explain`.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "accel/hal/types.h"
#include "pool/common/client_text.h"
#include "pool/common/random_token.h"
#include "pool/coordinator/coordinator.h"

namespace accel::pool {
namespace {

// The constraints a device must meet, apart from what leases hold of it.
bool Matches(const v1::DeviceInfo& d, const v1::LeaseRequest& r) {
  if (!r.backend().empty() && d.backend() != r.backend()) return false;
  if (!r.vendor().empty() && d.vendor() != r.vendor()) return false;
  if (!r.arch().empty() && d.arch() != r.arch()) return false;
  if (d.total_memory() < std::max(r.min_free_memory(), r.memory())) return false;
  for (const auto& [key, value] : r.labels()) {
    auto it = d.labels().find(key);
    if (it == d.labels().end() || it->second != value) return false;
  }
  return true;
}

uint32_t DeviceCount(const v1::LeaseRequest& r) {
  return r.device_count() == 0 ? 1 : r.device_count();
}

}  // namespace

absl::Status Coordinator::CheckRequest(const v1::LeaseRequest& request) const {
  if (DeviceCount(request) > 1024) return absl::InvalidArgumentError("device_count above 1024");
  if (request.memory() > (uint64_t{1} << 50)) {
    return absl::InvalidArgumentError("memory above 1 PiB per device");
  }
  if (request.ttl_seconds() > options_.max_ttl_seconds) {
    return absl::InvalidArgumentError(absl::StrCat("ttl_seconds ", request.ttl_seconds(),
                                                   " exceeds the pool's maximum of ",
                                                   options_.max_ttl_seconds));
  }
  if (request.wait_seconds() > options_.max_wait_seconds) {
    return absl::InvalidArgumentError(absl::StrCat("wait_seconds ", request.wait_seconds(),
                                                   " exceeds the pool's maximum of ",
                                                   options_.max_wait_seconds));
  }
  if (request.memory() != 0 && request.memory() < options_.min_fraction_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a fractional lease of ", hal::FormatByteSize(request.memory()),
        " is below the pool's smallest of ", hal::FormatByteSize(options_.min_fraction_bytes)));
  }
  if (request.holder().size() > 256) return absl::InvalidArgumentError("holder longer than 256");
  if (request.labels_size() > 64) return absl::InvalidArgumentError("more than 64 labels");
  for (const auto& [key, value] : request.labels()) {
    if (key.size() > 256 || value.size() > 256) {
      return absl::InvalidArgumentError("a label longer than 256 characters");
    }
  }
  for (const std::string* text : {&request.backend(), &request.vendor(), &request.arch()}) {
    if (text->size() > 256) return absl::InvalidArgumentError("a constraint longer than 256");
  }
  if (!request.policy().empty() && request.policy() != "binpack" && request.policy() != "spread") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown placement policy '", ClientText(request.policy()), "' (binpack or spread)"));
  }
  if (request.compute_weight() > 1000) {
    return absl::InvalidArgumentError("compute_weight above 1000");
  }
  if (request.across_nodes() && request.memory() != 0) {
    return absl::InvalidArgumentError(
        "across_nodes applies to whole devices: a fractional lease's devices share one node");
  }
  if (request.compute_weight() != 0 && request.memory() == 0) {
    return absl::InvalidArgumentError(
        "compute_weight applies to fractional leases: ask for an amount of memory too");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::LeaseResponse> Coordinator::Lease(const v1::LeaseRequest& request,
                                                     const Caller& caller,
                                                     const std::function<bool()>& cancelled) {
  const absl::Status valid = CheckRequest(request);  // needs no lock
  StateStore::Ticket ticket = 0;
  absl::StatusOr<v1::LeaseResponse> result;
  {
    absl::MutexLock lock(&mu_);
    result = PlaceLocked(valid, request, caller, cancelled, ticket);
  }
  if (result.ok() && ticket != 0) {
    // Granted once the store has kept it, waited for outside the lock:
    // other grants go on meanwhile, and their writes join the same batch.
    if (const absl::Status kept = options_.store->Wait(ticket); !kept.ok()) {
      const absl::Status why = absl::UnavailableError(absl::StrCat(
          "the pool's state store did not keep the lease, so it is not granted: ", kept.message()));
      std::vector<Notice> notices;
      {
        absl::MutexLock lock(&mu_);
        if (leases_.count(result->lease().lease_id()) != 0) {
          EndLocked(result->lease().lease_id(), why, "unstored", notices);
        }
        ServeQueueLocked();
      }
      Deliver(notices);
      result = why;
    }
  }
  CountResult(request, caller, result);
  return result;
}

void Coordinator::CountResult(const v1::LeaseRequest& request, const Caller& caller,
                              const absl::StatusOr<v1::LeaseResponse>& result) {
  AuditLog::Fields fields = {{"by", caller.identity},
                             {"tenant", caller.tenant},
                             // Capped: a refused request's holder may be any size.
                             {"holder", request.holder().substr(0, 256)},
                             {"devices", absl::StrCat(DeviceCount(request))},
                             {"memory", absl::StrCat(request.memory())}};
  if (result.ok()) {
    std::string devices;
    for (const v1::LeasedDevice& d : result->lease().devices()) {
      absl::StrAppend(&devices, devices.empty() ? "" : ",", d.device().id());
    }
    fields.insert(fields.begin(), {"lease", result->lease().lease_id()});
    fields.push_back({"on", devices});
    Audit("lease_granted", fields);
  } else {
    fields.push_back({"code", absl::StatusCodeToString(result.status().code())});
    fields.push_back({"why", std::string(result.status().message())});
    Audit("lease_refused", fields);
  }
  absl::MutexLock lock(&counts_mu_);
  if (result.ok()) {
    ++granted_;
  } else {
    ++refused_by_code_[absl::StatusCodeToString(result.status().code())];
  }
}

absl::StatusOr<v1::LeaseResponse> Coordinator::PlaceLocked(const absl::Status& valid,
                                                           const v1::LeaseRequest& request,
                                                           const Caller& caller,
                                                           const std::function<bool()>& cancelled,
                                                           StateStore::Ticket& ticket) {
  if (!valid.ok()) return valid;
  if (!tenants_.empty() && caller.tenant.empty()) {
    return absl::PermissionDeniedError(
        "this pool leases to tenants only: present a tenant's token, not an operator's");
  }
  if (!caller.tenant.empty() && tenants_.Find(caller.tenant) == nullptr) {
    return absl::UnauthenticatedError(absl::StrCat("tenant ", caller.tenant, " was deleted"));
  }
  const uint32_t count = DeviceCount(request);
  // Fractional memory is known now; whole devices' at placement.
  const uint64_t memory = request.memory() * count;
  if (absl::Status quota = tenants_.CheckQuota(caller.tenant, count, memory); !quota.ok()) {
    return quota;
  }
  if (options_.max_leases_per_tenant != 0 &&
      tenants_.Use(caller.tenant).leases >= options_.max_leases_per_tenant) {
    return absl::ResourceExhaustedError(absl::StrCat(
        caller.tenant.empty() ? std::string("anonymous holders") : "tenant " + caller.tenant,
        " hold the pool's maximum of ", options_.max_leases_per_tenant,
        " live or queued leases (max_leases_per_tenant)"));
  }
  if (queue_.size() >= options_.max_queued) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the pool's wait queue is full (", queue_.size(), " requests)"));
  }

  // Every request passes through the queue, so one that arrives while
  // others wait is served in its turn, not ahead of them.
  auto waiter = std::make_shared<Waiter>();
  waiter->request = request;
  // A queued request keeps only what the pool reads of it: unknown fields
  // could make each one megabytes.
  waiter->request.DiscardUnknownFields();
  waiter->id = absl::StrCat("l-", RandomHex(8));
  waiter->tenant = caller.tenant;
  waiter->policy = request.policy().empty() ? options_.default_policy : request.policy();
  const Tenant* tenant = tenants_.Find(caller.tenant);
  waiter->priority = tenant != nullptr ? tenant->priority : 0;
  waiter->sequence = next_sequence_++;
  waiter->since = std::chrono::steady_clock::now();
  waiter->since_unix_ms = NowUnixMs();
  tenants_.Charge(caller.tenant, count, static_cast<int64_t>(memory), 1, 1);
  auto position =
      std::upper_bound(queue_.begin(), queue_.end(), waiter,
                       [](const std::shared_ptr<Waiter>& a, const std::shared_ptr<Waiter>& b) {
                         if (a->priority != b->priority) return a->priority > b->priority;
                         return a->sequence < b->sequence;
                       });
  queue_.insert(position, waiter);
  ServeQueueLocked();

  const auto deadline =
      waiter->since + (request.wait_seconds() == 0 ? std::chrono::seconds(kTeardownWait)
                                                   : std::chrono::seconds(request.wait_seconds()));
  while (!waiter->done) {
    const auto now = std::chrono::steady_clock::now();
    absl::Status gave_up;
    if (stopping_) {
      gave_up = absl::UnavailableError("the coordinator is shutting down");
    } else if (request.wait_seconds() == 0 && (teardowns_.empty() || now >= deadline)) {
      // It may fit once the ended leases' workers are gone; else at once.
      gave_up = absl::ResourceExhaustedError(waiter->reason);
    } else if (now >= deadline) {
      gave_up = absl::DeadlineExceededError(absl::StrCat("no room within ", request.wait_seconds(),
                                                         " s of waiting: ", waiter->reason));
    } else if (cancelled != nullptr && cancelled()) {
      gave_up = absl::CancelledError("the caller stopped waiting");
    }
    if (!gave_up.ok()) {
      DequeueLocked(*waiter);
      // If it kept devices for itself, those behind it may fit now. (A
      // request that never waited kept nothing.)
      if (!stopping_ && request.wait_seconds() > 0) ServeQueueLocked();
      return gave_up;
    }
    // Woken by a placement; the timeout polls `cancelled` and the deadline.
    mu_.AwaitWithTimeout(absl::Condition(&waiter->done),
                         absl::FromChrono(std::min<std::chrono::steady_clock::duration>(
                             deadline - now, std::chrono::milliseconds(100))));
  }
  ticket = waiter->result.ok() ? waiter->store_ticket : 0;
  return waiter->result;
}

void Coordinator::DequeueLocked(const Waiter& waiter) {
  auto it = std::find_if(queue_.begin(), queue_.end(),
                         [&](const std::shared_ptr<Waiter>& w) { return w.get() == &waiter; });
  if (it == queue_.end()) return;
  queue_.erase(it);
  const uint32_t count = DeviceCount(waiter.request);
  tenants_.Charge(waiter.tenant, -int64_t{count},
                  -static_cast<int64_t>(waiter.request.memory() * count), -1, -1);
}

void Coordinator::ServeQueueLocked() {
  const auto now = std::chrono::steady_clock::now();
  // Waiters that have waited past the starvation limit and still do not
  // fit: free devices they could use are kept for them, and placements of
  // those behind them pass such devices over.
  kept_for_.clear();
  for (size_t i = 0; i < queue_.size();) {
    std::shared_ptr<Waiter> w = queue_[i];
    ++w->attempts;
    absl::StatusOr<Placement> placement = FindPlacementLocked(w->request, w->policy, w->tenant);
    if (placement.ok()) {
      uint64_t whole_memory = 0;
      if (w->request.memory() == 0) {
        for (const v1::DeviceInfo* d : placement->devices) whole_memory += d->total_memory();
      }
      // Whole devices' memory counts against the tenant's quota only once
      // it is known which devices they are.
      if (absl::Status quota = tenants_.CheckMemoryQuota(w->tenant, whole_memory); !quota.ok()) {
        w->result = quota;
      } else {
        w->result = GrantLocked(*w, *placement);
      }
      // Off the queue and its tenant's queued requests; a granted lease is
      // charged again as a lease.
      DequeueLocked(*w);
      if (w->result.ok()) {
        ChargeLeaseLocked(w->result->lease());
        const double waited = std::chrono::duration<double>(now - w->since).count();
        for (size_t b = 0; b < std::size(kQueueWaitBounds); ++b) {
          queue_waits_.at_most[b] += waited <= kQueueWaitBounds[b];
        }
        queue_waits_.sum_seconds += waited;
        ++queue_waits_.count;
      }
      w->done = true;
      continue;
    }
    if (placement.status().code() == absl::StatusCode::kNotFound && w->attempts == 1) {
      // It can never fit: say so now rather than after the wait.
      w->result = placement.status();
      DequeueLocked(*w);
      w->done = true;
      continue;
    }
    w->reason = std::string(placement.status().message());
    if (!kept_for_.empty()) {
      absl::StrAppend(&w->reason, " (free devices that ", kept_for_.front()->id,
                      ", waiting longest, could use are kept for it)");
    }
    if (w->request.wait_seconds() > 0 && now - w->since >= options_.starvation_after) {
      kept_for_.push_back(w.get());  // it has waited long enough
    }
    ++i;
  }
  kept_for_.clear();
}

bool Coordinator::FreeForLocked(const v1::DeviceInfo& d, const v1::LeaseRequest& request) const {
  if (!Matches(d, request)) return false;
  return std::none_of(kept_for_.begin(), kept_for_.end(),
                      [&](const Waiter* w) { return Matches(d, w->request); });
}

absl::StatusOr<Coordinator::Placement> Coordinator::FindPlacementLocked(
    const v1::LeaseRequest& request, const std::string& policy, const std::string& tenant) {
  const uint32_t count = DeviceCount(request);
  const bool binpack = policy == "binpack";
  absl::StatusOr<Placement> placement = absl::ResourceExhaustedError("no room");
  if (request.memory() != 0) {
    placement = PlaceFractionLocked(request, count, binpack, tenant);
  } else if (!request.across_nodes() || count == 1) {
    placement = PlaceWholeDevicesLocked(request, count, binpack);
  } else {
    // binpack keeps a gang on one node when one has room; spread spreads it.
    if (binpack) placement = PlaceWholeDevicesLocked(request, count, binpack);
    if (!placement.ok()) placement = PlaceAcrossNodesLocked(request, count, binpack);
  }
  if (placement.ok()) return placement;
  return WhyNoPlacementLocked(request, count);
}

absl::StatusOr<Coordinator::Placement> Coordinator::PlaceWholeDevicesLocked(
    const v1::LeaseRequest& request, uint32_t count, bool binpack) {
  // All devices of one lease come from one node: one session serves them.
  // Nodes are visited by their number of free devices (fewest first for
  // binpack, most for spread); the first where enough matching devices are
  // free wins. Nodes with too few free devices are never looked at.
  auto try_node = [&](const std::string& name) -> std::optional<Placement> {
    Node& node = nodes_.at(name);
    if (node.info.state() != "ready") return std::nullopt;
    Placement p;
    for (const v1::DeviceInfo& d : node.devices) {
      if (p.devices.size() == count) break;
      if (device_use_.count(d.id()) == 0 && FreeForLocked(d, request)) p.devices.push_back(&d);
    }
    if (p.devices.size() < count) return std::nullopt;
    p.nodes.assign(count, &node);
    p.reason =
        absl::StrCat(binpack ? "binpack" : "spread", ": node ", name, " had ", node.free, " of ",
                     node.devices.size(), " device(s) free, the ", binpack ? "fewest" : "most",
                     " of the ready nodes where ", count, " matching device(s) were free");
    return p;
  };
  if (binpack) {
    for (auto it = nodes_by_free_.lower_bound({count, ""}); it != nodes_by_free_.end(); ++it) {
      if (std::optional<Placement> p = try_node(it->second)) return *std::move(p);
    }
  } else {
    for (auto it = nodes_by_free_.rbegin(); it != nodes_by_free_.rend() && it->first >= count;
         ++it) {
      if (std::optional<Placement> p = try_node(it->second)) return *std::move(p);
    }
  }
  return absl::ResourceExhaustedError("no room");
}

absl::StatusOr<Coordinator::Placement> Coordinator::PlaceFractionLocked(
    const v1::LeaseRequest& request, uint32_t count, bool binpack, const std::string& tenant) {
  // A tenant with isolation=device shares devices with its own leases only,
  // and no other tenant's lease joins a device where such a lease is.
  const Tenant* who = tenants_.Find(tenant);
  const bool isolated = who != nullptr && who->device_isolation;
  auto shareable = [&](const DeviceUse& use) {
    const bool others =
        use.tenants.size() > 1 || (use.tenants.size() == 1 && use.tenants.begin()->first != tenant);
    return !others || (!isolated && use.isolated == 0);
  };
  // Each device needs `memory` unleased (and min_free_memory, if larger),
  // and no whole-device lease on it. binpack takes the devices with the
  // least left that still fits, spread the most; a node is scored by what
  // its chosen devices have left.
  const uint64_t need = std::max(request.memory(), request.min_free_memory());
  std::optional<Placement> best;
  uint64_t best_left = 0;
  std::string best_device_left;
  for (auto& [name, node] : nodes_) {
    if (node.info.state() != "ready") continue;
    std::vector<std::pair<uint64_t, const v1::DeviceInfo*>> fits;
    for (const v1::DeviceInfo& d : node.devices) {
      if (!FreeForLocked(d, request)) continue;
      uint64_t leased = 0;
      if (auto use = device_use_.find(d.id()); use != device_use_.end()) {
        if (use->second.exclusive || !shareable(use->second)) continue;
        leased = use->second.leased_memory;
      }
      const uint64_t left = d.total_memory() - std::min(d.total_memory(), leased);
      if (left >= need) fits.emplace_back(left, &d);
    }
    if (fits.size() < count) continue;
    std::stable_sort(fits.begin(), fits.end(), [&](const auto& a, const auto& b) {
      return binpack ? a.first < b.first : a.first > b.first;
    });
    uint64_t left = 0;
    for (uint32_t i = 0; i < count; ++i) left += fits[i].first;
    if (best && (binpack ? left >= best_left : left <= best_left)) continue;
    Placement p;
    p.nodes.assign(count, &node);
    for (uint32_t i = 0; i < count; ++i) p.devices.push_back(fits[i].second);
    best = std::move(p);
    best_left = left;
    best_device_left =
        absl::StrCat(fits[0].second->id(), " had ", hal::FormatByteSize(fits[0].first), " of ",
                     hal::FormatByteSize(fits[0].second->total_memory()), " unleased");
  }
  if (!best) return absl::ResourceExhaustedError("no room");
  best->reason = absl::StrCat(binpack ? "binpack" : "spread", ": ", best_device_left, ", the ",
                              binpack ? "least" : "most", " of the devices where ",
                              hal::FormatByteSize(request.memory()), " fits");
  return *std::move(best);
}

absl::StatusOr<Coordinator::Placement> Coordinator::PlaceAcrossNodesLocked(
    const v1::LeaseRequest& request, uint32_t count, bool binpack) {
  // Each ready node's matching free devices, in the policy's node order.
  std::vector<std::pair<Node*, std::vector<const v1::DeviceInfo*>>> offers;
  auto offer = [&](const std::string& name) {
    Node& node = nodes_.at(name);
    if (node.info.state() != "ready") return;
    std::vector<const v1::DeviceInfo*> free;
    for (const v1::DeviceInfo& d : node.devices) {
      if (device_use_.count(d.id()) == 0 && FreeForLocked(d, request)) free.push_back(&d);
    }
    if (!free.empty()) offers.emplace_back(&node, std::move(free));
  };
  if (binpack) {
    for (auto it = nodes_by_free_.lower_bound({1, ""}); it != nodes_by_free_.end(); ++it) {
      offer(it->second);
    }
  } else {
    for (auto it = nodes_by_free_.rbegin(); it != nodes_by_free_.rend() && it->first > 0; ++it) {
      offer(it->second);
    }
  }
  Placement p;
  // binpack: whole offers in turn; spread: one device from each in turn.
  for (size_t round = 0; p.devices.size() < count; ++round) {
    bool took = false;
    for (auto& [node, free] : offers) {
      const size_t first = binpack ? 0 : round;
      const size_t last = binpack ? free.size() : std::min(free.size(), round + 1);
      for (size_t i = first; i < last && p.devices.size() < count; ++i) {
        p.devices.push_back(free[i]);
        p.nodes.push_back(node);
        took = true;
      }
    }
    if (!took || binpack) break;
  }
  if (p.devices.size() < count) return absl::ResourceExhaustedError("no room");
  std::set<std::string> names;
  for (const Node* n : p.nodes) names.insert(n->info.name());
  p.reason = absl::StrCat(binpack ? "binpack" : "spread", ": ", count, " device(s) across ",
                          names.size(), " node(s), ",
                          binpack ? "the fullest nodes' free devices first"
                                  : "one device per node in turn, the emptiest nodes first");
  return p;
}

absl::Status Coordinator::WhyNoPlacementLocked(const v1::LeaseRequest& request, uint32_t count) {
  // This looks at every device, but only for requests that do not fit.
  uint32_t matching = 0, unavailable = 0, most_on_one_node = 0;
  for (const auto& [name, node] : nodes_) {
    uint32_t here = 0;
    for (const v1::DeviceInfo& d : node.devices) {
      if (!Matches(d, request)) continue;
      ++here;
      ++(node.info.state() == "ready" ? matching : unavailable);
    }
    most_on_one_node = std::max(most_on_one_node, here);
  }
  if (request.across_nodes() ? matching + unavailable < count : most_on_one_node < count) {
    return absl::NotFoundError(absl::StrCat(
        "no node has ", count, " device(s) matching the request (", matching + unavailable,
        " match in the whole pool, at most ", most_on_one_node, " on one node)"));
  }
  if (matching < count) {
    return absl::ResourceExhaustedError(
        absl::StrCat(unavailable, " of the ", matching + unavailable,
                     " matching device(s) are on lost or draining nodes; try again later"));
  }
  if (request.memory() != 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("no ready node has ", count, " matching device(s) with ",
                     hal::FormatByteSize(std::max(request.memory(), request.min_free_memory())),
                     " unleased and no whole-device lease; try again later"));
  }
  return absl::ResourceExhaustedError(absl::StrCat("no ready node has ", count,
                                                   " matching device(s) free of leases (", matching,
                                                   " match); try again later"));
}

absl::StatusOr<v1::LeaseResponse> Coordinator::GrantLocked(Waiter& waiter,
                                                           const Placement& placement) {
  const v1::LeaseRequest& request = waiter.request;
  const uint32_t ttl =
      request.ttl_seconds() == 0 ? options_.default_ttl_seconds : request.ttl_seconds();
  const bool shared = request.memory() != 0;
  Node& node = *placement.nodes[0];
  LeaseRecord record;
  v1::LeaseInfo& info = record.info;
  info.set_lease_id(waiter.id);
  info.set_holder(request.holder());
  info.set_tenant(waiter.tenant);
  if (const Tenant* tenant = tenants_.Find(waiter.tenant)) {
    info.set_device_isolation(tenant->device_isolation);
    info.set_max_kernel_ms(tenant->max_kernel_ms);
  }
  info.set_state("active");
  info.set_policy(waiter.policy);
  info.set_reason(placement.reason);
  if (waiter.attempts > 1) {
    absl::StrAppend(info.mutable_reason(), " (after waiting ",
                    (NowUnixMs() - waiter.since_unix_ms) / 1000, " s in the queue)");
  }
  info.set_node(node.info.name());
  info.set_node_address(node.info.address());
  info.set_created_unix_ms(NowUnixMs());
  info.set_ttl_seconds(ttl);
  info.set_expires_unix_ms(info.created_unix_ms() + int64_t{ttl} * 1000);
  for (size_t i = 0; i < placement.devices.size(); ++i) {
    const v1::DeviceInfo* d = placement.devices[i];
    v1::LeasedDevice* leased = info.add_devices();
    *leased->mutable_device() = *d;
    leased->set_node_address(placement.nodes[i]->info.address());
    leased->set_memory_quota(shared ? request.memory() : d->total_memory());
    leased->set_compute_weight(request.compute_weight() == 0 ? 1 : request.compute_weight());
    leased->set_shared(shared);
  }
  const std::string token = RandomHex(16);
  record.token_sha256 = TenantRegistry::HashToken(token);
  record.expires = std::chrono::steady_clock::now() + std::chrono::seconds(ttl);
  // Kept before it is granted: a lease the store lost would vanish at the
  // next restart under a running client. The requester waits for the write
  // once the lock is released (Lease), so concurrent grants share it.
  if (options_.store != nullptr) {
    waiter.store_ticket = options_.store->QueuePutLease({info, record.token_sha256});
  }
  for (const std::string& name : NodesOf(info)) {
    nodes_[name].info.set_leases(nodes_[name].info.leases() + 1);
  }
  v1::LeaseResponse response;
  *response.mutable_lease() = info;
  response.set_token(token);
  leases_[info.lease_id()] = std::move(record);
  return response;
}

void Coordinator::ChargeLeaseLocked(const v1::LeaseInfo& info) {
  uint64_t memory = 0;
  for (const v1::LeasedDevice& leased : info.devices()) {
    DeviceUse& use = device_use_[leased.device().id()];
    use.leases += 1;
    use.leased_memory += leased.memory_quota();
    use.exclusive = !leased.shared();
    ++use.tenants[info.tenant()];
    if (info.device_isolation()) ++use.isolated;
    memory += leased.memory_quota();
  }
  tenants_.Charge(info.tenant(), info.devices_size(), static_cast<int64_t>(memory), 1, 0);
  for (const std::string& name : NodesOf(info)) {
    if (auto node = nodes_.find(name); node != nodes_.end()) RecountFreeLocked(node->second);
  }
}

v1::LeaseInfo Coordinator::QueuedInfo(const Waiter& waiter, size_t position) const {
  v1::LeaseInfo info;
  info.set_lease_id(waiter.id);
  info.set_holder(waiter.request.holder());
  info.set_tenant(waiter.tenant);
  info.set_state("queued");
  info.set_policy(waiter.policy);
  info.set_created_unix_ms(waiter.since_unix_ms);
  info.set_reason(absl::StrCat("queued at position ", position + 1, " (priority ", waiter.priority,
                               "): ", waiter.reason));
  return info;
}

}  // namespace accel::pool
