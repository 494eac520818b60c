// The per-job event log behind `sr2ctl logs`: what happened to a job's stages and tasks, in
// order. Bounded in memory: each job keeps its newest entries and only the most recently
// started jobs keep any. Thread-safe (its own mutex), so readers need not take the
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
  // A job without entries (unknown, or logged before a restart) reads as empty.
  Slice Read(const std::string& job_id, int64_t after_seq) const;

 private:
  struct JobLog {
    std::deque<v1::JobLogEntry> entries;
    int64_t next_seq = 1;  // Kept when the entries are evicted, so seqs never repeat.
    bool listed = false;   // In order_.
  };

  const Clock* clock_;
  const JobEventLogOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, JobLog> logs_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);  // Jobs with entries, oldest first.
};

}  // namespace sr2::server
