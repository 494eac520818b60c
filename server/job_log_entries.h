// The entries of the job event log (JobEventLog), each with its one-line message, built from
// what the JobManager and the TaskScheduler know at the moment it happens.
#pragma once

#include <cstdint>

#include "server/task_scheduler.h"
#include "sr2/v1/job_service.pb.h"

namespace sr2::server {

// "submitted: MODEL -> OUT (W4G128 sym, signround)".
v1::JobLogEntry SubmittedEntry(const v1::JobSpec& spec);

// "stage quantize started (8 tasks)".
v1::JobLogEntry StageStartedEntry(v1::Stage stage, int tasks);

// "task block-00003 granted to worker w-1 (attempt 1)".
v1::JobLogEntry TaskGrantedEntry(const TaskRecord& task);

// "task block-00003 completed on worker w-1 in 12.3 s"; `now_ms` is Clock::NowMs.
v1::JobLogEntry TaskCompletedEntry(const TaskRecord& task, int64_t now_ms);

// A failed attempt or an expired lease, with the error and whether the task is retried:
// "task block-00003 failed on worker w-1 after 2.0 s (attempt 1 of 3): ERROR; retrying".
v1::JobLogEntry AttemptEndedEntry(const AttemptEnd& end, int64_t now_ms);

// The outcome of a terminal job: "job succeeded in 12m05s", "job failed: ERROR",
// "job cancelled: cancelled by user".
v1::JobLogEntry JobEndedEntry(const v1::Job& job);

}  // namespace sr2::server
