#include "common/store/s3_object_store.h"

#include <algorithm>
#include <deque>
#include <future>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/store/s3_xml.h"
#include "common/store/store_factory.h"
#include "common/util/status_macros.h"

namespace sr2 {
namespace {

constexpr std::string_view kS3Scheme = "s3://";
// S3 numbers parts 1..10000.
constexpr int kMaxParts = 10000;

// List prefixes may be partial ("jobs/j1/bl") or end in '/'; the rest must be a valid key.
// S3's bucket naming rules (3-63 of [a-z0-9.-], starting and ending alphanumeric).
absl::Status ValidateBucketName(const std::string& bucket, std::string_view uri) {
  const bool valid_chars = std::all_of(bucket.begin(), bucket.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
  if (bucket.size() < 3 || bucket.size() > 63 || !valid_chars ||
      !absl::ascii_isalnum(bucket.front()) || !absl::ascii_isalnum(bucket.back())) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid S3 bucket name \"", bucket, "\" in ", std::string(uri),
                     ": use 3-63 lower-case letters, digits, '.' or '-'"));
  }
  return absl::OkStatus();
}

bool IsManifest(const std::string& key) {
  const size_t slash = key.rfind('/');
  return std::string_view(key).substr(slash == std::string::npos ? 0 : slash + 1) == kManifestName;
}

absl::Status AbortMultipartUpload(S3Client& client, const std::string& full_key,
                                  const std::string& upload_id) {
  S3Request request;
  request.operation = S3Operation::kAbortMultipartUpload;
  request.method = "DELETE";
  request.key = full_key;
  request.query = {{"uploadId", upload_id}};
  const absl::Status status = client.Perform(request).status();
  return absl::IsNotFound(status) ? absl::OkStatus() : status;  // Already gone.
}

// One multipart upload whose parts go up in parallel, at most `upload_concurrency` at a time; the
// upload is aborted on destruction unless completed or aborted before. Not thread-safe: one
// producer hands it parts in order.
class MultipartUpload {
 public:
  static absl::StatusOr<std::unique_ptr<MultipartUpload>> Start(std::shared_ptr<S3Client> client,
                                                                std::string key) {
    S3Request request;
    request.operation = S3Operation::kCreateMultipartUpload;
    request.method = "POST";
    request.key = key;
    request.query = {{"uploads", ""}};
    request.headers = {"Content-Type: application/octet-stream"};
    SR2_ASSIGN_OR_RETURN(const S3Response response, client->Perform(request));
    std::string upload_id = XmlText(response.body, "UploadId");
    if (upload_id.empty()) {
      return absl::InternalError(absl::StrCat("s3: CreateMultipartUpload for bucket ",
                                              client->bucket(), " key ", key,
                                              " returned no UploadId"));
    }
    return std::unique_ptr<MultipartUpload>(
        new MultipartUpload(std::move(client), std::move(key), std::move(upload_id)));
  }

  ~MultipartUpload() {
    if (!finished_) Abort().IgnoreError();  // Best effort; AbortPendingUploads cleans up.
  }
  MultipartUpload(const MultipartUpload&) = delete;
  MultipartUpload& operator=(const MultipartUpload&) = delete;

  // Starts uploading `data` as the next part once fewer than `upload_concurrency` parts are in
  // flight. The bytes must stay valid until WaitAll() (or Complete/Abort) returns; the overload
  // taking a string owns them. Returns the first failure of any part so far.
  absl::Status StartPart(std::string_view data) { return Launch(std::make_unique<Part>(), data); }
  absl::Status StartPart(std::string data) {
    auto part = std::make_unique<Part>();
    part->bytes = std::move(data);
    const std::string_view view = part->bytes;  // The Part never moves: it lives on the heap.
    return Launch(std::move(part), view);
  }

  // Waits for every part in flight; the first failure of any part so far.
  absl::Status WaitAll() {
    while (!in_flight_.empty()) WaitOldest();
    return first_error_;
  }

