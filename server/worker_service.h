// gRPC adapter: the worker protocol (WorkerService) on top of the JobManager.
#pragma once

#include "server/job_manager.h"
#include "sr2/v1/worker_service.grpc.pb.h"

namespace sr2::server {

class WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  explicit WorkerServiceImpl(JobManager* jobs) : jobs_(jobs) {}

  grpc::Status RegisterWorker(grpc::ServerContext*, const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override;
  grpc::Status AcquireTask(grpc::ServerContext*, const v1::AcquireTaskRequest* request,
                           v1::AcquireTaskResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override;
  grpc::Status CompleteTask(grpc::ServerContext*, const v1::CompleteTaskRequest* request,
                            v1::CompleteTaskResponse* response) override;
  grpc::Status FailTask(grpc::ServerContext*, const v1::FailTaskRequest* request,
                        v1::FailTaskResponse* response) override;

 private:
  JobManager* jobs_;
};

}  // namespace sr2::server
