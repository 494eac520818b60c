#include "server/worker_service.h"

#include "common/util/grpc_status.h"

namespace sr2::server {

grpc::Status WorkerServiceImpl::RegisterWorker(grpc::ServerContext*,
                                               const v1::RegisterWorkerRequest* request,
                                               v1::RegisterWorkerResponse* response) {
  absl::StatusOr<v1::RegisterWorkerResponse> r = jobs_->RegisterWorker(request->info());
  if (!r.ok()) return ToGrpcStatus(r.status());
  *response = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::AcquireTask(grpc::ServerContext*,
                                            const v1::AcquireTaskRequest* request,
                                            v1::AcquireTaskResponse* response) {
  absl::StatusOr<std::optional<v1::Task>> task =
      jobs_->AcquireTask(request->worker_id(), absl::Milliseconds(request->wait_ms()));
  if (!task.ok()) return ToGrpcStatus(task.status());
  if (task->has_value()) *response->mutable_task() = **std::move(task);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* request,
                                          v1::HeartbeatResponse* response) {
  *response = jobs_->Heartbeat(*request);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::CompleteTask(grpc::ServerContext*,
                                             const v1::CompleteTaskRequest* request,
                                             v1::CompleteTaskResponse* response) {
  absl::Status s = jobs_->CompleteTask(*request);
  // A late result after a lost lease is refused, not an RPC error: the worker just drops it.
  response->set_accepted(s.ok());
  if (!s.ok() && !absl::IsFailedPrecondition(s)) return ToGrpcStatus(s);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::FailTask(grpc::ServerContext*, const v1::FailTaskRequest* request,
                                         v1::FailTaskResponse*) {
  absl::Status s = jobs_->FailTask(*request);
  if (!s.ok() && !absl::IsFailedPrecondition(s)) return ToGrpcStatus(s);
  return grpc::Status::OK;
}

}  // namespace sr2::server
