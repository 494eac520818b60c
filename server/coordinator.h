// The coordinator process: the gRPC server (client API, worker protocol, health) around one
// JobManager, and its metrics endpoint. Lifecycle in the Triton style: Create() starts
// serving, Shutdown() stops taking new calls, lets in-flight ones finish within a deadline,
// then stops the job threads.
#pragma once

#include <memory>

#include <grpcpp/server.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/metrics/metrics_server.h"
#include "server/coordinator_metrics.h"
#include "server/coordinator_options.h"
#include "server/job_manager.h"
#include "server/job_service.h"
#include "server/state/state_store.h"
#include "server/worker_service.h"

namespace sr2::server {

class Coordinator {
 public:
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(const CoordinatorOptions& options);
  ~Coordinator();

  // The port actually bound (useful with port 0).
  int port() const { return port_; }
  // The metrics port actually bound; 0 without --metrics-listen.
  int metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }
  void Shutdown(absl::Duration grace);

 private:
  Coordinator(const CoordinatorOptions& options, std::unique_ptr<StateStore> state);

  CoordinatorOptions options_;
  CoordinatorMetrics metrics_;  // Before jobs_, which reports task events to it.
  std::unique_ptr<StateStore> state_;
  JobManager jobs_;
  JobServiceImpl job_service_;
  WorkerServiceImpl worker_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
  // Last: its scrapes read jobs_, so it stops first.
  std::unique_ptr<metrics::MetricsServer> metrics_server_;
};

}  // namespace sr2::server
