#include "common/store/s3_stats.h"

namespace sr2 {

const char* S3OperationName(S3Operation operation) {
  switch (operation) {
    case S3Operation::kGetObject:
      return "GetObject";
    case S3Operation::kHeadObject:
      return "HeadObject";
    case S3Operation::kPutObject:
      return "PutObject";
    case S3Operation::kCopyObject:
      return "CopyObject";
    case S3Operation::kDeleteObject:
      return "DeleteObject";
    case S3Operation::kListObjects:
      return "ListObjectsV2";
    case S3Operation::kCreateMultipartUpload:
      return "CreateMultipartUpload";
    case S3Operation::kUploadPart:
      return "UploadPart";
    case S3Operation::kCompleteMultipartUpload:
      return "CompleteMultipartUpload";
    case S3Operation::kAbortMultipartUpload:
      return "AbortMultipartUpload";
    case S3Operation::kListMultipartUploads:
      return "ListMultipartUploads";
  }
  return "Unknown";
}

const char* S3OutcomeName(S3Outcome outcome) {
  switch (outcome) {
    case S3Outcome::kSuccess:
      return "success";
    case S3Outcome::kClientError:
      return "client_error";
    case S3Outcome::kServerError:
      return "server_error";
    case S3Outcome::kNetworkError:
      return "network_error";
  }
  return "unknown";
}

void S3Stats::Record(S3Operation operation, S3Outcome outcome, uint64_t bytes_sent,
                     uint64_t bytes_received) {
  const int op = Index(operation);
  const int out = static_cast<int>(outcome);
  requests_[op][out].fetch_add(1, std::memory_order_relaxed);
  bytes_sent_[op][out].fetch_add(bytes_sent, std::memory_order_relaxed);
  bytes_received_[op][out].fetch_add(bytes_received, std::memory_order_relaxed);
}

uint64_t S3Stats::requests(S3Operation operation, S3Outcome outcome) const {
  return requests_[Index(operation)][static_cast<int>(outcome)].load(std::memory_order_relaxed);
}

namespace {
uint64_t Sum(const std::array<std::atomic<uint64_t>, kS3OutcomeCount>& counters) {
  uint64_t total = 0;
  for (const std::atomic<uint64_t>& c : counters) total += c.load(std::memory_order_relaxed);
  return total;
}
}  // namespace

uint64_t S3Stats::bytes_sent(S3Operation operation) const {
  return Sum(bytes_sent_[Index(operation)]);
}

uint64_t S3Stats::bytes_received(S3Operation operation) const {
  return Sum(bytes_received_[Index(operation)]);
}

uint64_t S3Stats::bytes(S3Operation operation, S3Outcome outcome) const {
  const int op = Index(operation);
  const int out = static_cast<int>(outcome);
  return bytes_sent_[op][out].load(std::memory_order_relaxed) +
         bytes_received_[op][out].load(std::memory_order_relaxed);
}

uint64_t S3Stats::total_requests(S3Outcome outcome) const {
  uint64_t total = 0;
  for (int op = 0; op < kS3OperationCount; ++op) {
    total += requests_[op][static_cast<int>(outcome)].load(std::memory_order_relaxed);
  }
  return total;
}

S3Stats& ProcessS3Stats() {
  static S3Stats* stats = new S3Stats();  // Never destroyed: clients may outlive main().
  return *stats;
}

}  // namespace sr2
