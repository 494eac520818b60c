// The standard gRPC health service (grpc.health.v1.Health) of a worker, on its own port
// (`--health-listen`): the worker only dials out, so without it there is nothing for a
// Kubernetes gRPC probe to ask. The overall status ("") is SERVING while the process runs;
// whether the worker reaches the coordinator is the coordinator's sr2_workers to tell, so a
// coordinator outage does not make the kubelet restart every worker.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/server.h>

#include "absl/status/statusor.h"

namespace sr2::worker {

// Unavailable when `listen` (host:port) cannot be bound.
absl::StatusOr<std::unique_ptr<grpc::Server>> StartHealthServer(const std::string& listen);

}  // namespace sr2::worker
