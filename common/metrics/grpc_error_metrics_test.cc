#include "common/metrics/grpc_error_metrics.h"

#include <gtest/gtest.h>

#include "common/metrics/metrics_testutil.h"
#include "sr2/v1/job_service.pb.h"

namespace sr2::metrics {
namespace {

TEST(GrpcErrorMetricsTest, CountsByMethodAndLowerCaseCodeName) {
  prometheus::Registry registry;
  GrpcErrorMetrics errors(registry, {"/sr2.v1.JobService/GetJob"});
  errors.Count("/sr2.v1.JobService/GetJob", grpc::StatusCode::NOT_FOUND);
  errors.Count("/sr2.v1.JobService/GetJob", grpc::StatusCode::NOT_FOUND);
  errors.Count("/sr2.v1.JobService/GetJob", grpc::StatusCode::INVALID_ARGUMENT);
  // Unknown paths share one label value, however many there are.
  errors.Count("/made.up/Method1", grpc::StatusCode::UNIMPLEMENTED);
  errors.Count("/made.up/Method2", grpc::StatusCode::UNIMPLEMENTED);

  const std::vector<prometheus::MetricFamily> families = registry.Collect();
  const prometheus::MetricFamily* family = FindFamily(families, "sr2_grpc_errors_total");
  ASSERT_NE(family, nullptr);
  EXPECT_EQ(family->metric.size(), 3u);
  const prometheus::ClientMetric* not_found =
      FindSample(*family, {{"code", "not_found"}, {"method", "sr2.v1.JobService/GetJob"}});
  ASSERT_NE(not_found, nullptr);
  EXPECT_EQ(not_found->counter.value, 2);
  const prometheus::ClientMetric* other =
      FindSample(*family, {{"code", "unimplemented"}, {"method", "other"}});
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->counter.value, 2);
}

TEST(GrpcErrorMetricsTest, MethodPathsComeFromTheCompiledServices) {
  v1::GetJobRequest linked;  // Keeps the generated descriptors in the test binary.
  (void)linked;
  const std::set<std::string> paths = MethodPathsOf("sr2.v1.JobService");
  EXPECT_TRUE(paths.count("/sr2.v1.JobService/SubmitJob"));
  EXPECT_TRUE(paths.count("/sr2.v1.JobService/WatchJob"));
  EXPECT_TRUE(MethodPathsOf("no.such.Service").empty());
}

}  // namespace
}  // namespace sr2::metrics
