// The object-store seam (leveldb's Env idea): every byte sr2 reads or writes outside its own
// process goes through an ObjectStore, so tests can swap in fault-injecting stores.
//
// Keys are '/'-separated relative paths ("jobs/j1/blocks/0.safetensors"). A key may not be
// empty, absolute, contain "." / ".." segments, empty segments or NUL: such keys are rejected
// with InvalidArgument, so no key can escape the store's root.
//
// Thread-safety: implementations are safe for concurrent use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/store/blob.h"

namespace sr2 {

// Streams one object. Nothing is visible under the key until Close() returns OK; destroying
// a writer without Close() abandons the object.
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  virtual absl::Status Append(std::string_view data) = 0;
  virtual absl::Status Close() = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // The URI of the store's root, e.g. "/data/work" or "s3://bucket/prefix".
  virtual std::string uri() const = 0;

  // True when reading part of an object is much cheaper than reading all of it (remote
  // stores): checkpoint readers then fetch single tensors instead of whole shards.
  virtual bool prefers_ranged_reads() const { return false; }

  // The whole object. NotFound if it does not exist. Local stores map the file.
  virtual absl::StatusOr<BlobPtr> Read(std::string_view key) = 0;

  // `length` bytes from `offset`; OutOfRange if the object is shorter.
  virtual absl::StatusOr<std::string> ReadRange(std::string_view key, uint64_t offset,
                                                uint64_t length) = 0;

  // Size in bytes; NotFound if missing.
  virtual absl::StatusOr<uint64_t> Size(std::string_view key) = 0;

  // Writes the whole object atomically: readers see the old object or all of the new one.
  virtual absl::Status Write(std::string_view key, std::string_view data) = 0;

  // A streaming writer with the same atomicity.
  virtual absl::StatusOr<std::unique_ptr<ObjectWriter>> NewWriter(std::string_view key) = 0;

  // Keys below `prefix` (a key prefix, "" for all), sorted.
  virtual absl::StatusOr<std::vector<std::string>> List(std::string_view prefix) = 0;

  // Removes one object; a missing object is not an error.
  virtual absl::Status Delete(std::string_view key) = 0;

  // Removes every object under `prefix` + "/".
  virtual absl::Status DeletePrefix(std::string_view prefix) = 0;

  // Moves the finished tree under `from` to `to` so that it appears under `to` whole.
  // FailedPrecondition if anything already exists under `to`.
  virtual absl::Status Publish(std::string_view from, std::string_view to) = 0;
};

using ObjectStorePtr = std::shared_ptr<ObjectStore>;

// Checks the key rules above; InvalidArgument naming the key otherwise.
absl::Status ValidateKey(std::string_view key);

// Checks a List prefix. Prefixes may be partial ("jobs/j1/bl") or end in '/'; the rest must be
// a valid key.
absl::Status ValidateKeyPrefix(std::string_view prefix);

// Joins key segments with '/', skipping empty ones.
std::string JoinKey(std::string_view a, std::string_view b);

}  // namespace sr2