  absl::Status Complete() {
    SR2_RETURN_IF_ERROR(WaitAll());
    std::string body = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < etags_.size(); ++i) {
      absl::StrAppend(&body, "<Part><PartNumber>", i + 1, "</PartNumber><ETag>",
                      XmlEscape(etags_[i]), "</ETag></Part>");
    }
    body += "</CompleteMultipartUpload>";
    S3Request request;
    request.operation = S3Operation::kCompleteMultipartUpload;
    request.method = "POST";
    request.key = key_;
    request.query = {{"uploadId", upload_id_}};
    request.headers = {"Content-Type: application/xml"};
    request.body = body;
    SR2_RETURN_IF_ERROR(client_->Perform(request).status());
    finished_ = true;
    return absl::OkStatus();
  }

  // Waits for the parts in flight first: a part finishing after the abort would linger (AWS bills
  // it until a lifecycle rule removes it).
  absl::Status Abort() {
    WaitAll().IgnoreError();
    finished_ = true;
    return AbortMultipartUpload(*client_, key_, upload_id_);
  }

 private:
  struct Part {
    size_t index = 0;   // In etags_; the part number is index + 1.
    std::string bytes;  // Owned data, or empty when the caller's bytes are borrowed.
    std::future<absl::StatusOr<std::string>> etag;
  };

  MultipartUpload(std::shared_ptr<S3Client> client, std::string key, std::string upload_id)
      : client_(std::move(client)), key_(std::move(key)), upload_id_(std::move(upload_id)) {}

  absl::Status Launch(std::unique_ptr<Part> part, std::string_view data) {
    SR2_RETURN_IF_ERROR(first_error_);
    if (etags_.size() >= kMaxParts) {
      return absl::ResourceExhaustedError(absl::StrCat("s3: object ", key_, " in bucket ",
                                                       client_->bucket(), " needs more than ",
                                                       kMaxParts, " parts; raise the part size"));
    }
    while (in_flight_.size() >= static_cast<size_t>(client_->config().upload_concurrency)) {
      WaitOldest();
    }
    SR2_RETURN_IF_ERROR(first_error_);
    part->index = etags_.size();
    etags_.emplace_back();
    part->etag = std::async(std::launch::async, &MultipartUpload::UploadPart, this,
                            part->index + 1, data);
    in_flight_.push_back(std::move(part));
    return absl::OkStatus();
  }

  // Runs on its own thread; touches only immutable members.
  absl::StatusOr<std::string> UploadPart(size_t part_number, std::string_view data) const {
    S3Request request;
    request.operation = S3Operation::kUploadPart;
    request.method = "PUT";
    request.key = key_;
    request.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id_}};
    request.headers = {"Content-Type: application/octet-stream"};
    request.body = data;
    SR2_ASSIGN_OR_RETURN(const S3Response response, client_->Perform(request));
    std::string etag = response.Header("etag");
    if (etag.empty()) {
      return absl::InternalError(absl::StrCat("s3: UploadPart ", part_number, " for bucket ",
                                              client_->bucket(), " key ", key_,
                                              " returned no ETag"));
    }
    return etag;
  }

  void WaitOldest() {
    std::unique_ptr<Part> part = std::move(in_flight_.front());
    in_flight_.pop_front();
    absl::StatusOr<std::string> etag = part->etag.get();
    if (etag.ok()) {
      etags_[part->index] = *std::move(etag);
    } else if (first_error_.ok()) {
      first_error_ = etag.status();
    }
  }

  const std::shared_ptr<S3Client> client_;
  const std::string key_;
  const std::string upload_id_;
  std::vector<std::string> etags_;  // One per started part; filled as parts finish.
  std::deque<std::unique_ptr<Part>> in_flight_;
  absl::Status first_error_;
  bool finished_ = false;
};

absl::Status PutObject(S3Client& client, const std::string& full_key, std::string_view data) {
  S3Request request;
  request.operation = S3Operation::kPutObject;
  request.method = "PUT";
  request.key = full_key;
  request.headers = {"Content-Type: application/octet-stream"};
  request.body = data;
  return client.Perform(request).status();
}

// Fills one part at a time and hands full parts to the upload, which sends several at once; small
// objects become a single PUT on Close(). Holds at most (upload_concurrency + 1) * part_size bytes.
class S3ObjectWriter : public ObjectWriter {
 public:
  S3ObjectWriter(std::shared_ptr<S3Client> client, std::string full_key)
      : client_(std::move(client)), full_key_(std::move(full_key)) {}

  absl::Status Append(std::string_view data) override {
    SR2_RETURN_IF_ERROR(CheckOpen());
    const uint64_t part_size = client_->config().part_size;
    bool borrowed = false;
    while (!data.empty()) {
      // Whole parts straight from the caller's data skip a copy, but must finish before returning.
      if (buffer_.empty() && data.size() >= part_size) {
        SR2_RETURN_IF_ERROR(Fail(StartPart(data.substr(0, part_size))));
        borrowed = true;
        data.remove_prefix(part_size);
        continue;
      }
      if (buffer_.empty()) buffer_.reserve(part_size);
      const size_t take = std::min<size_t>(data.size(), part_size - buffer_.size());
      buffer_.append(data.substr(0, take));
      data.remove_prefix(take);
      if (buffer_.size() == part_size) {
        SR2_RETURN_IF_ERROR(Fail(StartPart(std::exchange(buffer_, std::string()))));
      }
    }
    if (borrowed) SR2_RETURN_IF_ERROR(Fail(upload_->WaitAll()));
    return absl::OkStatus();
  }

