// Owns every job and drives it through its stages (design.md §2): inspect and assemble run
// on the coordinator's driver thread; calibrate, quantize and evaluate are tasks that workers
// pull from the TaskScheduler. All state is guarded by one mutex.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/model/model_layout.h"
#include "common/util/clock.h"
#include "server/coordinator_options.h"
#include "server/coordinator_stats.h"
#include "server/job_event_log.h"
#include "server/state/state_store.h"
#include "server/task_scheduler.h"
#include "sr2/v1/job_service.pb.h"
#include "sr2/v1/worker_service.pb.h"

namespace sr2::server {

class JobManager {
 public:
  // `state` saves every job and task transition; it must outlive the manager. `events`
  // (optional) hears of every task attempt's start and end.
  JobManager(const CoordinatorOptions& options, const Clock* clock, StateStore* state,
             TaskEvents* events = nullptr);
  ~JobManager();
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  // Loads the saved jobs and tasks and resumes the unfinished jobs (call before Start()):
  // finished tasks stay finished, leases of running tasks stay valid for a fresh lease period.
  absl::Status Restore();
  // Starts the driver and lease-sweeper threads.
  void Start();
  // Stops the threads; pending driver actions are dropped (jobs stay as they are).
  void Stop();

  // --- Client API ---
  absl::StatusOr<std::string> Submit(v1::JobSpec spec);
  absl::StatusOr<v1::Job> Get(const std::string& job_id) const;
  std::vector<v1::Job> List() const;
  absl::StatusOr<v1::JobState> Cancel(const std::string& job_id);
  // Re-solves a mixed-precision job's allocation for `avg_bits` from its DeltaLoss table.
  absl::StatusOr<v1::Allocation> Replan(const std::string& job_id, double avg_bits) const;
  // Blocks until the job's version exceeds `*version` or `timeout` passes; returns the job and
  // updates `*version`. NotFound for unknown jobs; DeadlineExceeded on timeout.
  absl::StatusOr<v1::Job> WaitForChange(const std::string& job_id, int64_t* version,
                                        absl::Duration timeout) const;
  // Each job's events (stages, tasks, outcome) for `sr2ctl logs`.
  const JobEventLog& events() const { return events_; }

  // --- Worker protocol ---
  absl::StatusOr<v1::RegisterWorkerResponse> RegisterWorker(const v1::WorkerInfo& info);
  // Waits up to `wait` for a task; an empty optional when none became ready.
  absl::StatusOr<std::optional<v1::Task>> AcquireTask(const std::string& worker_id,
                                                      absl::Duration wait);
  v1::HeartbeatResponse Heartbeat(const v1::HeartbeatRequest& request);
  absl::Status CompleteTask(const v1::CompleteTaskRequest& request);
  absl::Status FailTask(const v1::FailTaskRequest& request);

  // --- Monitoring ---
  CoordinatorStats Stats() const;

 private:
  struct JobRecord {
    v1::Job job;
    int64_t version = 0;
    int num_blocks = 0;
    std::string work_uri;
    std::vector<v1::LayerResult> skipped;
    std::vector<LinearLayer> layers;        // Quantizable layers (mixed precision allocates them).
    std::map<int, v1::TaskRequirements> needs;  // by v1::TaskKind (task_requirements.h)
    std::map<int, int64_t> stage_start_ms;  // by v1::Stage
    int64_t start_ms = 0;                   // monotonic, for ETA
    bool cleaned_up = false;                // RunCleanup finished after the job ended.
  };

  void Post(std::function<void()> action);
  void DriverLoop();
  void SweepLoop();

  // Driver actions (run without the lock; they take it to apply results).
  void RunInspect(const std::string& job_id);
  void RunAllocate(const std::string& job_id);
  void RunAssemble(const std::string& job_id);
  void RunPublish(const std::string& job_id);
  // Removes an ended job's work files (and its staged output unless it succeeded), then
  // saves that it did; a restart repeats it for ended jobs not marked cleaned up.
  void RunCleanup(const std::string& job_id);

  JobRecord* FindLocked(const std::string& job_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EnterStageLocked(JobRecord& rec, v1::Stage stage, int total)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishStageLocked(JobRecord& rec, v1::Stage stage) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailJobLocked(JobRecord& rec, const std::string& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Refreshes progress, saves the job with every task change since the last save, and wakes
  // watchers. A job whose state cannot be saved fails: a restart would lose its progress.
  void TouchLocked(JobRecord& rec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Refreshes progress and wakes watchers without saving: for changes that need not survive
  // a restart (heartbeat progress, the waiting reason).
  void NotifyLocked(JobRecord& rec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SaveLocked(const JobRecord& rec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ResumeLocked(JobRecord& rec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RefreshProgressLocked(JobRecord& rec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnTaskDoneLocked(JobRecord& rec, const TaskRecord& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::Task BaseTaskLocked(const JobRecord& rec, v1::TaskKind kind, const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddBlockTasksLocked(JobRecord& rec,
                           const std::vector<std::vector<v1::LayerAssignment>>& blocks)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int DoneTasksLocked(const std::string& job_id, v1::TaskKind kind) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleAttemptEndLocked(const AttemptEnd& end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkSeenLocked(const std::string& worker_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static bool IsTerminal(v1::JobState s);

  const CoordinatorOptions options_;
  const Clock* clock_;
  StateStore* const state_;
  JobEventLog events_{clock_};

  mutable absl::Mutex mu_;
  mutable absl::CondVar changed_cv_;  // Any job changed (watchers).
  absl::CondVar work_cv_;             // A task may have become ready, or stopping.
  absl::CondVar driver_cv_;           // An action was posted, or stopping.
  absl::CondVar sweep_cv_;            // Only for stopping the sweeper early.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, JobRecord> jobs_ ABSL_GUARDED_BY(mu_);
  TaskScheduler scheduler_ ABSL_GUARDED_BY(mu_);
  struct WorkerRecord {
    v1::WorkerInfo info;
    int64_t last_seen_ms = 0;  // Last acquire or heartbeat.
  };
  // Explains in Job.waiting_reason when no live worker can hold a job's ready task.
  void UpdateWaitingReasonsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  WorkerCapacity CapacityOf(const std::string& worker_id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool IsLiveLocked(const WorkerRecord& worker) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::map<std::string, WorkerRecord> workers_ ABSL_GUARDED_BY(mu_);
  int64_t next_worker_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<std::function<void()>> actions_ ABSL_GUARDED_BY(mu_);

  std::thread driver_;
  std::thread sweeper_;
};

}  // namespace sr2::server
