#include "common/metrics/grpc_error_metrics.h"

#include <google/protobuf/descriptor.h>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace sr2::metrics {
namespace {

class ErrorCountingInterceptor : public grpc::experimental::Interceptor {
 public:
  ErrorCountingInterceptor(GrpcErrorMetrics* metrics, std::string method)
      : metrics_(metrics), method_(std::move(method)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      if (!status.ok()) metrics_->Count(method_, status.error_code());
    }
    methods->Proceed();
  }

 private:
  GrpcErrorMetrics* metrics_;
  const std::string method_;
};

class ErrorCountingFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ErrorCountingFactory(GrpcErrorMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new ErrorCountingInterceptor(metrics_, info->method() ? info->method() : "");
  }

 private:
  GrpcErrorMetrics* metrics_;
};

}  // namespace

GrpcErrorMetrics::GrpcErrorMetrics(prometheus::Registry& registry, std::set<std::string> methods)
    : errors_(prometheus::BuildCounter()
                  .Name("sr2_grpc_errors_total")
                  .Help("RPCs answered with a non-OK status, by method and status code")
                  .Register(registry)),
      methods_(std::move(methods)) {}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
GrpcErrorMetrics::NewInterceptorFactory() {
  return std::make_unique<ErrorCountingFactory>(this);
}

void GrpcErrorMetrics::Count(const std::string& method_path, grpc::StatusCode code) {
  // "/sr2.v1.JobService/SubmitJob" -> "sr2.v1.JobService/SubmitJob".
  const std::string method = methods_.count(method_path) ? method_path.substr(1) : "other";
  // The codes share numbering with absl's, whose names are the canonical gRPC ones.
  const std::string name = absl::AsciiStrToLower(
      absl::StatusCodeToString(static_cast<absl::StatusCode>(code)));
  errors_.Add({{"method", method}, {"code", name}}).Increment();
}

std::set<std::string> MethodPathsOf(const std::string& service_full_name) {
  std::set<std::string> paths;
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service_full_name);
  if (service == nullptr) return paths;
  for (int i = 0; i < service->method_count(); ++i) {
    paths.insert(absl::StrCat("/", service_full_name, "/", service->method(i)->name()));
  }
  return paths;
}

}  // namespace sr2::metrics
