#include "server/job_service.h"

#include "common/util/grpc_status.h"

namespace sr2::server {

grpc::Status JobServiceImpl::SubmitJob(grpc::ServerContext*, const v1::SubmitJobRequest* request,
                                       v1::SubmitJobResponse* response) {
  absl::StatusOr<std::string> id = jobs_->Submit(request->spec());
  if (!id.ok()) return ToGrpcStatus(id.status());
  response->set_job_id(*id);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::GetJob(grpc::ServerContext*, const v1::GetJobRequest* request,
                                    v1::Job* response) {
  absl::StatusOr<v1::Job> job = jobs_->Get(request->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  *response = *std::move(job);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::ListJobs(grpc::ServerContext*, const v1::ListJobsRequest*,
                                      v1::ListJobsResponse* response) {
  for (v1::Job& job : jobs_->List()) *response->add_jobs() = std::move(job);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::CancelJob(grpc::ServerContext*, const v1::CancelJobRequest* request,
                                       v1::CancelJobResponse* response) {
  absl::StatusOr<v1::JobState> state = jobs_->Cancel(request->job_id());
  if (!state.ok()) return ToGrpcStatus(state.status());
  response->set_state(*state);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::WatchJob(grpc::ServerContext* context,
                                      const v1::WatchJobRequest* request,
                                      grpc::ServerWriter<v1::JobEvent>* writer) {
  int64_t version = -1;
  // Short waits so a client that went away is noticed promptly.
  while (!context->IsCancelled()) {
    absl::StatusOr<v1::Job> job =
        jobs_->WaitForChange(request->job_id(), &version, absl::Milliseconds(500));
    if (absl::IsDeadlineExceeded(job.status())) continue;
    if (!job.ok()) return ToGrpcStatus(job.status());
    v1::JobEvent event;
    const v1::JobState state = job->state();
    *event.mutable_job() = *std::move(job);
    if (!writer->Write(event)) return grpc::Status::OK;
    if (state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
        state == v1::JOB_STATE_CANCELLED) {
      return grpc::Status::OK;
    }
  }
  return grpc::Status::CANCELLED;
}

grpc::Status JobServiceImpl::Replan(grpc::ServerContext*, const v1::ReplanRequest* request,
                                    v1::ReplanResponse* response) {
  absl::StatusOr<v1::Allocation> allocation = jobs_->Replan(request->job_id(), request->avg_bits());
  if (!allocation.ok()) return ToGrpcStatus(allocation.status());
  *response->mutable_allocation() = *std::move(allocation);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::GetJobLog(grpc::ServerContext*, const v1::GetJobLogRequest* request,
                                       v1::GetJobLogResponse* response) {
  // The state first: entries are appended under the same lock as each state change, so every
  // entry up to this state is in the slice read after it.
  absl::StatusOr<v1::Job> job = jobs_->Get(request->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  JobEventLog::Slice slice = jobs_->events().Read(request->job_id(), request->after_seq());
  response->set_state(job->state());
  response->set_dropped(slice.dropped);
  for (v1::JobLogEntry& entry : slice.entries) *response->add_entries() = std::move(entry);
  return grpc::Status::OK;
}

}  // namespace sr2::server
