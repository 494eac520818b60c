#include "common/store/s3_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/store/s3_xml.h"
#include "common/util/sha256.h"

namespace sr2 {
namespace {

// Idle handles kept for reuse; more are created on demand and freed when returned.
constexpr size_t kMaxIdleHandles = 8;
// Server messages are echoed in errors, but not without bound.
constexpr size_t kMaxMessageLength = 300;

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t AppendHeader(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  const std::string_view line(data, size * count);
  // A new status line (after "100 Continue" or a redirect) starts a new header block.
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();
  } else if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    absl::AsciiStrToLower(&name);
    (*headers)[name] = std::string(absl::StripAsciiWhitespace(std::string(line.substr(colon + 1))));
  }
  return size * count;
}

// Failures that another attempt cannot fix: the request or the local setup is wrong.
bool IsPermanentCurlError(CURLcode code) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return true;
    default:
      return false;
  }
}

// Throttling and server-side failures, which S3 asks clients to retry.
bool IsRetryableHttp(long status, const std::string& s3_code) {
  return status >= 500 || status == 429 || s3_code == "SlowDown" || s3_code == "RequestTimeout" ||
         s3_code == "InternalError";
}

// These operations may answer 200 and still fail: the error is in the body.
bool MayFailWith200(S3Operation operation) {
  return operation == S3Operation::kCopyObject ||
         operation == S3Operation::kCompleteMultipartUpload;
}

std::string ReasonPhrase(long status) {
  switch (status) {
    case 400:
      return "BadRequest";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 409:
      return "Conflict";
    case 412:
      return "PreconditionFailed";
    case 416:
      return "InvalidRange";
    default:
      return "HTTPError";
  }
}

absl::StatusCode StatusCodeFor(long status, const std::string& s3_code) {
  if (s3_code == "NoSuchBucket") return absl::StatusCode::kFailedPrecondition;
  if (IsRetryableHttp(status, s3_code)) return absl::StatusCode::kUnavailable;
  switch (status) {
    case 404:
      return absl::StatusCode::kNotFound;
    case 401:
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 416:
      return absl::StatusCode::kOutOfRange;
    case 301:
    case 307:
    case 409:
    case 412:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return status >= 400 && status < 500 ? absl::StatusCode::kInvalidArgument
                                           : absl::StatusCode::kUnknown;
  }
}

void SleepBackoff(const S3Config& config, int attempt) {
  thread_local std::mt19937_64 random(std::random_device{}());
  const int64_t ceiling = std::min<int64_t>(config.max_backoff_ms,
                                            config.initial_backoff_ms << std::min(attempt - 1, 20));
  // Jitter spreads clients that failed together; keep at least half the back-off.
  std::uniform_int_distribution<int64_t> jitter(ceiling / 2, ceiling);
  std::this_thread::sleep_for(std::chrono::milliseconds(jitter(random)));
}

}  // namespace

struct S3Client::Attempt {
  S3Outcome outcome = S3Outcome::kSuccess;
  bool retryable = false;
  absl::Status status;
  S3Response response;
};

std::string S3Response::Header(const std::string& lower_case_name) const {
  const auto it = headers.find(lower_case_name);
  return it == headers.end() ? std::string() : it->second;
}

S3Client::S3Client(std::string bucket, S3Config config)
    : bucket_(std::move(bucket)),
      config_(std::move(config)),
      sigv4_(absl::StrCat("aws:amz:", config_.region, ":s3")) {
  InitCurlOnce();
  const size_t scheme_end = config_.endpoint.find("://");
  scheme_ = config_.endpoint.substr(0, scheme_end);
  authority_ = config_.endpoint.substr(scheme_end + 3);
}

S3Client::~S3Client() {
  for (void* handle : idle_handles_) curl_easy_cleanup(handle);
}

void* S3Client::AcquireHandle() {
  {
    std::lock_guard<std::mutex> lock(handles_mutex_);
    if (!idle_handles_.empty()) {
      void* handle = idle_handles_.back();
      idle_handles_.pop_back();
      curl_easy_reset(handle);  // Keeps the handle's open connections.
      return handle;
    }
  }
  return curl_easy_init();
}

void S3Client::ReleaseHandle(void* handle) {
  {
    std::lock_guard<std::mutex> lock(handles_mutex_);
    if (idle_handles_.size() < kMaxIdleHandles) {
      idle_handles_.push_back(handle);
      return;
    }
  }
  curl_easy_cleanup(handle);
}

std::string S3Client::UrlOf(const S3Request& request) const {
  std::string url;
  if (config_.addressing == S3Addressing::kVirtualHost) {
    url = absl::StrCat(scheme_, "://", bucket_, ".", authority_, "/");
  } else {
    url = absl::StrCat(scheme_, "://", authority_, "/", AwsPercentEncode(bucket_, false));
    if (!request.key.empty()) url += '/';
  }
  url += AwsPercentEncode(request.key, /*keep_slash=*/true);
  if (!request.query.empty()) absl::StrAppend(&url, "?", CanonicalQuery(request.query));
  return url;
}

std::string S3Client::Describe(const S3Request& request) const {
  std::string what = absl::StrCat("bucket ", bucket_);
  if (!request.key.empty()) absl::StrAppend(&what, " key ", request.key);
  absl::StrAppend(&what, " (", S3OperationName(request.operation), " at ", config_.endpoint, ")");
  return what;
}

