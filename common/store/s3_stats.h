// Request and byte counters of an S3ObjectStore, by operation and outcome, for export as metrics.
// Every HTTP attempt counts once, retries included.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace sr2 {

enum class S3Operation {
  kGetObject,
  kHeadObject,
  kPutObject,
  kCopyObject,
  kDeleteObject,
  kListObjects,
  kCreateMultipartUpload,
  kUploadPart,
  kCompleteMultipartUpload,
  kAbortMultipartUpload,
  kListMultipartUploads,
};
inline constexpr int kS3OperationCount = 11;

enum class S3Outcome {
  kSuccess,
  kClientError,   // 4xx: not retried
  kServerError,   // 5xx or throttling: retried
  kNetworkError,  // no HTTP answer (refused, reset, timeout): retried
};
inline constexpr int kS3OutcomeCount = 4;

// S3's name of the operation ("GetObject"), and a metric label for the outcome ("success").
const char* S3OperationName(S3Operation operation);
const char* S3OutcomeName(S3Outcome outcome);

// Thread-safe counters; readers see each counter's latest value (not a consistent snapshot).
class S3Stats {
 public:
  void Record(S3Operation operation, S3Outcome outcome, uint64_t bytes_sent,
              uint64_t bytes_received);

  uint64_t requests(S3Operation operation, S3Outcome outcome) const;
  // Payload bytes of every outcome.
  uint64_t bytes_sent(S3Operation operation) const;
  uint64_t bytes_received(S3Operation operation) const;
  // Payload bytes, both ways, of the attempts that ended in `outcome`.
  uint64_t bytes(S3Operation operation, S3Outcome outcome) const;
  // Sums over every operation.
  uint64_t total_requests(S3Outcome outcome) const;

 private:
  static int Index(S3Operation operation) { return static_cast<int>(operation); }

  using ByOutcome = std::array<std::atomic<uint64_t>, kS3OutcomeCount>;
  std::array<ByOutcome, kS3OperationCount> requests_{};
  std::array<ByOutcome, kS3OperationCount> bytes_sent_{};
  std::array<ByOutcome, kS3OperationCount> bytes_received_{};
};

// The traffic of every S3 client of this process, for the metrics endpoint: stores are opened
// per task and per job, so their own counters do not live long enough to be scraped.
S3Stats& ProcessS3Stats();

}  // namespace sr2
