// sr2_grpc_errors_total{method, code}: RPCs a gRPC server answered with a non-OK status,
// counted by a server interceptor so that no service handler needs to know about metrics.
#pragma once

#include <memory>
#include <set>
#include <string>

#include <grpcpp/support/server_interceptor.h>
#include <grpcpp/support/status.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

namespace sr2::metrics {

class GrpcErrorMetrics {
 public:
  // Adds the counter family to `registry`. `methods` are the full paths
  // ("/sr2.v1.JobService/SubmitJob") that get their own `method` label; any other path counts
  // as "other", so a client calling made-up methods cannot grow the label set.
  GrpcErrorMetrics(prometheus::Registry& registry, std::set<std::string> methods);

  // For grpc::ServerBuilder::experimental().SetInterceptorCreators; this object must outlive
  // the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewInterceptorFactory();

  void Count(const std::string& method_path, grpc::StatusCode code);

 private:
  prometheus::Family<prometheus::Counter>& errors_;
  const std::set<std::string> methods_;
};

// The full method paths of a service compiled into this program ("sr2.v1.JobService");
// empty if it is unknown.
std::set<std::string> MethodPathsOf(const std::string& service_full_name);

}  // namespace sr2::metrics
