// The worker's main loop: register with the coordinator, pull tasks, run each one while a
// heartbeat keeps its lease alive, and report the result. Survives coordinator restarts and
// network errors by backing off and registering again.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "absl/status/status.h"
#include "sr2/v1/worker_service.grpc.pb.h"
#include "worker/worker_metrics.h"
#include "worker/worker_options.h"

namespace sr2::worker {

class WorkerRuntime {
 public:
  // `metrics` (optional) counts the tasks run.
  explicit WorkerRuntime(WorkerOptions options, WorkerMetrics* metrics = nullptr);

  // Runs until Stop(). Returns an error only for conditions retrying cannot fix (the
  // coordinator rejected this worker's version).
  absl::Status Run();

  // Asks Run() to return: the task in flight is abandoned and handed back for a retry.
  // Safe to call from any thread.
  void Stop() { stopping_ = true; }

 private:
  absl::Status Register();
  // Runs one task to the end, heartbeating meanwhile; reports the outcome.
  void Execute(const v1::Task& task);
  // Makes a result call (complete or fail), retrying while the coordinator is unreachable.
  grpc::Status Deliver(const std::function<grpc::Status(grpc::ClientContext*)>& call);
  void SleepBackoff();
  void CountTask(const v1::Task& task, WorkerTaskOutcome outcome);

  WorkerOptions options_;
  WorkerMetrics* metrics_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  std::atomic<bool> stopping_{false};
  std::string worker_id_;
  int heartbeat_interval_ms_ = 2000;
  int backoff_ms_ = 0;
};

}  // namespace sr2::worker
