#include "common/metrics/object_store_metrics.h"

#include <gtest/gtest.h>

#include "common/metrics/metrics_testutil.h"

namespace sr2::metrics {
namespace {

double Value(const std::vector<prometheus::MetricFamily>& families, const std::string& name,
             const std::string& op, const std::string& outcome) {
  const prometheus::MetricFamily* family = FindFamily(families, name);
  if (family == nullptr) return -1;
  const prometheus::ClientMetric* sample = FindSample(*family, {{"op", op}, {"outcome", outcome}});
  return sample == nullptr ? -1 : sample->counter.value;
}

TEST(ObjectStoreMetricsTest, FoldsS3OperationsAndOutcomesIntoTheContractLabels) {
  S3Stats stats;
  stats.Record(S3Operation::kUploadPart, S3Outcome::kSuccess, 100, 0);
  stats.Record(S3Operation::kCompleteMultipartUpload, S3Outcome::kSuccess, 20, 3);
  stats.Record(S3Operation::kGetObject, S3Outcome::kSuccess, 0, 50);
  stats.Record(S3Operation::kGetObject, S3Outcome::kServerError, 0, 7);
  stats.Record(S3Operation::kHeadObject, S3Outcome::kNetworkError, 0, 0);
  stats.Record(S3Operation::kListMultipartUploads, S3Outcome::kClientError, 0, 9);

  const std::vector<prometheus::MetricFamily> families = CollectObjectStoreMetrics(stats);
  ASSERT_EQ(families.size(), 2u);
  for (const prometheus::MetricFamily& f : families) {
    EXPECT_EQ(f.type, prometheus::MetricType::Counter);
    EXPECT_EQ(f.metric.size(), 10u) << f.name;  // 5 ops x 2 outcomes, zeros included.
  }
  const std::string requests = "sr2_object_store_requests_total";
  const std::string bytes = "sr2_object_store_bytes_total";
  EXPECT_EQ(Value(families, requests, "put", "ok"), 2);
  EXPECT_EQ(Value(families, bytes, "put", "ok"), 123);
  EXPECT_EQ(Value(families, requests, "get", "ok"), 1);
  EXPECT_EQ(Value(families, bytes, "get", "ok"), 50);
  EXPECT_EQ(Value(families, requests, "get", "error"), 2);
  EXPECT_EQ(Value(families, bytes, "get", "error"), 7);
  EXPECT_EQ(Value(families, requests, "list", "error"), 1);
  EXPECT_EQ(Value(families, requests, "copy", "ok"), 0);
  EXPECT_EQ(Value(families, requests, "delete", "error"), 0);
}

TEST(ObjectStoreMetricsTest, EveryS3OperationHasAContractOp) {
  for (int o = 0; o < kS3OperationCount; ++o) {
    const std::string op = ObjectStoreOpLabel(static_cast<S3Operation>(o));
    EXPECT_TRUE(op == "get" || op == "put" || op == "delete" || op == "list" || op == "copy")
        << op;
  }
  EXPECT_STREQ(ObjectStoreOpLabel(S3Operation::kCopyObject), "copy");
  EXPECT_STREQ(ObjectStoreOpLabel(S3Operation::kAbortMultipartUpload), "delete");
}

}  // namespace
}  // namespace sr2::metrics
