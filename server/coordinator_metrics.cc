#include "server/coordinator_metrics.h"

#include <map>
#include <set>

#include "common/metrics/metric_families.h"
#include "sr2/v1/job_service.grpc.pb.h"
#include "sr2/v1/worker_service.grpc.pb.h"

namespace sr2::server {
namespace {

using metrics::AddSample;
using metrics::EnumLabel;
using metrics::NewFamily;
using prometheus::MetricType;

// Sub-second inspect-sized tasks up to hour-long tuning of a large block.
const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200};
  return *buckets;
}

constexpr AttemptOutcome kOutcomes[] = {AttemptOutcome::kSucceeded, AttemptOutcome::kRetried,
                                        AttemptOutcome::kFailed, AttemptOutcome::kExpired,
                                        AttemptOutcome::kAbandoned};
// The stages that run as worker tasks; their series exist from the start.
constexpr v1::Stage kTaskStages[] = {v1::STAGE_CALIBRATE, v1::STAGE_PROFILE, v1::STAGE_QUANTIZE,
                                     v1::STAGE_EVALUATE};

std::set<std::string> ServedMethods() {
  std::set<std::string> methods = metrics::MethodPathsOf(v1::JobService::service_full_name());
  for (const std::string& m : metrics::MethodPathsOf(v1::WorkerService::service_full_name())) {
    methods.insert(m);
  }
  methods.insert("/grpc.health.v1.Health/Check");
  methods.insert("/grpc.health.v1.Health/Watch");
  return methods;
}

}  // namespace

std::string StageLabel(v1::Stage stage) { return EnumLabel(v1::Stage_Name(stage), "STAGE_"); }

v1::Stage StageOfTaskKind(v1::TaskKind kind) {
  switch (kind) {
    case v1::TASK_KIND_CALIBRATE:
      return v1::STAGE_CALIBRATE;
    case v1::TASK_KIND_PROFILE:
      return v1::STAGE_PROFILE;
    case v1::TASK_KIND_QUANTIZE_BLOCK:
      return v1::STAGE_QUANTIZE;
    case v1::TASK_KIND_EVALUATE:
      return v1::STAGE_EVALUATE;
    default:
      return v1::STAGE_UNSPECIFIED;
  }
}

std::string OutcomeLabel(AttemptOutcome outcome) {
  switch (outcome) {
    case AttemptOutcome::kSucceeded:
      return "succeeded";
    case AttemptOutcome::kRetried:
      return "retried";
    case AttemptOutcome::kFailed:
      return "failed";
    case AttemptOutcome::kExpired:
      return "expired";
    case AttemptOutcome::kAbandoned:
      return "abandoned";
  }
  return "unknown";
}

CoordinatorMetrics::CoordinatorMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      started_(prometheus::BuildCounter()
                   .Name("sr2_tasks_started_total")
                   .Help("Task attempts handed to a worker, by job stage")
                   .Register(*registry_)),
      finished_(prometheus::BuildCounter()
                    .Name("sr2_tasks_finished_total")
                    .Help("Task attempts that ended, by job stage and outcome")
                    .Register(*registry_)),
      duration_(prometheus::BuildHistogram()
                    .Name("sr2_task_duration_seconds")
                    .Help("Task attempt duration from grant to end (any outcome), by job stage")
                    .Register(*registry_)),
      lease_expiries_(prometheus::BuildCounter()
                          .Name("sr2_lease_expiries_total")
                          .Help("Task leases that expired because the worker stopped heartbeating")
                          .Register(*registry_)
                          .Add({})),
      retries_(prometheus::BuildCounter()
                   .Name("sr2_task_retries_total")
                   .Help("Tasks put back in the queue for another attempt")
                   .Register(*registry_)
                   .Add({})),
      grpc_errors_(*registry_, ServedMethods()) {
  // Zero-valued series from the start, so that rate() and increase() see the first event.
  for (v1::Stage stage : kTaskStages) {
    const std::string label = StageLabel(stage);
    started_.Add({{"stage", label}});
    duration_.Add({{"stage", label}}, DurationBuckets());
    for (AttemptOutcome outcome : kOutcomes) {
      finished_.Add({{"stage", label}, {"outcome", OutcomeLabel(outcome)}});
    }
  }
}

