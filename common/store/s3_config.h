// Where and how sr2 talks to S3: endpoint, region, addressing style, credentials and the
// transfer knobs, resolved from the usual AWS environment variables and credential files.
//
// Environment (first match wins):
//   region:      AWS_REGION, AWS_DEFAULT_REGION, else us-east-1
//   endpoint:    AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else https://s3.<region>.amazonaws.com
//   addressing:  SR2_S3_ADDRESSING=path (default) | virtual
//   credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
//                SR2_S3_CREDENTIALS_DIR, a folder (e.g. a mounted Kubernetes secret) with the
//                files access_key_id, secret_access_key and optionally session_token;
//                AWS_SHARED_CREDENTIALS_FILE (else ~/.aws/credentials), profile AWS_PROFILE
//                (else "default"), keys aws_access_key_id / aws_secret_access_key /
//                aws_session_token
//   transfer:    SR2_S3_PART_SIZE_MIB (>= 5), SR2_S3_UPLOAD_CONCURRENCY (1..64),
//                SR2_S3_MAX_ATTEMPTS (>= 1)
// Secrets never appear in error messages.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sr2 {

// S3's minimum size for every multipart part but the last.
inline constexpr uint64_t kS3MinPartSize = uint64_t{5} << 20;
// The largest object one CopyObject request may copy.
inline constexpr uint64_t kS3MaxSingleCopySize = uint64_t{5} << 30;
// More parallel parts than this gain nothing over one connection pool and cost memory.
inline constexpr int kS3MaxUploadConcurrency = 64;

enum class S3Addressing {
  kPath,         // https://endpoint/bucket/key (works with every S3-compatible server)
  kVirtualHost,  // https://bucket.endpoint/key
};

struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // Empty unless the credentials are temporary.
};

struct S3Config {
  std::string endpoint;  // scheme://host[:port]
  std::string region = "us-east-1";
  S3Addressing addressing = S3Addressing::kPath;
  S3Credentials credentials;

  // Streaming writers buffer and upload parts of this size; larger writes go multipart.
  uint64_t part_size = uint64_t{8} << 20;
  // Parts of one multipart upload in flight at once. A streaming writer holds at most
  // (upload_concurrency + 1) * part_size bytes, however large the object.
  int upload_concurrency = 4;
  // Objects above this are copied by reading and uploading parts of `part_size`.
  uint64_t max_single_copy_size = kS3MaxSingleCopySize;
  // Attempts per request for retryable failures (5xx, throttling, network errors).
  int max_attempts = 5;
  int64_t initial_backoff_ms = 100;
  int64_t max_backoff_ms = 5000;
  int64_t connect_timeout_ms = 10000;
  // Whole-request limit; generous because parts are several MiB.
  int64_t request_timeout_ms = 300000;
  // max-keys for ListObjectsV2 pages.
  int list_page_size = 1000;
};

// InvalidArgument naming the first bad field.
absl::Status ValidateS3Config(const S3Config& config);

// Returns the value of an environment variable, or nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Resolves a config from `env` (see the top of this file). FailedPrecondition when no credentials
// are found, InvalidArgument for malformed values, NotFound/PermissionDenied for unreadable
// credential files (naming the file).
absl::StatusOr<S3Config> ResolveS3Config(const EnvLookup& env);

// ResolveS3Config over the process environment.
absl::StatusOr<S3Config> S3ConfigFromEnvironment();

// The credentials of `profile` in an AWS shared credentials file (INI format).
absl::StatusOr<S3Credentials> ReadSharedCredentialsFile(const std::string& path,
                                                        const std::string& profile);

// Credentials from a folder holding access_key_id, secret_access_key, [session_token].
absl::StatusOr<S3Credentials> ReadCredentialsFolder(const std::string& folder);

}  // namespace sr2
