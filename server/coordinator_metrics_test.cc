#include "server/coordinator_metrics.h"

#include <gtest/gtest.h>

#include "common/metrics/metrics_testutil.h"

namespace sr2::server {
namespace {

using metrics::FindFamily;
using metrics::FindSample;

// The value of the gauge sample `name{labels}`, or -1 when there is none.
double Gauge(const std::vector<prometheus::MetricFamily>& families, const std::string& name,
             const metrics::LabelPairs& labels) {
  const prometheus::MetricFamily* family = FindFamily(families, name);
  const prometheus::ClientMetric* sample =
      family == nullptr ? nullptr : FindSample(*family, labels);
  return sample == nullptr ? -1 : sample->gauge.value;
}

v1::Job MakeJob(const std::string& id, v1::JobState state) {
  v1::Job job;
  job.set_id(id);
  job.set_state(state);
  return job;
}

TEST(CollectJobMetricsTest, CountsJobsWorkersAndQueue) {
  std::vector<v1::Job> jobs = {MakeJob("a", v1::JOB_STATE_SUCCEEDED),
                               MakeJob("b", v1::JOB_STATE_SUCCEEDED),
                               MakeJob("c", v1::JOB_STATE_PENDING)};
  CoordinatorStats stats;
  stats.queued_tasks = 4;
  stats.idle_workers = 1;
  stats.busy_workers = 2;
  const auto families = CollectJobMetrics(jobs, stats);
  EXPECT_EQ(Gauge(families, "sr2_jobs", {{"state", "succeeded"}}), 2);
  EXPECT_EQ(Gauge(families, "sr2_jobs", {{"state", "pending"}}), 1);
  EXPECT_EQ(Gauge(families, "sr2_jobs", {{"state", "running"}}), 0);
  EXPECT_EQ(Gauge(families, "sr2_jobs", {{"state", "cancelled"}}), 0);
  EXPECT_EQ(FindFamily(families, "sr2_jobs")->metric.size(), 5u);
  EXPECT_EQ(Gauge(families, "sr2_task_queue_depth", {}), 4);
  EXPECT_EQ(Gauge(families, "sr2_workers", {{"state", "idle"}}), 1);
  EXPECT_EQ(Gauge(families, "sr2_workers", {{"state", "busy"}}), 2);
  // No job runs: the per-job families have no samples (and are left out of the exposition).
  for (const char* name : {"sr2_job_stage", "sr2_job_progress_ratio", "sr2_job_eta_seconds",
                           "sr2_job_blocks_done", "sr2_job_blocks", "sr2_job_best_loss"}) {
    ASSERT_NE(FindFamily(families, name), nullptr) << name;
    EXPECT_TRUE(FindFamily(families, name)->metric.empty()) << name;
  }
}

TEST(CollectJobMetricsTest, PerJobGaugesOnlyForRunningJobs) {
  v1::Job tuning = MakeJob("job-1", v1::JOB_STATE_RUNNING);
  tuning.set_stage(v1::STAGE_QUANTIZE);
  tuning.set_progress(0.4);
  tuning.set_eta_seconds(120);
  v1::StageProgress* quantize = tuning.add_stages();
  quantize->set_stage(v1::STAGE_QUANTIZE);
  quantize->set_done(3);
  quantize->set_total(8);
  v1::Job starting = MakeJob("job-2", v1::JOB_STATE_RUNNING);
  starting.set_stage(v1::STAGE_CALIBRATE);
  starting.set_progress(0.02);
  starting.set_eta_seconds(-1);  // Not known yet.
  v1::Job done = MakeJob("job-3", v1::JOB_STATE_SUCCEEDED);
  done.set_progress(1);

  CoordinatorStats stats;
  stats.running_jobs["job-1"] = RunningJobStats{8, 0.125};
  stats.running_jobs["job-2"] = RunningJobStats{8, std::nullopt};
  const auto families = CollectJobMetrics({tuning, starting, done}, stats);

  const metrics::LabelPairs one = {{"job_id", "job-1"}}, two = {{"job_id", "job-2"}};
  EXPECT_EQ(Gauge(families, "sr2_job_stage", {{"job_id", "job-1"}, {"stage", "quantize"}}), 1);
  EXPECT_EQ(Gauge(families, "sr2_job_stage", {{"job_id", "job-2"}, {"stage", "calibrate"}}), 1);
  EXPECT_EQ(Gauge(families, "sr2_job_progress_ratio", one), 0.4);
  EXPECT_EQ(Gauge(families, "sr2_job_eta_seconds", one), 120);
  EXPECT_EQ(Gauge(families, "sr2_job_blocks_done", one), 3);
  EXPECT_EQ(Gauge(families, "sr2_job_blocks", one), 8);
  EXPECT_EQ(Gauge(families, "sr2_job_best_loss", one), 0.125);
  EXPECT_EQ(Gauge(families, "sr2_job_progress_ratio", two), 0.02);
  EXPECT_EQ(Gauge(families, "sr2_job_blocks_done", two), 0);
  EXPECT_EQ(Gauge(families, "sr2_job_eta_seconds", two), -1) << "unknown ETA has no series";
  EXPECT_EQ(Gauge(families, "sr2_job_best_loss", two), -1) << "no loss reported yet";
  // One series per running job in every per-job family; the finished job has none.
  EXPECT_EQ(FindFamily(families, "sr2_job_progress_ratio")->metric.size(), 2u);
  EXPECT_EQ(FindFamily(families, "sr2_job_stage")->metric.size(), 2u);
  EXPECT_EQ(Gauge(families, "sr2_job_progress_ratio", {{"job_id", "job-3"}}), -1);
}

TEST(CollectJobMetricsTest, JobNotRunningInTheSchedulerSnapshotIsSkipped) {
  // The two snapshots are taken one after the other; a job that ended in between has no series.
  const auto families = CollectJobMetrics({MakeJob("job-1", v1::JOB_STATE_RUNNING)}, {});
  EXPECT_TRUE(FindFamily(families, "sr2_job_progress_ratio")->metric.empty());
  EXPECT_EQ(Gauge(families, "sr2_jobs", {{"state", "running"}}), 1);
}

v1::Task TaskOfKind(v1::TaskKind kind) {
  v1::Task task;
  task.set_kind(kind);
  return task;
}

TEST(CoordinatorMetricsTest, CountsAttemptsByStageAndOutcome) {
  CoordinatorMetrics metrics;
  const v1::Task block = TaskOfKind(v1::TASK_KIND_QUANTIZE_BLOCK);
  metrics.AttemptStarted(block);
  metrics.AttemptEnded(block, AttemptOutcome::kExpired, 20, /*requeued=*/true);
  metrics.AttemptStarted(block);
  metrics.AttemptEnded(block, AttemptOutcome::kSucceeded, 0.3, /*requeued=*/false);
  metrics.AttemptStarted(TaskOfKind(v1::TASK_KIND_CALIBRATE));
  metrics.AttemptEnded(TaskOfKind(v1::TASK_KIND_CALIBRATE), AttemptOutcome::kRetried, 1,
                       /*requeued=*/true);

  const auto families = metrics.registry()->Collect();
  auto counter = [&](const std::string& name, const metrics::LabelPairs& labels) {
    const prometheus::MetricFamily* family = FindFamily(families, name);
    const prometheus::ClientMetric* sample =
        family == nullptr ? nullptr : FindSample(*family, labels);
    return sample == nullptr ? -1 : sample->counter.value;
  };
  EXPECT_EQ(counter("sr2_tasks_started_total", {{"stage", "quantize"}}), 2);
  EXPECT_EQ(counter("sr2_tasks_started_total", {{"stage", "calibrate"}}), 1);
  EXPECT_EQ(counter("sr2_tasks_started_total", {{"stage", "evaluate"}}), 0);
  EXPECT_EQ(counter("sr2_tasks_finished_total", {{"outcome", "expired"}, {"stage", "quantize"}}),
            1);
  EXPECT_EQ(
      counter("sr2_tasks_finished_total", {{"outcome", "succeeded"}, {"stage", "quantize"}}), 1);
  EXPECT_EQ(counter("sr2_tasks_finished_total", {{"outcome", "retried"}, {"stage", "calibrate"}}),
            1);
  EXPECT_EQ(counter("sr2_lease_expiries_total", {}), 1);
  EXPECT_EQ(counter("sr2_task_retries_total", {}), 2);
  // Every task stage x outcome exists from the start (4 x 5).
  EXPECT_EQ(FindFamily(families, "sr2_tasks_finished_total")->metric.size(), 20u);

  const prometheus::MetricFamily* duration = FindFamily(families, "sr2_task_duration_seconds");
  ASSERT_NE(duration, nullptr);
  const prometheus::ClientMetric* quantize = FindSample(*duration, {{"stage", "quantize"}});
  ASSERT_NE(quantize, nullptr);
  EXPECT_EQ(quantize->histogram.sample_count, 2u);
  EXPECT_DOUBLE_EQ(quantize->histogram.sample_sum, 20.3);
  ASSERT_EQ(quantize->histogram.bucket.size(), 15u);  // 14 bounds + Inf
  EXPECT_EQ(quantize->histogram.bucket[0].upper_bound, 0.5);
  EXPECT_EQ(quantize->histogram.bucket[0].cumulative_count, 1u);   // 0.3 s
  EXPECT_EQ(quantize->histogram.bucket[5].upper_bound, 30);
  EXPECT_EQ(quantize->histogram.bucket[5].cumulative_count, 2u);   // + 20 s
}

TEST(CoordinatorMetricsTest, LabelsAreLowerCaseWithoutPrefix) {
  EXPECT_EQ(StageLabel(v1::STAGE_QUANTIZE), "quantize");
  EXPECT_EQ(StageLabel(StageOfTaskKind(v1::TASK_KIND_PROFILE)), "profile");
  EXPECT_EQ(StageLabel(StageOfTaskKind(v1::TASK_KIND_UNSPECIFIED)), "unspecified");
  EXPECT_EQ(OutcomeLabel(AttemptOutcome::kAbandoned), "abandoned");
}

}  // namespace
}  // namespace sr2::server
