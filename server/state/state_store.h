// The coordinator's durable memory: jobs and their tasks, saved as they change so that a
// coordinator killed at any moment resumes every unfinished job when it restarts
// (docs/scheduling.md). An interface so that tests can inject write failures.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sr2/v1/coordinator_state.pb.h"

namespace sr2::server {

// Writes that must land together or not at all (one coordinator state transition).
struct StateBatch {
  std::vector<v1::PersistedJob> jobs;          // Inserted or replaced, by job id.
  std::vector<v1::PersistedTask> tasks;        // Inserted or replaced, by task id.
  std::vector<std::string> jobs_without_tasks;  // Delete every task of these jobs.

  bool empty() const { return jobs.empty() && tasks.empty() && jobs_without_tasks.empty(); }
};

struct StateSnapshot {
  std::vector<v1::PersistedJob> jobs;
  std::vector<v1::PersistedTask> tasks;  // In the order they were first saved.
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  // Applies the batch atomically; an error means nothing of it was saved.
  virtual absl::Status Apply(const StateBatch& batch) = 0;
  virtual absl::StatusOr<StateSnapshot> Load() = 0;
};

}  // namespace sr2::server
