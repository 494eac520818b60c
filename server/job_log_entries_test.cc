#include "server/job_log_entries.h"

#include <gtest/gtest.h>

namespace sr2::server {
namespace {

TaskRecord RunningTask() {
  TaskRecord task;
  task.task.set_task_id("job-1/block-00003");
  task.task.set_job_id("job-1");
  task.worker_id = "w-2";
  task.attempts = 1;
  task.started_ms = 10000;
  return task;
}

TEST(JobLogEntriesTest, Submitted) {
  v1::JobSpec spec;
  spec.set_model_uri("/m");
  spec.set_out_uri("/o");
  spec.mutable_scheme()->set_bits(4);
  spec.mutable_scheme()->set_group_size(128);
  spec.mutable_scheme()->set_sym(true);
  spec.set_algorithm(v1::ALGORITHM_SIGNROUNDV2);
  v1::JobLogEntry e = SubmittedEntry(spec);
  EXPECT_EQ(e.kind(), v1::JOB_LOG_KIND_SUBMITTED);
  EXPECT_EQ(e.message(), "submitted: /m -> /o (W4G128 sym, signroundv2)");
  spec.set_avg_bits(3.25);
  EXPECT_EQ(SubmittedEntry(spec).message(), "submitted: /m -> /o (mixed 3.25 bits, signroundv2)");
}

TEST(JobLogEntriesTest, StageStarted) {
  v1::JobLogEntry e = StageStartedEntry(v1::STAGE_QUANTIZE, 8);
  EXPECT_EQ(e.kind(), v1::JOB_LOG_KIND_STAGE_STARTED);
  EXPECT_EQ(e.stage(), v1::STAGE_QUANTIZE);
  EXPECT_EQ(e.message(), "stage quantize started (8 tasks)");
  EXPECT_EQ(StageStartedEntry(v1::STAGE_CALIBRATE, 1).message(), "stage calibrate started (1 task)");
}

TEST(JobLogEntriesTest, TaskGrantedAndCompleted) {
  TaskRecord task = RunningTask();
  v1::JobLogEntry granted = TaskGrantedEntry(task);
  EXPECT_EQ(granted.kind(), v1::JOB_LOG_KIND_TASK_GRANTED);
  EXPECT_EQ(granted.task_id(), "job-1/block-00003");
  EXPECT_EQ(granted.worker_id(), "w-2");
  EXPECT_EQ(granted.attempt(), 1);
  EXPECT_EQ(granted.message(), "task block-00003 granted to worker w-2 (attempt 1)");
  v1::JobLogEntry done = TaskCompletedEntry(task, 22345);
  EXPECT_EQ(done.kind(), v1::JOB_LOG_KIND_TASK_COMPLETED);
  EXPECT_DOUBLE_EQ(done.duration_seconds(), 12.345);
  EXPECT_EQ(done.message(), "task block-00003 completed on worker w-2 in 12.3 s");
}

TEST(JobLogEntriesTest, FailedAttemptAndExpiredLease) {
  AttemptEnd end;
  end.task_id = "job-1/calibrate";
  end.job_id = "job-1";
  end.error = "out of memory";
  end.worker_id = "w-1";
  end.attempt = 1;
  end.max_attempts = 3;
  end.started_ms = 1000;
  v1::JobLogEntry failed = AttemptEndedEntry(end, 3000);
  EXPECT_EQ(failed.kind(), v1::JOB_LOG_KIND_TASK_FAILED);
  EXPECT_TRUE(failed.will_retry());
  EXPECT_EQ(failed.message(),
            "task calibrate failed on worker w-1 after 2.0 s: out of memory (attempt 1 of 3); "
            "retrying");
  end.exhausted = true;
  end.attempt = 3;
  end.lease_expired = true;
  end.error = "lease expired on worker w-1 (no heartbeat for 15000 ms)";
  v1::JobLogEntry expired = AttemptEndedEntry(end, 3000);
  EXPECT_EQ(expired.kind(), v1::JOB_LOG_KIND_LEASE_EXPIRED);
  EXPECT_FALSE(expired.will_retry());
  EXPECT_EQ(expired.message(),
            "task calibrate: lease expired on worker w-1 (no heartbeat for 15000 ms) "
            "(attempt 3 of 3); no retry left");
}

TEST(JobLogEntriesTest, JobEnded) {
  v1::Job job;
  job.set_state(v1::JOB_STATE_SUCCEEDED);
  job.set_start_time_ms(1000);
  job.set_end_time_ms(126000);
  EXPECT_EQ(JobEndedEntry(job).kind(), v1::JOB_LOG_KIND_JOB_SUCCEEDED);
  EXPECT_EQ(JobEndedEntry(job).message(), "job succeeded in 125.0 s");
  job.set_state(v1::JOB_STATE_FAILED);
  job.set_error("task job-1/calibrate failed: boom");
  EXPECT_EQ(JobEndedEntry(job).kind(), v1::JOB_LOG_KIND_JOB_FAILED);
  EXPECT_EQ(JobEndedEntry(job).message(), "job failed: task job-1/calibrate failed: boom");
  job.set_state(v1::JOB_STATE_CANCELLED);
  job.set_error("cancelled by user");
  EXPECT_EQ(JobEndedEntry(job).message(), "job cancelled: cancelled by user");
}

}  // namespace
}  // namespace sr2::server
