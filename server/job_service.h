// gRPC adapter: the client API (JobService) on top of the JobManager.
#pragma once

#include "server/job_manager.h"
#include "sr2/v1/job_service.grpc.pb.h"

namespace sr2::server {

class JobServiceImpl final : public v1::JobService::Service {
 public:
  explicit JobServiceImpl(JobManager* jobs) : jobs_(jobs) {}

  grpc::Status SubmitJob(grpc::ServerContext*, const v1::SubmitJobRequest* request,
                         v1::SubmitJobResponse* response) override;
  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest* request,
                      v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext*, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext*, const v1::CancelJobRequest* request,
                         v1::CancelJobResponse* response) override;
  grpc::Status WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::JobEvent>* writer) override;
  grpc::Status Replan(grpc::ServerContext*, const v1::ReplanRequest* request,
                      v1::ReplanResponse* response) override;
  grpc::Status GetJobLog(grpc::ServerContext*, const v1::GetJobLogRequest* request,
                         v1::GetJobLogResponse* response) override;

 private:
  JobManager* jobs_;
};

}  // namespace sr2::server
