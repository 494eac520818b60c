// sr2ctl's connection to the coordinator's JobService, with gRPC errors turned into the
// messages the CLI prints: Unavailable "cannot reach coordinator at ADDR: ..." and
// NotFound "no job ID".
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sr2/v1/job_service.grpc.pb.h"

namespace sr2 {

class CoordinatorClient {
 public:
  explicit CoordinatorClient(std::string address);

  const std::string& address() const { return address_; }

  // One ListJobs call that waits up to `timeout` for the coordinator to come up; for
  // readiness checks.
  absl::Status Ping(std::chrono::milliseconds timeout);

  absl::StatusOr<std::string> Submit(const v1::JobSpec& spec);
  absl::StatusOr<v1::Job> Get(const std::string& job_id);
  absl::StatusOr<std::vector<v1::Job>> List();
  absl::StatusOr<v1::JobState> Cancel(const std::string& job_id);
  // Re-solves a mixed-precision job's allocation for `avg_bits`; the coordinator's reason
  // (no DeltaLoss table, budget out of range) is passed through.
  absl::StatusOr<v1::Allocation> Replan(const std::string& job_id, double avg_bits);

  // The job's log entries after `after_seq` and its state when read.
  absl::StatusOr<v1::GetJobLogResponse> GetLog(const std::string& job_id, int64_t after_seq);

  // Reads the job's event stream until it ends or `on_event` returns false. OK when the
  // stream ended cleanly or was stopped by `on_event`.
  absl::Status Watch(const std::string& job_id,
                     const std::function<bool(const v1::JobEvent&)>& on_event);

 private:
  // Waits up to the connect deadline for the channel; Unavailable naming the address if not.
  absl::Status EnsureConnected();
  // `job_id` non-empty: NOT_FOUND means that job does not exist.
  absl::Status FromGrpc(const grpc::Status& status, const std::string& job_id) const;
  // One unary JobService call after EnsureConnected, under the call deadline, its status
  // mapped by FromGrpc(status, job_id).
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(grpc::Status (v1::JobService::Stub::*method)(
                                    grpc::ClientContext*, const Request&, Response*),
                                const Request& request, const std::string& job_id);

  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> stub_;
};

}  // namespace sr2
