// One bucket's S3 REST API over libcurl: signs with libcurl's built-in SigV4, retries transient
// failures with jittered exponential back-off, maps S3 errors to absl::Status and counts every
// attempt in S3Stats. Thread-safe; idle curl handles (and so their connections) are pooled.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/store/s3_config.h"
#include "common/store/s3_stats.h"
#include "common/store/s3_url.h"

namespace sr2 {

struct S3Request {
  S3Operation operation = S3Operation::kGetObject;
  std::string method = "GET";  // GET, HEAD, PUT, POST or DELETE
  std::string key;             // Full key in the bucket; empty for bucket-level requests.
  QueryParams query;
  std::vector<std::string> headers;  // "Name: value"
  std::string_view body;             // Sent by PUT and POST; must outlive Perform().
};

struct S3Response {
  long http_status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // Names lower-cased.

  // The header's value, or "" when absent.
  std::string Header(const std::string& lower_case_name) const;
};

class S3Client {
 public:
  // `config` must pass ValidateS3Config.
  S3Client(std::string bucket, S3Config config);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Performs `request` and returns its 2xx response. Errors name the bucket, key, operation and
  // endpoint (never credentials): NotFound (404), FailedPrecondition (missing bucket, 409/412,
  // redirects to another region), PermissionDenied (403), OutOfRange (416), InvalidArgument (other
  // 4xx), Unavailable / DeadlineExceeded once retries of 5xx, throttling or network failures are
  // exhausted.
  absl::StatusOr<S3Response> Perform(const S3Request& request);

  const std::string& bucket() const { return bucket_; }
  const S3Config& config() const { return config_; }
  const S3Stats& stats() const { return stats_; }

 private:
  struct Attempt;

  std::string UrlOf(const S3Request& request) const;
  Attempt PerformOnce(const S3Request& request, const std::string& url,
                      const std::string& payload_hash);
  absl::Status ErrorStatus(const S3Request& request, const S3Response& response) const;
  std::string Describe(const S3Request& request) const;
  void* AcquireHandle();
  void ReleaseHandle(void* handle);

  const std::string bucket_;
  const S3Config config_;
  const std::string sigv4_;  // "aws:amz:<region>:s3"
  std::string scheme_;       // "https"
  std::string authority_;    // "host[:port]"
  S3Stats stats_;
  std::mutex handles_mutex_;
  std::vector<void*> idle_handles_;
};

}  // namespace sr2
