// StateStore in an SQLite database (WAL journal) inside the coordinator's --state-dir. The
// folder is locked so that two coordinators never share it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/state/state_store.h"

struct sqlite3;

namespace sr2::server {

class SqliteStateStore : public StateStore {
 public:
  // Creates `dir` if needed, takes its lock and opens (or creates) `dir/state.db`.
  static absl::StatusOr<std::unique_ptr<SqliteStateStore>> Open(const std::string& dir);
  ~SqliteStateStore() override;

  absl::Status Apply(const StateBatch& batch) override;
  absl::StatusOr<StateSnapshot> Load() override;

 private:
  SqliteStateStore(std::string dir, sqlite3* db, int lock_fd);
  absl::Status Exec(const char* sql);
  // Parses the one blob column of every row `sql` selects into `rows`.
  template <typename Message>
  absl::Status ReadRows(const char* sql, const char* what, std::vector<Message>& rows);

  const std::string dir_;
  sqlite3* db_;
  int lock_fd_;
};

}  // namespace sr2::server