absl::Status S3Client::ErrorStatus(const S3Request& request, const S3Response& response) const {
  const long status = response.http_status;
  const std::string s3_code = XmlText(response.body, "Code");
  std::string message = XmlText(response.body, "Message");
  if (message.size() > kMaxMessageLength) message = message.substr(0, kMaxMessageLength) + "...";
  const absl::StatusCode code = StatusCodeFor(status, s3_code);
  if (s3_code == "NoSuchBucket") {
    return absl::Status(code, absl::StrCat("s3: bucket ", bucket_, " does not exist (", status,
                                           " NoSuchBucket, ", Describe(request), ")"));
  }
  std::string text =
      absl::StrCat("s3: ", status, " ", s3_code.empty() ? ReasonPhrase(status) : s3_code, " for ",
                   Describe(request));
  if (!message.empty()) absl::StrAppend(&text, ": ", message);
  if (s3_code == "RequestTimeTooSkewed") {
    absl::StrAppend(&text, " (the local clock is more than 15 minutes off; fix the time sync)");
  } else if (status == 301 || status == 307 || s3_code == "AuthorizationHeaderMalformed") {
    absl::StrAppend(&text, " (is the bucket in another region than ", config_.region,
                    "? set AWS_REGION or AWS_ENDPOINT_URL_S3)");
  }
  return absl::Status(code, text);
}

S3Client::Attempt S3Client::PerformOnce(const S3Request& request, const std::string& url,
                                        const std::string& payload_hash) {
  Attempt attempt;
  CURL* curl = AcquireHandle();
  if (curl == nullptr) {
    attempt.outcome = S3Outcome::kNetworkError;
    attempt.status = absl::ResourceExhaustedError(
        absl::StrCat("s3: cannot create a curl handle for ", Describe(request)));
    return attempt;
  }
  // curl 7.88 signs every header in this list, so none may be a removal ("Expect:"): it would be
  // signed but not sent.
  curl_slist* headers = nullptr;
  for (const std::string& header : request.headers)
    headers = curl_slist_append(headers, header.c_str());
  // curl 7.88 neither adds nor computes x-amz-content-sha256; it signs the value given.
  headers =
      curl_slist_append(headers, absl::StrCat("x-amz-content-sha256: ", payload_hash).c_str());
  if (!config_.credentials.session_token.empty()) {
    headers = curl_slist_append(
        headers, absl::StrCat("x-amz-security-token: ", config_.credentials.session_token).c_str());
  }

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4_.c_str());
  // Set separately: access keys may contain ':' (Swift's "account:user").
  curl_easy_setopt(curl, CURLOPT_USERNAME, config_.credentials.access_key_id.c_str());
  curl_easy_setopt(curl, CURLOPT_PASSWORD, config_.credentials.secret_access_key.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.request_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &attempt.response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, AppendHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &attempt.response.headers);
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT" || request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data() ? request.body.data() : "");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  const CURLcode result = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &attempt.response.http_status);
  curl_slist_free_all(headers);
  ReleaseHandle(curl);

  const long status = attempt.response.http_status;
  if (result != CURLE_OK) {
    attempt.outcome = S3Outcome::kNetworkError;
    attempt.retryable = !IsPermanentCurlError(result);
    const std::string text = absl::StrCat("s3: request failed for ", Describe(request), ": ",
                                          curl_easy_strerror(result));
    attempt.status = result == CURLE_OPERATION_TIMEDOUT ? absl::DeadlineExceededError(text)
                                                        : absl::UnavailableError(text);
  } else if (status >= 200 && status < 300 &&
             !(MayFailWith200(request.operation) &&
               attempt.response.body.find("<Error>") != std::string::npos)) {
    attempt.outcome = S3Outcome::kSuccess;
  } else {
    const std::string s3_code = XmlText(attempt.response.body, "Code");
    attempt.retryable = IsRetryableHttp(status, s3_code);
    attempt.outcome = attempt.retryable ? S3Outcome::kServerError : S3Outcome::kClientError;
    attempt.status = ErrorStatus(request, attempt.response);
  }
  return attempt;
}

absl::StatusOr<S3Response> S3Client::Perform(const S3Request& request) {
  const std::string url = UrlOf(request);
  // The real hash, not UNSIGNED-PAYLOAD: the server then rejects corrupted uploads (BadDigest).
  const std::string payload_hash = Sha256Hex(request.body);
  for (int attempt_number = 1;; ++attempt_number) {
    Attempt attempt = PerformOnce(request, url, payload_hash);
    stats_.Record(request.operation, attempt.outcome, request.body.size(),
                  attempt.response.body.size());
    ProcessS3Stats().Record(request.operation, attempt.outcome, request.body.size(),
                            attempt.response.body.size());
    if (attempt.outcome == S3Outcome::kSuccess) return std::move(attempt.response);
    if (!attempt.retryable || attempt_number >= config_.max_attempts) {
      if (attempt_number == 1) return attempt.status;
      return absl::Status(attempt.status.code(), absl::StrCat(attempt.status.message(), " (after ",
                                                              attempt_number, " attempts)"));
    }
    SleepBackoff(config_, attempt_number);
  }
}

}  // namespace sr2
