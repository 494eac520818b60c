#include "server/job_log_entries.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace sr2::server {
namespace {

std::string StageText(v1::Stage stage) {
  return absl::AsciiStrToLower(absl::StripPrefix(v1::Stage_Name(stage), "STAGE_"));
}

// "block-00003" for "job-1234abcd/block-00003": the job is implied by the log.
std::string TaskName(const std::string& task_id) {
  const size_t slash = task_id.rfind('/');
  return slash == std::string::npos ? task_id : task_id.substr(slash + 1);
}

double Seconds(int64_t from_ms, int64_t to_ms) {
  return static_cast<double>(std::max<int64_t>(0, to_ms - from_ms)) / 1000.0;
}

v1::JobLogEntry TaskEntry(v1::JobLogKind kind, const std::string& task_id,
                          const std::string& worker_id, int attempt) {
  v1::JobLogEntry entry;
  entry.set_kind(kind);
  entry.set_task_id(task_id);
  entry.set_worker_id(worker_id);
  entry.set_attempt(attempt);
  return entry;
}

}  // namespace

v1::JobLogEntry SubmittedEntry(const v1::JobSpec& spec) {
  v1::JobLogEntry entry;
  entry.set_kind(v1::JOB_LOG_KIND_SUBMITTED);
  std::string algorithm =
      absl::AsciiStrToLower(absl::StripPrefix(v1::Algorithm_Name(spec.algorithm()), "ALGORITHM_"));
  std::string scheme = spec.avg_bits() > 0
                           ? absl::StrFormat("mixed %g bits", spec.avg_bits())
                           : absl::StrFormat("W%dG%d %s", spec.scheme().bits(),
                                             spec.scheme().group_size(),
                                             spec.scheme().sym() ? "sym" : "asym");
  entry.set_message(absl::StrCat("submitted: ", spec.model_uri(), " -> ", spec.out_uri(), " (",
                                 scheme, ", ", algorithm, ")"));
  return entry;
}

v1::JobLogEntry StageStartedEntry(v1::Stage stage, int tasks) {
  v1::JobLogEntry entry;
  entry.set_kind(v1::JOB_LOG_KIND_STAGE_STARTED);
  entry.set_stage(stage);
  entry.set_message(absl::StrCat("stage ", StageText(stage), " started (", tasks,
                                 tasks == 1 ? " task)" : " tasks)"));
  return entry;
}

v1::JobLogEntry TaskGrantedEntry(const TaskRecord& task) {
  v1::JobLogEntry entry = TaskEntry(v1::JOB_LOG_KIND_TASK_GRANTED, task.task.task_id(),
                                    task.worker_id, task.attempts);
  entry.set_message(absl::StrCat("task ", TaskName(task.task.task_id()), " granted to worker ",
                                 task.worker_id, " (attempt ", task.attempts, ")"));
  return entry;
}

v1::JobLogEntry TaskCompletedEntry(const TaskRecord& task, int64_t now_ms) {
  v1::JobLogEntry entry = TaskEntry(v1::JOB_LOG_KIND_TASK_COMPLETED, task.task.task_id(),
                                    task.worker_id, task.attempts);
  entry.set_duration_seconds(Seconds(task.started_ms, now_ms));
  entry.set_message(absl::StrFormat("task %s completed on worker %s in %.1f s",
                                    TaskName(task.task.task_id()), task.worker_id,
                                    entry.duration_seconds()));
  return entry;
}

v1::JobLogEntry AttemptEndedEntry(const AttemptEnd& end, int64_t now_ms) {
  v1::JobLogEntry entry =
      TaskEntry(end.lease_expired ? v1::JOB_LOG_KIND_LEASE_EXPIRED : v1::JOB_LOG_KIND_TASK_FAILED,
                end.task_id, end.worker_id, end.attempt);
  entry.set_duration_seconds(Seconds(end.started_ms, now_ms));
  entry.set_will_retry(!end.exhausted);
  // The lease error already names the worker and the heartbeat timeout.
  std::string what = end.lease_expired
                         ? absl::StrCat(": ", end.error)
                         : absl::StrFormat(" failed on worker %s after %.1f s: %s", end.worker_id,
                                           entry.duration_seconds(), end.error);
  entry.set_message(absl::StrFormat("task %s%s (attempt %d of %d); %s", TaskName(end.task_id),
                                    what, end.attempt, end.max_attempts,
                                    end.exhausted ? "no retry left" : "retrying"));
  return entry;
}

v1::JobLogEntry JobEndedEntry(const v1::Job& job) {
  v1::JobLogEntry entry;
  switch (job.state()) {
    case v1::JOB_STATE_SUCCEEDED:
      entry.set_kind(v1::JOB_LOG_KIND_JOB_SUCCEEDED);
      entry.set_message(absl::StrFormat("job succeeded in %.1f s",
                                        Seconds(job.start_time_ms(), job.end_time_ms())));
      break;
    case v1::JOB_STATE_CANCELLED:
      entry.set_kind(v1::JOB_LOG_KIND_JOB_CANCELLED);
      entry.set_message(absl::StrCat("job cancelled: ", job.error()));
      break;
    default:
      entry.set_kind(v1::JOB_LOG_KIND_JOB_FAILED);
      entry.set_message(absl::StrCat("job failed: ", job.error()));
      break;
  }
  return entry;
}

}  // namespace sr2::server
