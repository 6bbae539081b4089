// poold's flags: the coordinator role, which keeps and places leases.
// Grouped in files so that poold --help lists them by role.
#include "pool/poold/flags.h"
#include "pool/poold/poold.h"

ABSL_FLAG(int, lease_ttl, accel::pool::PooldOptions().lease_ttl,
          "default lease TTL in seconds; holders renew at a third of it");
ABSL_FLAG(int, max_leases_per_tenant, accel::pool::PooldOptions().max_leases_per_tenant,
          "coordinator: live and queued leases of one tenant, beyond its quota (in a pool "
          "without tenants: of all anonymous holders together); 0: no limit");
ABSL_FLAG(std::string, min_fraction, accel::pool::PooldOptions().min_fraction,
          "coordinator: the smallest fractional lease (each costs a session and its worker)");
ABSL_FLAG(int, node_heartbeat_ms, accel::pool::PooldOptions().node_heartbeat_ms,
          "coordinator: how often nodes heartbeat; three missed heartbeats mark a node lost");
ABSL_FLAG(std::string, tenants, accel::pool::PooldOptions().tenants,
          "coordinator: tenant file ('tenant NAME priority=N devices=N memory=SIZE leases=N "
          "token_sha256=HEX' a line); with tenants, only their tokens may lease");
ABSL_FLAG(std::string, state, accel::pool::PooldOptions().state,
          "coordinator: where tenants, drained nodes and live leases are kept: a SQLite file "
          "(created if missing), or etcd://HOST:PORT[,HOST:PORT...][/PREFIX] for a highly "
          "available pool whose coordinators share it and elect a leader; empty: in memory "
          "only");
ABSL_FLAG(int, election_ttl, accel::pool::PooldOptions().election_ttl,
          "coordinator with --state etcd://: the leader's etcd lease in seconds; a leader "
          "that dies or loses etcd is replaced within about this long");
ABSL_FLAG(int, etcd_compaction_minutes, accel::pool::PooldOptions().etcd_compaction_minutes,
          "coordinator with --state etcd://: the leader compacts etcd's history (of every "
          "key, not the pool's only) to what it was this many minutes ago, every this many "
          "minutes; 0: never, for an etcd that compacts itself (--auto-compaction-retention)");
ABSL_FLAG(std::string, placement, accel::pool::PooldOptions().placement,
          "coordinator: placement policy for requests that name none: binpack or spread");
ABSL_FLAG(int, queue_starvation_after_ms, accel::pool::PooldOptions().queue_starvation_after_ms,
          "coordinator: a queued request that has waited this long keeps what frees up for "
          "itself, ahead of smaller requests behind it");
ABSL_FLAG(int, dashboard_sample_seconds, accel::pool::PooldOptions().dashboard_sample_seconds,
          "coordinator: how often the dashboard's charts sample the pool (an hour of samples "
          "is kept in memory)");
