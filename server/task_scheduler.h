// The task queue with leases (design.md §1 "pull scheduling"). Tasks wait for their
// dependencies, become ready, are granted to workers under a lease, and either complete, fail
// (retried up to a limit) or lose their lease when heartbeats stop.
//
// Not thread-safe: the JobManager calls it under its own mutex.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/util/clock.h"
#include "server/task_events.h"
#include "sr2/v1/worker_service.pb.h"

namespace sr2::server {

struct SchedulerOptions {
  int lease_ms = 15000;
  int max_attempts = 3;
};

enum class TaskState { kWaiting, kReady, kRunning, kDone };

struct TaskRecord {
  v1::Task task;                  // task_id, job_id, kind, ... (lease_id set when granted).
  std::vector<std::string> deps;  // Task ids that must be done first.
  TaskState state = TaskState::kWaiting;
  int attempts = 0;               // Grants so far.
  std::string worker_id;
  int64_t lease_deadline_ms = 0;
  int64_t started_ms = 0;
  double progress = 0;            // From heartbeats, 0..1.
  double best_loss = 0;
  std::string last_error;
  v1::TaskOutput output;
};

// What a worker offers (WorkerInfo, as registered).
struct WorkerCapacity {
  std::string worker_id;
  std::string device;        // "cpu", "cuda:0", ...
  int64_t memory_bytes = 0;  // 0 = unknown: any memory requirement is accepted.
};

// Whether `worker` can run a task with `needs`: the device kind matches ("cuda" accepts any
// "cuda:N") and the memory fits.
bool CanHold(const WorkerCapacity& worker, const v1::TaskRequirements& needs);

// What became of a task whose attempt ended without success.
struct AttemptEnd {
  std::string task_id;
  std::string job_id;
  bool exhausted = false;  // No attempts left (or not retryable): the job must fail.
  std::string error;
  // For the job's event log.
  std::string worker_id;
  int attempt = 0;         // The attempt that ended, 1-based.
  int max_attempts = 0;
  int64_t started_ms = 0;  // When that attempt was granted (Clock::NowMs).
  bool lease_expired = false;
};

class TaskScheduler {
 public:
  // `events` (optional) hears of every attempt's start and end.
  TaskScheduler(const Clock* clock, SchedulerOptions options, TaskEvents* events = nullptr);

  // Adds a task; it becomes ready once every dependency is done. REQUIRES: unique task_id.
  void Add(v1::Task task, std::vector<std::string> deps);

  // Grants the next ready task that `worker` can hold, rotating over jobs so that none
  // starves.
  std::optional<v1::Task> Acquire(const WorkerCapacity& worker);

  // Renews the lease of a running task. FailedPrecondition when the lease is stale (expired
  // and re-granted, or the task is gone).
  absl::Status Renew(const std::string& task_id, int64_t lease_id, double progress,
                     double best_loss);

  // Marks a running task done; its dependents may become ready. FailedPrecondition for a
  // stale lease (a late result from a worker that lost it is rejected).
  absl::Status Complete(const std::string& task_id, int64_t lease_id, v1::TaskOutput output);

  // Ends an attempt with an error: re-queued while attempts remain and `retryable`.
  // FailedPrecondition for a stale lease.
  absl::StatusOr<AttemptEnd> Fail(const std::string& task_id, int64_t lease_id,
                                  const std::string& error, bool retryable);

  // Re-queues (or exhausts) every running task whose lease has expired.
  std::vector<AttemptEnd> ExpireLeases();

  // Forgets every task of a job (cancel, failure, success).
  void RemoveJob(const std::string& job_id);

  // Puts back a task from the coordinator's saved state, in the order they were first added.
  // A running task keeps its lease (the worker may still be on it) with a fresh deadline;
  // kReady/kWaiting are recomputed from the dependencies by FinishRestore().
  void Restore(TaskRecord record);
  void FinishRestore();

  // Task ids added or changed (state, lease, attempts, output) and jobs removed since the last
  // call: what the coordinator must save. Heartbeat progress is not a change worth saving.
  struct Changes {
    std::vector<std::string> tasks;
    std::vector<std::string> removed_jobs;
  };
  Changes TakeChanges();

  // nullptr when unknown.
  const TaskRecord* Find(const std::string& task_id) const;
  std::vector<const TaskRecord*> TasksOfJob(const std::string& job_id) const;
  bool HasReadyTaskFor(const WorkerCapacity& worker) const;
  // Ready tasks, oldest first (for explaining why they wait).
  std::vector<const TaskRecord*> ReadyTasks() const;
  int ReadyCount() const { return static_cast<int>(ready_.size()); }

 private:
  void PromoteDependents(const std::string& done_id);
  bool DepsDone(const TaskRecord& t) const;
  AttemptEnd EndAttempt(TaskRecord& t, const std::string& error, bool retryable);
  void MarkChanged(const std::string& task_id) { changed_.insert(task_id); }
  void ReportEnd(const TaskRecord& t, AttemptOutcome outcome);

  const Clock* clock_;
  SchedulerOptions options_;
  TaskEvents* events_;
  int64_t next_lease_id_ = 1;
  std::map<std::string, TaskRecord> tasks_;
  std::multimap<std::string, std::string> dependents_;  // dep id -> task ids waiting on it
  std::deque<std::string> ready_;                        // FIFO of ready task ids
  std::map<std::string, int64_t> job_last_grant_;        // for fairness across jobs
  int64_t grant_counter_ = 0;
  std::vector<std::string> restored_;  // Restore() order, until FinishRestore().
  std::set<std::string> changed_;
  std::vector<std::string> removed_jobs_;
};

}  // namespace sr2::server
