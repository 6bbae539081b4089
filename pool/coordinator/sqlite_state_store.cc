#include "pool/coordinator/sqlite_state_store.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"

namespace accel::pool {
namespace {

constexpr char kSchema[] = R"sql(
  CREATE TABLE IF NOT EXISTS tenants (
    name TEXT PRIMARY KEY, priority INTEGER, max_devices INTEGER, max_memory INTEGER,
    max_leases INTEGER, token_sha256 TEXT, device_isolation INTEGER DEFAULT 0,
    max_kernel_ms INTEGER DEFAULT 0);
  CREATE TABLE IF NOT EXISTS drained_nodes (name TEXT PRIMARY KEY);
  CREATE TABLE IF NOT EXISTS leases (id TEXT PRIMARY KEY, token_sha256 TEXT, info BLOB);
)sql";

// Finalizes a statement however its scope is left.
struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
};

// A database an earlier poold made lacks the tenant columns added since:
// they are added, with their defaults. A column already there is fine.
bool AddColumnsOfLaterVersions(sqlite3* db, char** message) {
  for (const char* column :
       {"device_isolation INTEGER DEFAULT 0", "max_kernel_ms INTEGER DEFAULT 0"}) {
    const std::string sql = absl::StrCat("ALTER TABLE tenants ADD COLUMN ", column);
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, message) != SQLITE_OK) {
      if (*message == nullptr ||
          std::string(*message).find("duplicate column") == std::string::npos) {
        return false;
      }
      sqlite3_free(*message);
      *message = nullptr;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStateStore>> SqliteStateStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  std::unique_ptr<SqliteStateStore> store(new SqliteStateStore(db, path));
  if (rc != SQLITE_OK) return store->Error("open");
  // WAL: a commit appends to the log without rewriting pages; NORMAL syncs
  // at checkpoints, so a power cut may lose the last moments but a killed
  // process loses nothing committed. Waits up to 5 s for another writer.
  char* message = nullptr;
  if (sqlite3_exec(db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
                   nullptr, nullptr, &message) != SQLITE_OK ||
      sqlite3_exec(db, kSchema, nullptr, nullptr, &message) != SQLITE_OK ||
      !AddColumnsOfLaterVersions(db, &message)) {
    const std::string why = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    return absl::FailedPreconditionError(
        absl::StrCat("state store ", path, ": cannot set up the database: ", why));
  }
  return store;
}

