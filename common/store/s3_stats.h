// Request and byte counters of S3 traffic, by operation and outcome, for export as metrics.
// Every HTTP attempt counts once, retries included. Each S3ObjectStore has its own counters and
// also adds to the process-wide ones (S3Stats::Process()), which a metrics collector reads with
// Snapshot().
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

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

// The counters of one (operation, outcome) pair. Bytes are request and response bodies.
struct S3StatsEntry {
  S3Operation operation;
  S3Outcome outcome;
  uint64_t requests = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
};

// Thread-safe, monotonic counters (Prometheus counters can be fed from them directly). Readers see
// each counter's latest value, not a consistent cut across counters.
class S3Stats {
 public:
  // The counters of every S3 request this process made.
  static S3Stats& Process();

  void Record(S3Operation operation, S3Outcome outcome, uint64_t bytes_sent,
              uint64_t bytes_received);

  uint64_t requests(S3Operation operation, S3Outcome outcome) const;
  // Sums over every outcome.
  uint64_t bytes_sent(S3Operation operation) const;
  uint64_t bytes_received(S3Operation operation) const;
  // Payload bytes, both ways, of the attempts that ended in `outcome`.
  uint64_t bytes(S3Operation operation, S3Outcome outcome) const;
  // Sums over every operation.
  uint64_t total_requests(S3Outcome outcome) const;
  // Every (operation, outcome) pair with at least one request, in enum order.
  std::vector<S3StatsEntry> Snapshot() const;

 private:
  struct Counters {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> bytes_sent{0};
    std::atomic<uint64_t> bytes_received{0};
  };
  const Counters& At(S3Operation operation, S3Outcome outcome) const {
    return counters_[static_cast<int>(operation)][static_cast<int>(outcome)];
  }

  std::array<std::array<Counters, kS3OutcomeCount>, kS3OperationCount> counters_;
};

}  // namespace sr2
