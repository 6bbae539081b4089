// poold's flags: the coordinator role, which keeps and places leases.
// Grouped in files so that poold --help lists them by role.
#include "pool/poold/flags.h"

ABSL_FLAG(int, lease_ttl, 30, "default lease TTL in seconds; holders renew at a third of it");
ABSL_FLAG(int, max_leases_per_tenant, 1024,
          "coordinator: live and queued leases of one tenant, beyond its quota (in a pool "
          "without tenants: of all anonymous holders together); 0: no limit");
ABSL_FLAG(std::string, min_fraction, "16MiB",
          "coordinator: the smallest fractional lease (each costs a session and its worker)");
ABSL_FLAG(int, node_heartbeat_ms, 1000,
          "coordinator: how often nodes heartbeat; three missed heartbeats mark a node lost");
ABSL_FLAG(std::string, tenants, "",
          "coordinator: tenant file ('tenant NAME priority=N devices=N memory=SIZE leases=N "
          "token_sha256=HEX' a line); with tenants, only their tokens may lease");
ABSL_FLAG(std::string, state, "",
          "coordinator: where tenants, drained nodes and live leases are kept: a SQLite file "
          "(created if missing), or etcd://HOST:PORT[,HOST:PORT...][/PREFIX] for a highly "
          "available pool whose coordinators share it and elect a leader; empty: in memory "
          "only");
ABSL_FLAG(int, election_ttl, 5,
          "coordinator with --state etcd://: the leader's etcd lease in seconds; a leader "
          "that dies or loses etcd is replaced within about this long");
ABSL_FLAG(std::string, placement, "binpack",
          "coordinator: placement policy for requests that name none: binpack or spread");
ABSL_FLAG(int, queue_starvation_after_ms, 30000,
          "coordinator: a queued request that has waited this long keeps what frees up for "
          "itself, ahead of smaller requests behind it");
