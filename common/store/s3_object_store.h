// ObjectStore on S3 (or any S3-compatible server), rooted at s3://bucket/prefix.
//
// Atomicity: single PUTs and completed multipart uploads are atomic per object, as the interface
// requires. Publish cannot be atomic on S3: it copies every object from `from` to `to`, writing
// sr2_manifest.json last so that readers that wait for the manifest see a whole tree, then deletes
// `from`. Streaming writers upload a part whenever one fills and abort the multipart upload when
// abandoned or failed, so no orphaned uploads stay behind (except when the server is unreachable at
// that moment; AbortPendingUploads cleans those up).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/store/object_store.h"
#include "common/store/s3_client.h"
#include "common/store/s3_config.h"
#include "common/store/s3_stats.h"

namespace sr2 {

// The parts of "s3://bucket/prefix"; prefix has no trailing '/' and may be empty.
struct S3Uri {
  std::string bucket;
  std::string prefix;
};
// InvalidArgument for another scheme, a bucket name S3 would reject, or a malformed prefix.
absl::StatusOr<S3Uri> ParseS3Uri(std::string_view uri);

// The object whose presence marks a published tree as complete.
inline constexpr std::string_view kManifestName = "sr2_manifest.json";

class S3ObjectStore : public ObjectStore {
 public:
  // A store at `uri` (s3://bucket[/prefix]) using `config`. Nothing is contacted yet.
  static absl::StatusOr<std::shared_ptr<S3ObjectStore>> Create(std::string_view uri,
                                                               S3Config config);
  // Create() with the configuration from the environment (see s3_config.h).
  static absl::StatusOr<std::shared_ptr<S3ObjectStore>> Open(std::string_view uri);

  std::string uri() const override;
  bool prefers_ranged_reads() const override { return true; }
  absl::StatusOr<BlobPtr> Read(std::string_view key) override;
  absl::StatusOr<std::string> ReadRange(std::string_view key, uint64_t offset,
                                        uint64_t length) override;
  absl::StatusOr<uint64_t> Size(std::string_view key) override;
  absl::Status Write(std::string_view key, std::string_view data) override;
  absl::StatusOr<std::unique_ptr<ObjectWriter>> NewWriter(std::string_view key) override;
  absl::StatusOr<std::vector<std::string>> List(std::string_view prefix) override;
  absl::Status Delete(std::string_view key) override;
  absl::Status DeletePrefix(std::string_view prefix) override;
  absl::Status Publish(std::string_view from, std::string_view to) override;

  // Multipart uploads started but neither completed nor aborted, below `prefix` (relative to the
  // store, "" for all), e.g. left by a process that died mid-write.
  struct PendingUpload {
    std::string key;  // Relative to the store.
    std::string upload_id;
  };
  absl::StatusOr<std::vector<PendingUpload>> ListPendingUploads(std::string_view prefix);
  // Aborts every pending upload below `prefix`.
  absl::Status AbortPendingUploads(std::string_view prefix);

  const S3Stats& stats() const { return client_->stats(); }

 private:
  struct ObjectInfo {
    std::string key;  // Full key in the bucket.
    uint64_t size = 0;
  };

  S3ObjectStore(S3Uri location, S3Config config);
  // The key in the bucket for a store-relative key.
  std::string FullKey(std::string_view key) const;
  // The key prefix in the bucket for a store-relative List prefix (partial keys allowed).
  std::string FullPrefix(std::string_view prefix) const;
  // The store-relative key of a full key (which must lie below the store's prefix).
  std::string RelativeKey(const std::string& full_key) const;
  absl::StatusOr<std::vector<ObjectInfo>> ListFull(const std::string& full_prefix);
  // `length` (> 0) bytes from `offset` of an object named by its full key.
  absl::StatusOr<std::string> ReadRangeFull(const std::string& full_key, uint64_t offset,
                                            uint64_t length);
  absl::Status DeleteFull(const std::string& full_key);
  absl::Status Copy(const ObjectInfo& source, const std::string& destination);

  const S3Uri location_;
  const std::shared_ptr<S3Client> client_;
};

}  // namespace sr2
