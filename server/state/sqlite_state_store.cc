#include "server/state/sqlite_state_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/util/status_macros.h"

namespace sr2::server {
namespace {

// 2 added the events table; CREATE TABLE IF NOT EXISTS upgrades a version-1 database.
constexpr int kSchemaVersion = 2;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  id   TEXT PRIMARY KEY,
  data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
  seq    INTEGER PRIMARY KEY AUTOINCREMENT,
  id     TEXT NOT NULL UNIQUE,
  job_id TEXT NOT NULL,
  data   BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_job ON tasks(job_id);
CREATE TABLE IF NOT EXISTS events (
  row    INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL,
  seq    INTEGER NOT NULL,
  data   BLOB NOT NULL,
  UNIQUE(job_id, seq)
);
)sql";

// Prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  void BindText(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void BindBlob(int i, const std::string& s) {
    sqlite3_bind_blob(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  std::string ColumnBlob(int i) {
    const void* p = sqlite3_column_blob(stmt_, i);
    return std::string(static_cast<const char*>(p), sqlite3_column_bytes(stmt_, i));
  }
  // Runs a statement that returns no rows and resets it for the next bindings.
  int StepDone() {
    const int rc = sqlite3_step(stmt_);
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    return rc;
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

absl::Status SqliteError(sqlite3* db, const std::string& dir, const std::string& what) {
  const int code = sqlite3_errcode(db);
  std::string message = absl::StrCat("coordinator state in ", dir, ": ", what, ": ",
                                     sqlite3_errmsg(db));
  if (code == SQLITE_FULL) return absl::ResourceExhaustedError(message + " (disk full)");
  return absl::InternalError(message);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStateStore>> SqliteStateStore::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create state dir ", dir, ": ", ec.message()));
  }
  const std::string lock_path = dir + "/LOCK";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", lock_path, ": ", std::strerror(errno)));
  }
  // The lock dies with the process, so a SIGKILLed coordinator never blocks its successor.
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return absl::FailedPreconditionError(
        absl::StrCat("state dir ", dir, " is in use by another sr2-coordinator"));
  }
  sqlite3* db = nullptr;
  const std::string db_path = dir + "/state.db";
  if (sqlite3_open_v2(db_path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    absl::Status s = SqliteError(db, dir, "open state.db");
    sqlite3_close(db);
    ::close(lock_fd);
    return s;
  }
  std::unique_ptr<SqliteStateStore> store(new SqliteStateStore(dir, db, lock_fd));
  // WAL + NORMAL: a commit survives the process being killed (the OS has the WAL pages); only
  // a machine crash can lose the last transactions, never corrupt the database.
  if (absl::Status s = store->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
      !s.ok()) {
    return s;
  }
  Statement version(db, "PRAGMA user_version");
  if (!version.ok() || sqlite3_step(version.get()) != SQLITE_ROW) {
    return SqliteError(db, dir, "read schema version");
  }
  const int found = sqlite3_column_int(version.get(), 0);
  if (found > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "state dir ", dir, " was written by a newer sr2-coordinator (schema ", found,
        ", this one knows ", kSchemaVersion, ")"));
  }
  if (absl::Status s = store->Exec(kSchema); !s.ok()) return s;
  if (absl::Status s = store->Exec(absl::StrCat("PRAGMA user_version=", kSchemaVersion).c_str());
      !s.ok()) {
    return s;
  }
  return store;
}

SqliteStateStore::SqliteStateStore(std::string dir, sqlite3* db, int lock_fd)
    : dir_(std::move(dir)), db_(db), lock_fd_(lock_fd) {}

SqliteStateStore::~SqliteStateStore() {
  sqlite3_close(db_);
  ::close(lock_fd_);
}

absl::Status SqliteStateStore::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    absl::Status s = SqliteError(db_, dir_, error ? error : "exec");
    sqlite3_free(error);
    return s;
  }
  return absl::OkStatus();
}

