// The standard gRPC health service (grpc.health.v1.Health) of a worker, on its own port
// (`--health-listen`): the worker only dials out, so without it there is nothing for a
// Kubernetes gRPC probe to ask. The overall status ("") is SERVING while the process runs;
// whether the worker reaches the coordinator is the coordinator's sr2_workers to tell, so a
// coordinator outage does not make the kubelet restart every worker.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>

#include "absl/status/statusor.h"

namespace sr2::worker {

class HealthServer {
 public:
  // Unavailable when `listen` (host:port) cannot be bound.
  static absl::StatusOr<std::unique_ptr<HealthServer>> Start(const std::string& listen);
  ~HealthServer();

 private:
  HealthServer() = default;

  // gRPC refuses to build a server without any service of its own; this one answers every
  // other method UNIMPLEMENTED, next to the built-in health service.
  grpc::CallbackGenericService unimplemented_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace sr2::worker
