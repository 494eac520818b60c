// The coordinator's Prometheus metrics (contract: docs/operations.md). Task attempts, lease
// expiries, retries and gRPC errors are counted as they happen (TaskEvents, the gRPC
// interceptor); jobs, workers and the queue are read from snapshots at scrape time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include "common/metrics/grpc_error_metrics.h"
#include "server/coordinator_stats.h"
#include "server/task_events.h"
#include "sr2/v1/job_service.pb.h"

namespace sr2::server {

// The `stage` label: "quantize" for STAGE_QUANTIZE.
std::string StageLabel(v1::Stage stage);
// The job stage a task kind belongs to (STAGE_UNSPECIFIED for an unknown kind).
v1::Stage StageOfTaskKind(v1::TaskKind kind);
std::string OutcomeLabel(AttemptOutcome outcome);

class CoordinatorMetrics : public TaskEvents {
 public:
  CoordinatorMetrics();

  void AttemptStarted(const v1::Task& task) override;
  void AttemptEnded(const v1::Task& task, AttemptOutcome outcome, double seconds,
                    bool requeued) override;

  metrics::GrpcErrorMetrics& grpc_errors() { return grpc_errors_; }
  // The event-counted series, to be served next to CollectJobMetrics' families.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& finished_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Counter& lease_expiries_;
  prometheus::Counter& retries_;
  metrics::GrpcErrorMetrics grpc_errors_;
};

// sr2_jobs, sr2_task_queue_depth, sr2_workers and the per-job sr2_job_* gauges, which exist
// only for jobs running in both `jobs` and `stats` (so a finished job's series disappear).
std::vector<prometheus::MetricFamily> CollectJobMetrics(const std::vector<v1::Job>& jobs,
                                                        const CoordinatorStats& stats);

}  // namespace sr2::server