void CoordinatorMetrics::AttemptStarted(const v1::Task& task) {
  started_.Add({{"stage", StageLabel(StageOfTaskKind(task.kind()))}}).Increment();
}

void CoordinatorMetrics::AttemptEnded(const v1::Task& task, AttemptOutcome outcome,
                                      double seconds, bool requeued) {
  const std::string stage = StageLabel(StageOfTaskKind(task.kind()));
  finished_.Add({{"stage", stage}, {"outcome", OutcomeLabel(outcome)}}).Increment();
  duration_.Add({{"stage", stage}}, DurationBuckets()).Observe(seconds);
  if (outcome == AttemptOutcome::kExpired) lease_expiries_.Increment();
  if (requeued) retries_.Increment();
}

std::vector<prometheus::MetricFamily> CollectJobMetrics(const std::vector<v1::Job>& jobs,
                                                        const CoordinatorStats& stats) {
  auto job_state = [](v1::JobState state) {
    return EnumLabel(v1::JobState_Name(state), "JOB_STATE_");
  };
  std::map<std::string, int> by_state;
  for (v1::JobState state : {v1::JOB_STATE_PENDING, v1::JOB_STATE_RUNNING,
                             v1::JOB_STATE_SUCCEEDED, v1::JOB_STATE_FAILED,
                             v1::JOB_STATE_CANCELLED}) {
    by_state[job_state(state)] = 0;
  }
  for (const v1::Job& job : jobs) by_state[job_state(job.state())]++;
  auto jobs_by_state =
      NewFamily("sr2_jobs", "Jobs known to the coordinator, by state", MetricType::Gauge);
  for (const auto& [state, count] : by_state) AddSample(&jobs_by_state, {{"state", state}}, count);

  auto queue = NewFamily("sr2_task_queue_depth", "Tasks waiting for a worker", MetricType::Gauge);
  AddSample(&queue, {}, stats.queued_tasks);
  auto workers = NewFamily("sr2_workers", "Live workers (registered and heard from), by state",
                           MetricType::Gauge);
  AddSample(&workers, {{"state", "busy"}}, stats.busy_workers);
  AddSample(&workers, {{"state", "idle"}}, stats.idle_workers);

  auto stage = NewFamily("sr2_job_stage", "1 for the stage (label) a running job is in",
                         MetricType::Gauge);
  auto progress = NewFamily("sr2_job_progress_ratio", "Share of a running job's work done, 0..1",
                            MetricType::Gauge);
  auto eta = NewFamily("sr2_job_eta_seconds", "Estimated time left of a running job, once known",
                       MetricType::Gauge);
  auto blocks_done = NewFamily("sr2_job_blocks_done",
                               "Transformer blocks a running job has quantized", MetricType::Gauge);
  auto blocks_total = NewFamily("sr2_job_blocks",
                                "Transformer blocks in a running job's model", MetricType::Gauge);
  auto best_loss = NewFamily("sr2_job_best_loss",
                             "Best tuning loss so far of the block a running job is tuning",
                             MetricType::Gauge);
  for (const v1::Job& job : jobs) {
    auto running = stats.running_jobs.find(job.id());
    if (job.state() != v1::JOB_STATE_RUNNING || running == stats.running_jobs.end()) continue;
    const metrics::LabelPairs id = {{"job_id", job.id()}};
    AddSample(&stage, {{"job_id", job.id()}, {"stage", StageLabel(job.stage())}}, 1);
    AddSample(&progress, id, job.progress());
    if (job.eta_seconds() >= 0) AddSample(&eta, id, job.eta_seconds());
    int done = 0;
    for (const v1::StageProgress& p : job.stages()) {
      if (p.stage() == v1::STAGE_QUANTIZE) done = p.done();
    }
    AddSample(&blocks_done, id, done);
    if (running->second.num_blocks > 0) AddSample(&blocks_total, id, running->second.num_blocks);
    if (running->second.best_loss) AddSample(&best_loss, id, *running->second.best_loss);
  }
  return {std::move(jobs_by_state), std::move(queue),       std::move(workers),
          std::move(stage),         std::move(progress),    std::move(eta),
          std::move(blocks_done),   std::move(blocks_total), std::move(best_loss)};
}

}  // namespace sr2::server
