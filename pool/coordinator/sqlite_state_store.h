// The coordinator's state in one SQLite file (poold --state PATH): the
// embedded default, with nothing else to run. Write-ahead logging keeps a
// write per change cheap, and a crash loses no committed change. Calls must
// not overlap: the coordinator makes them under its lock.
#ifndef ACCEL_POOL_COORDINATOR_SQLITE_STATE_STORE_H_
#define ACCEL_POOL_COORDINATOR_SQLITE_STATE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "pool/coordinator/state_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace accel::pool {

class SqliteStateStore final : public StateStore {
 public:
  // Opens (creating if need be) the database at `path`.
  static absl::StatusOr<std::unique_ptr<SqliteStateStore>> Open(const std::string& path);
  ~SqliteStateStore() override;

  absl::StatusOr<PoolState> Load() override;
  absl::Status PutTenant(const Tenant& tenant) override;
  absl::Status DeleteTenant(const std::string& name) override;
  absl::Status SetDrained(const std::string& node, bool drained) override;
  absl::Status PutLease(const StoredLease& lease) override;
  absl::Status DeleteLease(const std::string& lease_id) override;

 private:
  explicit SqliteStateStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  struct Blob {
    std::string bytes;
  };
  using Param = std::variant<int64_t, std::string, Blob>;
  // Runs one statement with `params` bound in order.
  absl::Status Execute(const char* sql, const std::vector<Param>& params);
  absl::Status Error(const char* what) const;

  sqlite3* db_;
  const std::string path_;
  std::map<std::string, sqlite3_stmt*> prepared_;  // by SQL text
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_SQLITE_STATE_STORE_H_
