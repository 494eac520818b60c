#include "common/metrics/object_store_metrics.h"

#include <map>
#include <utility>

#include "common/metrics/metric_families.h"

namespace sr2::metrics {

const char* ObjectStoreOpLabel(S3Operation operation) {
  switch (operation) {
    case S3Operation::kGetObject:
    case S3Operation::kHeadObject:
      return "get";
    case S3Operation::kPutObject:
    case S3Operation::kCreateMultipartUpload:
    case S3Operation::kUploadPart:
    case S3Operation::kCompleteMultipartUpload:
      return "put";
    case S3Operation::kCopyObject:
      return "copy";
    case S3Operation::kDeleteObject:
    case S3Operation::kAbortMultipartUpload:
      return "delete";
    case S3Operation::kListObjects:
    case S3Operation::kListMultipartUploads:
      return "list";
  }
  return "get";
}

std::vector<prometheus::MetricFamily> CollectObjectStoreMetrics(const S3Stats& stats) {
  using Key = std::pair<std::string, std::string>;  // op, outcome
  std::map<Key, double> requests, bytes;
  for (const char* op : {"get", "put", "delete", "list", "copy"}) {
    for (const char* outcome : {"ok", "error"}) requests[{op, outcome}] = bytes[{op, outcome}] = 0;
  }
  for (int o = 0; o < kS3OperationCount; ++o) {
    const auto operation = static_cast<S3Operation>(o);
    for (int r = 0; r < kS3OutcomeCount; ++r) {
      const auto outcome = static_cast<S3Outcome>(r);
      const Key key{ObjectStoreOpLabel(operation),
                    outcome == S3Outcome::kSuccess ? "ok" : "error"};
      requests[key] += static_cast<double>(stats.requests(operation, outcome));
      bytes[key] += static_cast<double>(stats.bytes(operation, outcome));
    }
  }
  std::vector<prometheus::MetricFamily> families;
  families.push_back(NewFamily("sr2_object_store_requests_total",
                               "Object store (S3) requests, every attempt including retries",
                               prometheus::MetricType::Counter));
  families.push_back(NewFamily("sr2_object_store_bytes_total",
                               "Payload bytes sent to and received from the object store (S3)",
                               prometheus::MetricType::Counter));
  for (const auto& [key, value] : requests) {
    AddSample(&families[0], {{"op", key.first}, {"outcome", key.second}}, value);
  }
  for (const auto& [key, value] : bytes) {
    AddSample(&families[1], {{"op", key.first}, {"outcome", key.second}}, value);
  }
  return families;
}

}  // namespace sr2::metrics