  absl::Status Close() override {
    SR2_RETURN_IF_ERROR(CheckOpen());
    closed_ = true;
    if (upload_ == nullptr) return PutObject(*client_, full_key_, buffer_);
    if (!buffer_.empty()) SR2_RETURN_IF_ERROR(Fail(StartPart(std::move(buffer_))));
    SR2_RETURN_IF_ERROR(Fail(upload_->Complete()));
    upload_.reset();
    return absl::OkStatus();
  }

 private:
  absl::Status CheckOpen() const {
    if (closed_) {
      return absl::FailedPreconditionError(absl::StrCat("s3: writer for bucket ", client_->bucket(),
                                                        " key ", full_key_, " is closed"));
    }
    if (!failed_.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("s3: writer for bucket ", client_->bucket(),
                                                        " key ", full_key_,
                                                        " failed earlier: ", failed_.message()));
    }
    return absl::OkStatus();
  }

  template <typename Data>
  absl::Status StartPart(Data data) {
    if (upload_ == nullptr) {
      SR2_ASSIGN_OR_RETURN(upload_, MultipartUpload::Start(client_, full_key_));
    }
    return upload_->StartPart(std::move(data));
  }

  // On failure the upload is aborted at once, so nothing lingers on the server.
  absl::Status Fail(absl::Status status) {
    if (status.ok()) return status;
    failed_ = status;
    buffer_ = std::string();
    if (upload_ != nullptr) {
      const absl::Status aborted = upload_->Abort();
      upload_.reset();
      if (!aborted.ok()) {
        status = absl::Status(
            status.code(), absl::StrCat(status.message(),
                                        "; aborting the upload failed too: ", aborted.message()));
      }
    }
    return status;
  }

  const std::shared_ptr<S3Client> client_;
  const std::string full_key_;
  std::string buffer_;
  std::unique_ptr<MultipartUpload> upload_;  // Aborts on destruction unless completed.
  absl::Status failed_;
  bool closed_ = false;
};

}  // namespace

absl::StatusOr<S3Uri> ParseS3Uri(std::string_view uri) {
  if (uri.rfind(kS3Scheme, 0) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", std::string(uri), "\" is not an s3:// URI"));
  }
  std::string_view rest = uri.substr(kS3Scheme.size());
  const size_t slash = rest.find('/');
  S3Uri parsed;
  parsed.bucket = std::string(rest.substr(0, slash));
  SR2_RETURN_IF_ERROR(ValidateBucketName(parsed.bucket, uri));
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash + 1);
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    if (!prefix.empty()) {
      SR2_RETURN_IF_ERROR(Annotate(ValidateKey(prefix), absl::StrCat("S3 URI ", std::string(uri))));
    }
    parsed.prefix = std::string(prefix);
  }
  return parsed;
}

S3ObjectStore::S3ObjectStore(S3Uri location, S3Config config)
    : location_(std::move(location)),
      client_(std::make_shared<S3Client>(location_.bucket, std::move(config))) {}

absl::StatusOr<std::shared_ptr<S3ObjectStore>> S3ObjectStore::Create(std::string_view uri,
                                                                     S3Config config) {
  SR2_ASSIGN_OR_RETURN(S3Uri location, ParseS3Uri(uri));
  SR2_RETURN_IF_ERROR(
      Annotate(ValidateS3Config(config), absl::StrCat("opening ", std::string(uri))));
  return std::shared_ptr<S3ObjectStore>(new S3ObjectStore(std::move(location), std::move(config)));
}

absl::StatusOr<std::shared_ptr<S3ObjectStore>> S3ObjectStore::Open(std::string_view uri) {
  absl::StatusOr<S3Config> config = S3ConfigFromEnvironment();
  if (!config.ok()) return Annotate(config.status(), absl::StrCat("opening ", std::string(uri)));
  return Create(uri, *std::move(config));
}

std::string S3ObjectStore::uri() const {
  return absl::StrCat("s3://", location_.bucket, location_.prefix.empty() ? "" : "/",
                      location_.prefix);
}

