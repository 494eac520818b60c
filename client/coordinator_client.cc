#include "client/coordinator_client.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/util/status_macros.h"
#include "grpcpp/grpcpp.h"

namespace sr2 {
namespace {

constexpr auto kConnectDeadline = std::chrono::seconds(5);
// Submit may inspect the model's headers on remote storage before it answers.
constexpr auto kCallDeadline = std::chrono::seconds(60);

std::chrono::system_clock::time_point After(std::chrono::seconds d) {
  return std::chrono::system_clock::now() + d;
}

}  // namespace

CoordinatorClient::CoordinatorClient(std::string address) : address_(std::move(address)) {
  grpc::ChannelArguments args;
  // A job list carries every job's per-layer results; it can pass gRPC's 4 MiB default.
  args.SetMaxReceiveMessageSize(-1);
  // Retry quickly while a coordinator starts or restarts (sr2ctl local, watch).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  channel_ = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
  stub_ = v1::JobService::NewStub(channel_);
}

absl::Status CoordinatorClient::EnsureConnected() {
  if (channel_->WaitForConnected(After(kConnectDeadline))) return absl::OkStatus();
  // A fail-fast call reports gRPC's own reason for the failed connection.
  grpc::ClientContext context;
  context.set_deadline(After(std::chrono::seconds(1)));
  v1::ListJobsResponse response;
  grpc::Status status = stub_->ListJobs(&context, v1::ListJobsRequest(), &response);
  if (status.ok()) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("cannot reach coordinator at ", address_, ": ", status.error_message()));
}

absl::Status CoordinatorClient::FromGrpc(const grpc::Status& status,
                                         const std::string& job_id) const {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return absl::OkStatus();
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::UnavailableError(
          absl::StrCat("cannot reach coordinator at ", address_, ": ", status.error_message()));
    case grpc::StatusCode::NOT_FOUND:
      if (!job_id.empty()) return absl::NotFoundError(absl::StrCat("no job ", job_id));
      [[fallthrough]];
    default:
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          status.error_message());
  }
}

absl::Status CoordinatorClient::Ping(std::chrono::milliseconds timeout) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  context.set_wait_for_ready(true);
  v1::ListJobsResponse response;
  return FromGrpc(stub_->ListJobs(&context, v1::ListJobsRequest(), &response), "");
}

template <typename Request, typename Response>
absl::StatusOr<Response> CoordinatorClient::Call(
    grpc::Status (v1::JobService::Stub::*method)(grpc::ClientContext*, const Request&, Response*),
    const Request& request, const std::string& job_id) {
  SR2_RETURN_IF_ERROR(EnsureConnected());
  grpc::ClientContext context;
  context.set_deadline(After(kCallDeadline));
  Response response;
  SR2_RETURN_IF_ERROR(FromGrpc((stub_.get()->*method)(&context, request, &response), job_id));
  return response;
}

absl::StatusOr<std::string> CoordinatorClient::Submit(const v1::JobSpec& spec) {
  v1::SubmitJobRequest request;
  *request.mutable_spec() = spec;
  SR2_ASSIGN_OR_RETURN(v1::SubmitJobResponse response,
                       Call(&v1::JobService::Stub::SubmitJob, request, ""));
  return response.job_id();
}

absl::StatusOr<v1::Job> CoordinatorClient::Get(const std::string& job_id) {
  v1::GetJobRequest request;
  request.set_job_id(job_id);
  return Call(&v1::JobService::Stub::GetJob, request, job_id);
}

absl::StatusOr<std::vector<v1::Job>> CoordinatorClient::List() {
  SR2_ASSIGN_OR_RETURN(v1::ListJobsResponse response,
                       Call(&v1::JobService::Stub::ListJobs, v1::ListJobsRequest(), ""));
  return std::vector<v1::Job>(response.jobs().begin(), response.jobs().end());
}

absl::StatusOr<v1::JobState> CoordinatorClient::Cancel(const std::string& job_id) {
  v1::CancelJobRequest request;
  request.set_job_id(job_id);
  SR2_ASSIGN_OR_RETURN(v1::CancelJobResponse response,
                       Call(&v1::JobService::Stub::CancelJob, request, job_id));
  return response.state();
}

absl::StatusOr<v1::Allocation> CoordinatorClient::Replan(const std::string& job_id,
                                                         double avg_bits) {
  v1::ReplanRequest request;
  request.set_job_id(job_id);
  request.set_avg_bits(avg_bits);
  SR2_ASSIGN_OR_RETURN(v1::ReplanResponse response,
                       Call(&v1::JobService::Stub::Replan, request, job_id));
  return response.allocation();
}

absl::StatusOr<v1::GetJobLogResponse> CoordinatorClient::GetLog(const std::string& job_id,
                                                               int64_t after_seq) {
  v1::GetJobLogRequest request;
  request.set_job_id(job_id);
  request.set_after_seq(after_seq);
  return Call(&v1::JobService::Stub::GetJobLog, request, job_id);
}

absl::Status CoordinatorClient::Watch(const std::string& job_id,
                                      const std::function<bool(const v1::JobEvent&)>& on_event) {
  SR2_RETURN_IF_ERROR(EnsureConnected());
  grpc::ClientContext context;  // No deadline: a job may run for hours.
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  std::unique_ptr<grpc::ClientReader<v1::JobEvent>> reader = stub_->WatchJob(&context, request);
  v1::JobEvent event;
  bool stopped = false;
  while (reader->Read(&event)) {
    if (!on_event(event)) {
      stopped = true;
      context.TryCancel();
      while (reader->Read(&event)) {
      }  // Finish() wants the stream drained.
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (stopped) return absl::OkStatus();
  return FromGrpc(status, job_id);
}

}  // namespace sr2
