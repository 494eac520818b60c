#include "server/task_scheduler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace sr2::server {

TaskScheduler::TaskScheduler(const Clock* clock, SchedulerOptions options, TaskEvents* events)
    : clock_(clock), options_(options), events_(events) {}

void TaskScheduler::ReportEnd(const TaskRecord& t, AttemptOutcome outcome) {
  if (events_ == nullptr) return;
  events_->AttemptEnded(t.task, outcome, (clock_->NowMs() - t.started_ms) / 1000.0,
                        t.state == TaskState::kReady);
}

void TaskScheduler::Add(v1::Task task, std::vector<std::string> deps) {
  const std::string id = task.task_id();
  TaskRecord& rec = tasks_[id];
  rec.task = std::move(task);
  rec.deps = std::move(deps);
  for (const std::string& d : rec.deps) dependents_.emplace(d, id);
  MarkChanged(id);
  if (DepsDone(rec)) {
    rec.state = TaskState::kReady;
    ready_.push_back(id);
  }
}

void TaskScheduler::Restore(TaskRecord record) {
  const std::string id = record.task.task_id();
  next_lease_id_ = std::max(next_lease_id_, record.task.lease_id() + 1);
  if (record.state == TaskState::kRunning) {
    record.lease_deadline_ms = clock_->NowMs() + options_.lease_ms;
    record.started_ms = clock_->NowMs();
  }
  for (const std::string& d : record.deps) dependents_.emplace(d, id);
  tasks_[id] = std::move(record);
  restored_.push_back(id);
}

void TaskScheduler::FinishRestore() {
  for (const std::string& id : restored_) {
    TaskRecord& t = tasks_.at(id);
    if (t.state == TaskState::kRunning || t.state == TaskState::kDone) continue;
    t.state = DepsDone(t) ? TaskState::kReady : TaskState::kWaiting;
    if (t.state == TaskState::kReady) ready_.push_back(id);
  }
  restored_.clear();
}

TaskScheduler::Changes TaskScheduler::TakeChanges() {
  Changes changes;
  changes.tasks.assign(changed_.begin(), changed_.end());
  changes.removed_jobs = std::move(removed_jobs_);
  changed_.clear();
  removed_jobs_.clear();
  return changes;
}

bool TaskScheduler::DepsDone(const TaskRecord& t) const {
  return std::all_of(t.deps.begin(), t.deps.end(), [&](const std::string& d) {
    auto it = tasks_.find(d);
    return it != tasks_.end() && it->second.state == TaskState::kDone;
  });
}

bool CanHold(const WorkerCapacity& worker, const v1::TaskRequirements& needs) {
  if (!needs.device().empty()) {
    const std::string kind = worker.device.substr(0, worker.device.find(':'));
    if (kind != needs.device()) return false;
  }
  return worker.memory_bytes == 0 || needs.memory_bytes() <= worker.memory_bytes;
}

bool TaskScheduler::HasReadyTaskFor(const WorkerCapacity& worker) const {
  return std::any_of(ready_.begin(), ready_.end(), [&](const std::string& id) {
    return CanHold(worker, tasks_.at(id).task.requirements());
  });
}

std::vector<const TaskRecord*> TaskScheduler::ReadyTasks() const {
  std::vector<const TaskRecord*> out;
  for (const std::string& id : ready_) out.push_back(&tasks_.at(id));
  return out;
}

std::optional<v1::Task> TaskScheduler::Acquire(const WorkerCapacity& worker) {
  // Fairness: among ready tasks the worker can hold, pick the one whose job was granted least
  // recently; FIFO within a job keeps block order.
  auto best = ready_.end();
  int64_t best_grant = 0;
  for (auto it = ready_.begin(); it != ready_.end(); ++it) {
    if (!CanHold(worker, tasks_.at(*it).task.requirements())) continue;
    const std::string& job = tasks_.at(*it).task.job_id();
    auto g = job_last_grant_.find(job);
    const int64_t last = g == job_last_grant_.end() ? -1 : g->second;
    if (best == ready_.end() || last < best_grant) {
      best = it;
      best_grant = last;
    }
  }
  if (best == ready_.end()) return std::nullopt;
  TaskRecord& rec = tasks_.at(*best);
  ready_.erase(best);
  rec.state = TaskState::kRunning;
  rec.attempts++;
  rec.worker_id = worker.worker_id;
  rec.started_ms = clock_->NowMs();
  rec.lease_deadline_ms = rec.started_ms + options_.lease_ms;
  rec.progress = 0;
  rec.task.set_lease_id(next_lease_id_++);
  MarkChanged(rec.task.task_id());
  job_last_grant_[rec.task.job_id()] = ++grant_counter_;
  if (events_ != nullptr) events_->AttemptStarted(rec.task);
  return rec.task;
}