absl::Status SqliteStateStore::Apply(const StateBatch& batch) {
  if (batch.empty()) return absl::OkStatus();
  if (absl::Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  auto fail = [&](const char* what) {
    absl::Status s = SqliteError(db_, dir_, what);
    (void)Exec("ROLLBACK");
    return s;
  };
  Statement delete_tasks(db_, "DELETE FROM tasks WHERE job_id = ?1");
  Statement upsert_job(db_,
                       "INSERT INTO jobs(id, data) VALUES(?1, ?2) "
                       "ON CONFLICT(id) DO UPDATE SET data = excluded.data");
  Statement upsert_task(db_,
                        "INSERT INTO tasks(id, job_id, data) VALUES(?1, ?2, ?3) "
                        "ON CONFLICT(id) DO UPDATE SET data = excluded.data");
  Statement trim_events(db_, "DELETE FROM events WHERE job_id = ?1 AND seq < ?2");
  Statement insert_event(db_,
                         "INSERT INTO events(job_id, seq, data) VALUES(?1, ?2, ?3) "
                         "ON CONFLICT(job_id, seq) DO UPDATE SET data = excluded.data");
  if (!delete_tasks.ok() || !upsert_job.ok() || !upsert_task.ok() || !trim_events.ok() ||
      !insert_event.ok()) {
    return fail("prepare");
  }
  for (const std::string& job_id : batch.jobs_without_tasks) {
    delete_tasks.BindText(1, job_id);
    if (delete_tasks.StepDone() != SQLITE_DONE) return fail("delete tasks");
  }
  for (const v1::PersistedJob& job : batch.jobs) {
    upsert_job.BindText(1, job.job().id());
    upsert_job.BindBlob(2, job.SerializeAsString());
    if (upsert_job.StepDone() != SQLITE_DONE) return fail("save job");
  }
  for (const v1::PersistedTask& task : batch.tasks) {
    upsert_task.BindText(1, task.task().task_id());
    upsert_task.BindText(2, task.task().job_id());
    upsert_task.BindBlob(3, task.SerializeAsString());
    if (upsert_task.StepDone() != SQLITE_DONE) return fail("save task");
  }
  for (const LogTrim& trim : batch.log_trims) {
    trim_events.BindText(1, trim.job_id);
    sqlite3_bind_int64(trim_events.get(), 2, trim.first_kept_seq);
    if (trim_events.StepDone() != SQLITE_DONE) return fail("trim event log");
  }
  for (const v1::PersistedLogEntry& event : batch.log_entries) {
    insert_event.BindText(1, event.job_id());
    sqlite3_bind_int64(insert_event.get(), 2, event.entry().seq());
    insert_event.BindBlob(3, event.SerializeAsString());
    if (insert_event.StepDone() != SQLITE_DONE) return fail("save event log");
  }
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return fail("commit");
  return absl::OkStatus();
}

absl::StatusOr<StateSnapshot> SqliteStateStore::Load() {
  StateSnapshot snapshot;
  SR2_RETURN_IF_ERROR(ReadRows("SELECT data FROM jobs ORDER BY id", "job", snapshot.jobs));
  SR2_RETURN_IF_ERROR(ReadRows("SELECT data FROM tasks ORDER BY seq", "task", snapshot.tasks));
  SR2_RETURN_IF_ERROR(
      ReadRows("SELECT data FROM events ORDER BY row", "event-log", snapshot.log_entries));
  return snapshot;
}

template <typename Message>
absl::Status SqliteStateStore::ReadRows(const char* sql, const char* what,
                                        std::vector<Message>& rows) {
  Statement select(db_, sql);
  if (!select.ok()) return SqliteError(db_, dir_, absl::StrCat("read ", what, " rows"));
  int rc;
  while ((rc = sqlite3_step(select.get())) == SQLITE_ROW) {
    if (!rows.emplace_back().ParseFromString(select.ColumnBlob(0))) {
      return absl::DataLossError(
          absl::StrCat("coordinator state in ", dir_, ": a ", what, " row is corrupt"));
    }
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, dir_, absl::StrCat("read ", what, " rows"));
  return absl::OkStatus();
}

}  // namespace sr2::server