std::string S3ObjectStore::FullKey(std::string_view key) const {
  return JoinKey(location_.prefix, key);
}

std::string S3ObjectStore::FullPrefix(std::string_view prefix) const {
  // Not JoinKey: the store's own prefix must stay a folder ("p/"), even for an empty prefix.
  return location_.prefix.empty() ? std::string(prefix)
                                  : absl::StrCat(location_.prefix, "/", std::string(prefix));
}

std::string S3ObjectStore::RelativeKey(const std::string& full_key) const {
  return location_.prefix.empty() ? full_key : full_key.substr(location_.prefix.size() + 1);
}

absl::StatusOr<BlobPtr> S3ObjectStore::Read(std::string_view key) {
  SR2_RETURN_IF_ERROR(ValidateKey(key));
  S3Request request;
  request.operation = S3Operation::kGetObject;
  request.key = FullKey(key);
  SR2_ASSIGN_OR_RETURN(S3Response response, client_->Perform(request));
  return MakeStringBlob(std::move(response.body));
}

absl::StatusOr<std::string> S3ObjectStore::ReadRange(std::string_view key, uint64_t offset,
                                                     uint64_t length) {
  SR2_RETURN_IF_ERROR(ValidateKey(key));
  // A Range header cannot express an empty range.
  if (length == 0) {
    SR2_ASSIGN_OR_RETURN(const uint64_t size, Size(key));
    if (offset > size) {
      return absl::OutOfRangeError(absl::StrCat("reading 0 bytes at offset ", offset, " of ",
                                                JoinUri(uri(), key), ", which has only ", size,
                                                " bytes"));
    }
    return std::string();
  }
  return ReadRangeFull(FullKey(key), offset, length);
}

absl::StatusOr<std::string> S3ObjectStore::ReadRangeFull(const std::string& full_key,
                                                         uint64_t offset, uint64_t length) {
  const std::string what = absl::StrCat("reading ", length, " bytes at offset ", offset,
                                        " of s3://", location_.bucket, "/", full_key);
  auto too_short = [&what](const std::string& size) {
    return absl::OutOfRangeError(absl::StrCat(what, ", which has only ", size, " bytes"));
  };
  if (length > std::numeric_limits<uint64_t>::max() - offset) return too_short("fewer");
  S3Request request;
  request.operation = S3Operation::kGetObject;
  request.key = full_key;
  request.headers = {absl::StrCat("Range: bytes=", offset, "-", offset + length - 1)};
  absl::StatusOr<S3Response> response = client_->Perform(request);
  if (absl::IsOutOfRange(response.status())) return Annotate(response.status(), what);
  SR2_RETURN_IF_ERROR(response.status());
  std::string& body = response->body;
  if (response->http_status == 200) {  // The server ignored the range and sent everything.
    if (body.size() < offset + length) return too_short(std::to_string(body.size()));
    return body.substr(offset, length);
  }
  if (body.size() < length) {
    // "Content-Range: bytes first-last/total".
    const std::string range = response->Header("content-range");
    const size_t slash = range.rfind('/');
    return too_short(slash == std::string::npos ? "fewer" : range.substr(slash + 1));
  }
  if (body.size() > length) {
    return absl::DataLossError(
        absl::StrCat(what, ": the server answered with ", body.size(), " bytes"));
  }
  return std::move(body);
}

absl::StatusOr<uint64_t> S3ObjectStore::Size(std::string_view key) {
  SR2_RETURN_IF_ERROR(ValidateKey(key));
  S3Request request;
  request.operation = S3Operation::kHeadObject;
  request.method = "HEAD";
  request.key = FullKey(key);
  SR2_ASSIGN_OR_RETURN(const S3Response response, client_->Perform(request));
  uint64_t size = 0;
  if (!absl::SimpleAtoi(response.Header("content-length"), &size)) {
    return absl::InternalError(absl::StrCat("s3: HeadObject for bucket ", location_.bucket, " key ",
                                            request.key, " returned no valid Content-Length"));
  }
  return size;
}

absl::Status S3ObjectStore::Write(std::string_view key, std::string_view data) {
  SR2_RETURN_IF_ERROR(ValidateKey(key));
  if (data.size() <= client_->config().part_size) return PutObject(*client_, FullKey(key), data);
  SR2_ASSIGN_OR_RETURN(std::unique_ptr<ObjectWriter> writer, NewWriter(key));
  SR2_RETURN_IF_ERROR(writer->Append(data));
  return writer->Close();
}

