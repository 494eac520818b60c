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

S3Stats& S3Stats::Process() {
  static S3Stats* const stats = new S3Stats();  // Never destroyed: exit-time readers stay safe.
  return *stats;
}

void S3Stats::Record(S3Operation operation, S3Outcome outcome, uint64_t bytes_sent,
                     uint64_t bytes_received) {
  Counters& counters = counters_[static_cast<int>(operation)][static_cast<int>(outcome)];
  counters.requests.fetch_add(1, std::memory_order_relaxed);
  counters.bytes_sent.fetch_add(bytes_sent, std::memory_order_relaxed);
  counters.bytes_received.fetch_add(bytes_received, std::memory_order_relaxed);
}

uint64_t S3Stats::requests(S3Operation operation, S3Outcome outcome) const {
  return At(operation, outcome).requests.load(std::memory_order_relaxed);
}

uint64_t S3Stats::bytes_sent(S3Operation operation) const {
  uint64_t total = 0;
  for (const Counters& counters : counters_[static_cast<int>(operation)]) {
    total += counters.bytes_sent.load(std::memory_order_relaxed);
  }
  return total;
}

uint64_t S3Stats::bytes_received(S3Operation operation) const {
  uint64_t total = 0;
  for (const Counters& counters : counters_[static_cast<int>(operation)]) {
    total += counters.bytes_received.load(std::memory_order_relaxed);
  }
  return total;
}

uint64_t S3Stats::bytes(S3Operation operation, S3Outcome outcome) const {
  const Counters& counters = At(operation, outcome);
  return counters.bytes_sent.load(std::memory_order_relaxed) +
         counters.bytes_received.load(std::memory_order_relaxed);
}

uint64_t S3Stats::total_requests(S3Outcome outcome) const {
  uint64_t total = 0;
  for (int op = 0; op < kS3OperationCount; ++op) {
    total += At(static_cast<S3Operation>(op), outcome).requests.load(std::memory_order_relaxed);
  }
  return total;
}

std::vector<S3StatsEntry> S3Stats::Snapshot() const {
  std::vector<S3StatsEntry> entries;
  for (int op = 0; op < kS3OperationCount; ++op) {
    for (int outcome = 0; outcome < kS3OutcomeCount; ++outcome) {
      S3StatsEntry entry{static_cast<S3Operation>(op), static_cast<S3Outcome>(outcome)};
      const Counters& counters = At(entry.operation, entry.outcome);
      entry.requests = counters.requests.load(std::memory_order_relaxed);
      if (entry.requests == 0) continue;
      entry.bytes_sent = counters.bytes_sent.load(std::memory_order_relaxed);
      entry.bytes_received = counters.bytes_received.load(std::memory_order_relaxed);
      entries.push_back(entry);
    }
  }
  return entries;
}

}  // namespace sr2
