// The per-job event log behind `sr2ctl logs`: what happened to a job's stages and tasks, in
// order. Bounded: each job keeps its newest entries and only the most recently started jobs
// keep any. The JobManager saves it with the job state, so it survives restarts. Thread-safe (its own mutex), so readers need not take the
// JobManager's lock.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/util/clock.h"
#include "server/state/state_store.h"
#include "sr2/v1/coordinator_state.pb.h"
#include "sr2/v1/job_service.pb.h"

namespace sr2::server {

struct JobEventLogOptions {
  int max_entries_per_job = 1000;  // A 100-block job with some retries needs ~250.
  int max_jobs = 100;              // Jobs whose entries are kept, most recently started.
};

class JobEventLog {
 public:
  explicit JobEventLog(const Clock* clock, JobEventLogOptions options = {});

  // Stamps `entry` with the job's next seq and the current time and keeps it.
  void Append(const std::string& job_id, v1::JobLogEntry entry);

  struct Slice {
    std::vector<v1::JobLogEntry> entries;  // seq > after_seq, oldest first.
    int64_t dropped = 0;                   // seq > after_seq but no longer kept.
  };
  // A job without entries (unknown, or evicted) reads as empty.
  Slice Read(const std::string& job_id, int64_t after_seq) const;

  // What changed since the last call, for the state store: new entries, and the jobs whose
  // oldest entries were dropped (newest trim per job).
  struct Unsaved {
    std::vector<v1::PersistedLogEntry> entries;
    std::vector<LogTrim> trims;
  };
  Unsaved TakeUnsaved();

  // Puts back an entry saved before a restart (its seq and time as saved), oldest first.
  void Restore(const std::string& job_id, const v1::JobLogEntry& entry);

 private:
  struct JobLog {
    std::deque<v1::JobLogEntry> entries;
    int64_t next_seq = 1;  // Kept when the entries are evicted, so seqs never repeat.
    bool listed = false;   // In order_.
  };

  // Adds `entry` (already stamped) and applies the bounds, noting what they drop.
  void KeepLocked(const std::string& job_id, v1::JobLogEntry entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* clock_;
  const JobEventLogOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, JobLog> logs_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);  // Jobs with entries, oldest first.
  std::vector<v1::PersistedLogEntry> unsaved_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> trims_ ABSL_GUARDED_BY(mu_);  // Job -> first kept seq.
};

}  // namespace sr2::server
