// ObjectStore on a local folder. Writes go to a temporary file in the target folder and are
// renamed into place (atomic on POSIX); reads map the file read-only.
#pragma once

#include <memory>
#include <string>

#include "common/store/object_store.h"

namespace sr2 {

class LocalObjectStore : public ObjectStore {
 public:
  // `root` is a folder path; it is created on the first write.
  static std::shared_ptr<LocalObjectStore> Create(std::string root);

  std::string uri() const override { return root_; }
  absl::StatusOr<BlobPtr> Read(std::string_view key) override;
  absl::StatusOr<std::string> ReadRange(std::string_view key, uint64_t offset,
                                        uint64_t length) override;
  absl::StatusOr<uint64_t> Size(std::string_view key) override;
  absl::Status Write(std::string_view key, std::string_view data) override;
  absl::StatusOr<std::unique_ptr<ObjectWriter>> NewWriter(std::string_view key) override;
  absl::StatusOr<std::vector<std::string>> List(std::string_view prefix) override;
  absl::Status Delete(std::string_view key) override;
  absl::Status DeletePrefix(std::string_view prefix) override;
  // Renames the folder `from` to `to` (one rename(2): atomic).
  absl::Status Publish(std::string_view from, std::string_view to) override;

 private:
  explicit LocalObjectStore(std::string root) : root_(std::move(root)) {}
  std::string PathOf(std::string_view key) const;
  std::string root_;
};

}  // namespace sr2
