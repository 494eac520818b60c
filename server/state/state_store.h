// The coordinator's durable memory: jobs, their tasks and their event logs, saved as they
// change so that a
// coordinator killed at any moment resumes every unfinished job when it restarts
// (docs/scheduling.md). An interface so that tests can inject write failures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sr2/v1/coordinator_state.pb.h"

namespace sr2::server {

// Event-log entries of `job_id` with a seq below `first_kept_seq` are no longer kept.
struct LogTrim {
  std::string job_id;
  int64_t first_kept_seq = 0;
};

// Writes that must land together or not at all (one coordinator state transition).
struct StateBatch {
  std::vector<v1::PersistedJob> jobs;          // Inserted or replaced, by job id.
  std::vector<v1::PersistedTask> tasks;        // Inserted or replaced, by task id.
  std::vector<std::string> jobs_without_tasks;  // Delete every task of these jobs.
  std::vector<v1::PersistedLogEntry> log_entries;  // Appended, by (job id, seq).
  std::vector<LogTrim> log_trims;                   // Applied before the appends.

  bool empty() const {
    return jobs.empty() && tasks.empty() && jobs_without_tasks.empty() && log_entries.empty() &&
           log_trims.empty();
  }
};

struct StateSnapshot {
  std::vector<v1::PersistedJob> jobs;
  std::vector<v1::PersistedTask> tasks;               // In the order they were first saved.
  std::vector<v1::PersistedLogEntry> log_entries;     // In the order they were saved.
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  // Applies the batch atomically; an error means nothing of it was saved.
  virtual absl::Status Apply(const StateBatch& batch) = 0;
  virtual absl::StatusOr<StateSnapshot> Load() = 0;
};

}  // namespace sr2::server
