#include "server/coordinator.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "common/metrics/metric_families.h"
#include "common/metrics/object_store_metrics.h"
#include "common/store/s3_stats.h"
#include "server/state/sqlite_state_store.h"

namespace sr2::server {

Coordinator::Coordinator(const CoordinatorOptions& options, std::unique_ptr<StateStore> state)
    : options_(options),
      state_(std::move(state)),
      jobs_(options_, SystemClock::Default(), state_.get(), &metrics_),
      job_service_(&jobs_),
      worker_service_(&jobs_) {}

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(
    const CoordinatorOptions& options) {
  absl::StatusOr<std::unique_ptr<SqliteStateStore>> state =
      SqliteStateStore::Open(options.state_dir);
  if (!state.ok()) return state.status();
  std::unique_ptr<Coordinator> c(new Coordinator(options, *std::move(state)));
  // Jobs left unfinished by a previous coordinator resume before any client or worker call.
  if (absl::Status s = c->jobs_.Restore(); !s.ok()) return s;
  if (!options.metrics_listen.empty()) {
    // Started first, so that a bad address fails before any client or worker connects.
    const JobManager* jobs = &c->jobs_;
    absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> server = metrics::MetricsServer::Start(
        options.metrics_listen,
        {c->metrics_.registry(),
         std::make_shared<metrics::CallbackCollectable>(
             [jobs] { return CollectJobMetrics(jobs->List(), jobs->Stats()); }),
         std::make_shared<metrics::CallbackCollectable>(
             [] { return metrics::CollectObjectStoreMetrics(S3Stats::Process()); })});
    if (!server.ok()) return server.status();
    c->metrics_server_ = *std::move(server);
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(c->metrics_.grpc_errors().NewInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &c->port_);
  builder.RegisterService(&c->job_service_);
  builder.RegisterService(&c->worker_service_);
  c->server_ = builder.BuildAndStart();
  if (c->server_ == nullptr || c->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  c->jobs_.Start();
  return c;
}

void Coordinator::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  // Long-polls and watch streams end once the job manager stops; the deadline bounds the rest.
  jobs_.Stop();
  if (server_ == nullptr) return;  // Create() failed before serving.
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
}

Coordinator::~Coordinator() { Shutdown(absl::Seconds(1)); }

}  // namespace sr2::server