absl::StatusOr<std::unique_ptr<ObjectWriter>> S3ObjectStore::NewWriter(std::string_view key) {
  SR2_RETURN_IF_ERROR(ValidateKey(key));
  return std::make_unique<S3ObjectWriter>(client_, FullKey(key));
}

absl::StatusOr<std::vector<S3ObjectStore::ObjectInfo>> S3ObjectStore::ListFull(
    const std::string& full_prefix) {
  std::vector<ObjectInfo> objects;
  std::string continuation_token;
  do {
    S3Request request;
    request.operation = S3Operation::kListObjects;
    // Listed keys come URL-encoded: XML 1.0 cannot carry every byte a key may hold.
    request.query = {{"list-type", "2"},
                     {"encoding-type", "url"},
                     {"max-keys", std::to_string(client_->config().list_page_size)}};
    if (!full_prefix.empty()) request.query.emplace_back("prefix", full_prefix);
    if (!continuation_token.empty()) {
      request.query.emplace_back("continuation-token", continuation_token);
    }
    SR2_ASSIGN_OR_RETURN(const S3Response response, client_->Perform(request));
    for (std::string_view contents : XmlElements(response.body, "Contents")) {
      ObjectInfo object;
      SR2_ASSIGN_OR_RETURN(object.key, UrlDecode(XmlText(contents, "Key")));
      if (!absl::SimpleAtoi(XmlText(contents, "Size"), &object.size) || object.key.empty()) {
        return absl::InternalError(absl::StrCat("s3: ListObjectsV2 of bucket ", location_.bucket,
                                                " prefix ", full_prefix,
                                                " returned an entry without key or size"));
      }
      objects.push_back(std::move(object));
    }
    continuation_token.clear();
    if (XmlText(response.body, "IsTruncated") == "true") {
      continuation_token = XmlText(response.body, "NextContinuationToken");
      if (continuation_token.empty()) {
        return absl::InternalError(absl::StrCat("s3: truncated ListObjectsV2 of bucket ",
                                                location_.bucket, " prefix ", full_prefix,
                                                " has no continuation token"));
      }
    }
  } while (!continuation_token.empty());
  std::sort(objects.begin(), objects.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return objects;
}

absl::StatusOr<std::vector<std::string>> S3ObjectStore::List(std::string_view prefix) {
  SR2_RETURN_IF_ERROR(ValidateKeyPrefix(prefix));
  SR2_ASSIGN_OR_RETURN(const std::vector<ObjectInfo> objects, ListFull(FullPrefix(prefix)));
  std::vector<std::string> keys;
  keys.reserve(objects.size());
  for (const ObjectInfo& object : objects) keys.push_back(RelativeKey(object.key));
  return keys;
}

absl::Status S3ObjectStore::DeleteFull(const std::string& full_key) {
  S3Request request;
  request.operation = S3Operation::kDeleteObject;
  request.method = "DELETE";
  request.key = full_key;
  const absl::Status status = client_->Perform(request).status();
  return absl::IsNotFound(status) ? absl::OkStatus() : status;
}

absl::Status S3ObjectStore::Delete(std::string_view key) {
  SR2_RETURN_IF_ERROR(ValidateKey(key));
  return DeleteFull(FullKey(key));
}

absl::Status S3ObjectStore::DeletePrefix(std::string_view prefix) {
  SR2_RETURN_IF_ERROR(ValidateKey(prefix));
  SR2_ASSIGN_OR_RETURN(const std::vector<ObjectInfo> objects,
                       ListFull(absl::StrCat(FullKey(prefix), "/")));
  for (const ObjectInfo& object : objects) SR2_RETURN_IF_ERROR(DeleteFull(object.key));
  return absl::OkStatus();
}

absl::Status S3ObjectStore::Copy(const ObjectInfo& source, const std::string& destination) {
  const S3Config& config = client_->config();
  if (source.size <= config.max_single_copy_size) {
    S3Request request;
    request.operation = S3Operation::kCopyObject;
    request.method = "PUT";
    request.key = destination;
    request.headers = {absl::StrCat(
        "x-amz-copy-source: /", AwsPercentEncode(absl::StrCat(location_.bucket, "/", source.key),
                                                 /*keep_slash=*/true))};
    return client_->Perform(request).status();
  }
  // Larger objects pass through this process part by part. UploadPartCopy would keep the bytes on
  // the server, but it needs x-amz-copy-source-range beside x-amz-copy-source, and libcurl 7.88
  // signs that pair in the wrong order (Swift answers SignatureDoesNotMatch).
  SR2_ASSIGN_OR_RETURN(std::unique_ptr<MultipartUpload> upload,
                       MultipartUpload::Start(client_, destination));
  for (uint64_t offset = 0; offset < source.size; offset += config.part_size) {
    SR2_ASSIGN_OR_RETURN(
        std::string part,
        ReadRangeFull(source.key, offset, std::min(config.part_size, source.size - offset)));
    SR2_RETURN_IF_ERROR(upload->StartPart(std::move(part)));
  }
  return upload->Complete();  // On any error the destructor aborts the upload.
}

absl::Status S3ObjectStore::Publish(std::string_view from, std::string_view to) {
  SR2_RETURN_IF_ERROR(ValidateKey(from));
  SR2_RETURN_IF_ERROR(ValidateKey(to));
  const std::string from_prefix = absl::StrCat(FullKey(from), "/");
  const std::string to_prefix = absl::StrCat(FullKey(to), "/");
  if (from_prefix.rfind(to_prefix, 0) == 0 || to_prefix.rfind(from_prefix, 0) == 0) {
    return absl::InvalidArgumentError(absl::StrCat("publishing ", JoinUri(uri(), from), " to ",
                                                   JoinUri(uri(), to),
                                                   ": one lies inside the other"));
  }
  SR2_ASSIGN_OR_RETURN(const std::vector<ObjectInfo> existing, ListFull(to_prefix));
  if (!existing.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("publishing ", JoinUri(uri(), from), ": ",
                                                      JoinUri(uri(), to), " already exists"));
  }
  SR2_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, ListFull(from_prefix));
  if (objects.empty()) {
    return absl::NotFoundError(
        absl::StrCat("publishing ", JoinUri(uri(), from), ": nothing to publish there"));
  }
  // Readers take the manifest as the sign that the tree is complete: copy it last.
  std::stable_partition(objects.begin(), objects.end(),
                        [](const ObjectInfo& object) { return !IsManifest(object.key); });
  for (const ObjectInfo& object : objects) {
    SR2_RETURN_IF_ERROR(
        Copy(object, absl::StrCat(to_prefix, object.key.substr(from_prefix.size()))));
  }
  // And delete it first, so a half-deleted `from` never looks complete.
  for (auto it = objects.rbegin(); it != objects.rend(); ++it) {
    SR2_RETURN_IF_ERROR(DeleteFull(it->key));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<S3ObjectStore::PendingUpload>> S3ObjectStore::ListPendingUploads(
    std::string_view prefix) {
  SR2_RETURN_IF_ERROR(ValidateKeyPrefix(prefix));
  const std::string full_prefix = FullPrefix(prefix);
  std::vector<PendingUpload> uploads;
  std::string key_marker;
  std::string upload_id_marker;
  bool truncated = true;
  while (truncated) {
    S3Request request;
    request.operation = S3Operation::kListMultipartUploads;
    request.query = {{"uploads", ""}};
    if (!full_prefix.empty()) request.query.emplace_back("prefix", full_prefix);
    if (!key_marker.empty()) request.query.emplace_back("key-marker", key_marker);
    if (!upload_id_marker.empty()) {
      request.query.emplace_back("upload-id-marker", upload_id_marker);
    }
    SR2_ASSIGN_OR_RETURN(const S3Response response, client_->Perform(request));
    for (std::string_view upload : XmlElements(response.body, "Upload")) {
      uploads.push_back(
          PendingUpload{RelativeKey(XmlText(upload, "Key")), XmlText(upload, "UploadId")});
    }
    truncated = XmlText(response.body, "IsTruncated") == "true";
    key_marker = XmlText(response.body, "NextKeyMarker");
    upload_id_marker = XmlText(response.body, "NextUploadIdMarker");
    if (truncated && key_marker.empty()) {
      return absl::InternalError(absl::StrCat("s3: truncated ListMultipartUploads of bucket ",
                                              location_.bucket, " has no NextKeyMarker"));
    }
  }
  return uploads;
}

absl::Status S3ObjectStore::AbortPendingUploads(std::string_view prefix) {
  SR2_ASSIGN_OR_RETURN(const std::vector<PendingUpload> uploads, ListPendingUploads(prefix));
  for (const PendingUpload& upload : uploads) {
    SR2_RETURN_IF_ERROR(AbortMultipartUpload(*client_, FullKey(upload.key), upload.upload_id));
  }
  return absl::OkStatus();
}

}  // namespace sr2