SqliteStateStore::~SqliteStateStore() {
  for (auto& [sql, stmt] : prepared_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

absl::Status SqliteStateStore::Error(const char* what) const {
  const int code = db_ != nullptr ? sqlite3_extended_errcode(db_) : SQLITE_CANTOPEN;
  return absl::UnavailableError(absl::StrCat("state store ", path_, ": ", what, ": ",
                                             db_ != nullptr ? sqlite3_errmsg(db_) : "no database",
                                             " (", sqlite3_errstr(code), ", ", code, ")"));
}

absl::Status SqliteStateStore::Execute(const char* sql, const std::vector<Param>& params) {
  // Statements are prepared once each: a lease grant is one write, and
  // preparing would cost as much as the write itself.
  sqlite3_stmt*& stmt = prepared_[sql];
  if (stmt == nullptr && sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    return Error("prepare");
  }
  struct Reset {  // ready for the next call however this one ends
    sqlite3_stmt* stmt;
    ~Reset() {
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
    }
  } reset{stmt};
  for (size_t i = 0; i < params.size(); ++i) {
    const int index = static_cast<int>(i) + 1;
    int rc = SQLITE_OK;
    if (const int64_t* n = std::get_if<int64_t>(&params[i])) {
      rc = sqlite3_bind_int64(stmt, index, *n);
    } else if (const std::string* text = std::get_if<std::string>(&params[i])) {
      rc = sqlite3_bind_text(stmt, index, text->data(), static_cast<int>(text->size()),
                             SQLITE_TRANSIENT);
    } else {
      const std::string& bytes = std::get<Blob>(params[i]).bytes;
      rc = sqlite3_bind_blob(stmt, index, bytes.data(), static_cast<int>(bytes.size()),
                             SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) return Error("bind");
  }
  if (sqlite3_step(stmt) != SQLITE_DONE) return Error("write");
  return absl::OkStatus();
}

absl::StatusOr<PoolState> SqliteStateStore::Load() {
  PoolState state;
  auto text = [](sqlite3_stmt* stmt, int column) {
    const unsigned char* value = sqlite3_column_text(stmt, column);
    return value != nullptr ? std::string(reinterpret_cast<const char*>(value)) : std::string();
  };
  {
    Statement s;
    if (sqlite3_prepare_v2(db_,
                           "SELECT name, priority, max_devices, max_memory, max_leases, "
                           "token_sha256, device_isolation, max_kernel_ms FROM tenants",
                           -1, &s.stmt, nullptr) != SQLITE_OK) {
      return Error("read tenants");
    }
    int rc;
    while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) {
      Tenant t;
      t.name = text(s.stmt, 0);
      t.priority = sqlite3_column_int(s.stmt, 1);
      t.max_devices = static_cast<uint32_t>(sqlite3_column_int64(s.stmt, 2));
      t.max_memory = static_cast<uint64_t>(sqlite3_column_int64(s.stmt, 3));
      t.max_leases = static_cast<uint32_t>(sqlite3_column_int64(s.stmt, 4));
      t.token_sha256 = text(s.stmt, 5);
      t.device_isolation = sqlite3_column_int(s.stmt, 6) != 0;
      t.max_kernel_ms = static_cast<uint32_t>(sqlite3_column_int64(s.stmt, 7));
      state.tenants.push_back(std::move(t));
    }
    if (rc != SQLITE_DONE) return Error("read tenants");
  }
  {
    Statement s;
    if (sqlite3_prepare_v2(db_, "SELECT name FROM drained_nodes", -1, &s.stmt, nullptr) !=
        SQLITE_OK) {
      return Error("read drained nodes");
    }
    int rc;
    while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) state.drained_nodes.insert(text(s.stmt, 0));
    if (rc != SQLITE_DONE) return Error("read drained nodes");
  }
  {
    Statement s;
    if (sqlite3_prepare_v2(db_, "SELECT id, token_sha256, info FROM leases", -1, &s.stmt,
                           nullptr) != SQLITE_OK) {
      return Error("read leases");
    }
    int rc;
    while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) {
      StoredLease lease;
      const void* blob = sqlite3_column_blob(s.stmt, 2);
      const int size = sqlite3_column_bytes(s.stmt, 2);
      if (!lease.info.ParseFromArray(blob, size) || lease.info.lease_id() != text(s.stmt, 0)) {
        return absl::DataLossError(
            absl::StrCat("state store ", path_, ": lease ", text(s.stmt, 0), " is unreadable"));
      }
      lease.token_sha256 = text(s.stmt, 1);
      state.leases.push_back(std::move(lease));
    }
    if (rc != SQLITE_DONE) return Error("read leases");
  }
  return state;
}

absl::Status SqliteStateStore::PutTenant(const Tenant& t) {
  return Execute(
      "INSERT OR REPLACE INTO tenants (name, priority, max_devices, max_memory, max_leases, "
      "token_sha256, device_isolation, max_kernel_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      {t.name, int64_t{t.priority}, int64_t{t.max_devices}, static_cast<int64_t>(t.max_memory),
       int64_t{t.max_leases}, t.token_sha256, int64_t{t.device_isolation},
       int64_t{t.max_kernel_ms}});
}

absl::Status SqliteStateStore::DeleteTenant(const std::string& name) {
  return Execute("DELETE FROM tenants WHERE name = ?", {name});
}

absl::Status SqliteStateStore::SetDrained(const std::string& node, bool drained) {
  return Execute(drained ? "INSERT OR IGNORE INTO drained_nodes (name) VALUES (?)"
                         : "DELETE FROM drained_nodes WHERE name = ?",
                 {node});
}

absl::Status SqliteStateStore::PutLease(const StoredLease& lease) {
  return Execute("INSERT OR REPLACE INTO leases (id, token_sha256, info) VALUES (?, ?, ?)",
                 {lease.info.lease_id(), lease.token_sha256, Blob{lease.info.SerializeAsString()}});
}

absl::Status SqliteStateStore::DeleteLease(const std::string& lease_id) {
  return Execute("DELETE FROM leases WHERE id = ?", {lease_id});
}

}  // namespace accel::pool