namespace {
absl::Status StaleLease(const std::string& task_id) {
  return absl::FailedPreconditionError(
      absl::StrCat("lease for task ", task_id, " is no longer valid"));
}
}  // namespace

absl::Status TaskScheduler::Renew(const std::string& task_id, int64_t lease_id, double progress,
                                  double best_loss) {
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.state != TaskState::kRunning ||
      it->second.task.lease_id() != lease_id) {
    return StaleLease(task_id);
  }
  it->second.lease_deadline_ms = clock_->NowMs() + options_.lease_ms;
  it->second.progress = std::clamp(progress, 0.0, 1.0);
  it->second.best_loss = best_loss;
  return absl::OkStatus();
}

absl::Status TaskScheduler::Complete(const std::string& task_id, int64_t lease_id,
                                     v1::TaskOutput output) {
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.state != TaskState::kRunning ||
      it->second.task.lease_id() != lease_id) {
    return StaleLease(task_id);
  }
  it->second.state = TaskState::kDone;
  it->second.progress = 1;
  it->second.output = std::move(output);
  MarkChanged(task_id);
  ReportEnd(it->second, AttemptOutcome::kSucceeded);
  PromoteDependents(task_id);
  return absl::OkStatus();
}

void TaskScheduler::PromoteDependents(const std::string& done_id) {
  auto [lo, hi] = dependents_.equal_range(done_id);
  for (auto it = lo; it != hi; ++it) {
    auto t = tasks_.find(it->second);
    if (t != tasks_.end() && t->second.state == TaskState::kWaiting && DepsDone(t->second)) {
      t->second.state = TaskState::kReady;
      ready_.push_back(t->first);
    }
  }
}

AttemptEnd TaskScheduler::EndAttempt(TaskRecord& t, const std::string& error, bool retryable) {
  t.last_error = error;
  AttemptEnd end;
  end.task_id = t.task.task_id();
  end.job_id = t.task.job_id();
  end.error = error;
  end.worker_id = t.worker_id;
  end.attempt = t.attempts;
  end.max_attempts = options_.max_attempts;
  end.started_ms = t.started_ms;
  t.worker_id.clear();
  MarkChanged(t.task.task_id());
  if (retryable && t.attempts < options_.max_attempts) {
    t.state = TaskState::kReady;
    ready_.push_back(t.task.task_id());
  } else {
    end.exhausted = true;
    t.state = TaskState::kWaiting;  // Parked until the job is removed.
  }
  return end;
}

absl::StatusOr<AttemptEnd> TaskScheduler::Fail(const std::string& task_id, int64_t lease_id,
                                               const std::string& error, bool retryable) {
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.state != TaskState::kRunning ||
      it->second.task.lease_id() != lease_id) {
    return StaleLease(task_id);
  }
  AttemptEnd end = EndAttempt(it->second, error, retryable);
  ReportEnd(it->second, end.exhausted ? AttemptOutcome::kFailed : AttemptOutcome::kRetried);
  return end;
}

std::vector<AttemptEnd> TaskScheduler::ExpireLeases() {
  std::vector<AttemptEnd> ended;
  const int64_t now = clock_->NowMs();
  for (auto& [id, t] : tasks_) {
    if (t.state == TaskState::kRunning && t.lease_deadline_ms <= now) {
      ended.push_back(EndAttempt(
          t, absl::StrCat("lease expired on worker ", t.worker_id, " (no heartbeat for ",
                          options_.lease_ms, " ms)"),
          /*retryable=*/true));
      ended.back().lease_expired = true;
      ReportEnd(t, AttemptOutcome::kExpired);
    }
  }
  return ended;
}

void TaskScheduler::RemoveJob(const std::string& job_id) {
  ready_.erase(std::remove_if(ready_.begin(), ready_.end(),
                              [&](const std::string& id) {
                                return tasks_.at(id).task.job_id() == job_id;
                              }),
               ready_.end());
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    if (it->second.task.job_id() == job_id) {
      if (it->second.state == TaskState::kRunning) {
        ReportEnd(it->second, AttemptOutcome::kAbandoned);
      }
      dependents_.erase(it->first);
      changed_.erase(it->first);
      it = tasks_.erase(it);
    } else {
      ++it;
    }
  }
  job_last_grant_.erase(job_id);
  removed_jobs_.push_back(job_id);
}

const TaskRecord* TaskScheduler::Find(const std::string& task_id) const {
  auto it = tasks_.find(task_id);
  return it == tasks_.end() ? nullptr : &it->second;
}

std::vector<const TaskRecord*> TaskScheduler::TasksOfJob(const std::string& job_id) const {
  std::vector<const TaskRecord*> out;
  for (const auto& [id, t] : tasks_) {
    if (t.task.job_id() == job_id) out.push_back(&t);
  }
  return out;
}

}  // namespace sr2::server
