// A Hugging Face checkpoint folder's tensors: one `model.safetensors`, or shards listed by
// `model.safetensors.index.json`. Reading and writing both go through an ObjectStore.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/store/object_store.h"
#include "common/tensor/safetensors.h"

namespace sr2 {

class CheckpointReader {
 public:
  // Opens the checkpoint at the root of `store` (index first, else model.safetensors).
  // NotFound when neither exists; InvalidArgument/DataLoss for malformed files or an index
  // naming missing shards or tensors.
  static absl::StatusOr<std::unique_ptr<CheckpointReader>> Open(ObjectStorePtr store);

  // All tensor names, sorted.
  std::vector<std::string> TensorNames() const;
  // nullptr when absent.
  const TensorInfo* Find(std::string_view name) const;
  // Raw bytes of a tensor, valid while the reader lives; NotFound when absent. From a store
  // that prefers ranged reads (S3), only the tensors asked for are downloaded, each once.
  absl::StatusOr<std::string_view> Bytes(std::string_view name) const;
  // The tensor converted to fp32 (from F32, F16, BF16 or F64); InvalidArgument for other dtypes.
  absl::StatusOr<std::vector<float>> ReadFloat(std::string_view name) const;
  // Keys of the files that make up the checkpoint (shards and the index if any).
  const std::vector<std::string>& files() const { return files_; }

 private:
  struct Entry {
    const SafetensorsFile* file;
    const TensorInfo* info;
  };
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::vector<std::string> files_;
  mutable absl::Mutex fetched_mu_;
  // Tensors fetched from ranged shards, by name (node-based: views stay valid).
  mutable std::map<std::string, std::string, std::less<>> fetched_ ABSL_GUARDED_BY(fetched_mu_);
};

// A tensor owned by the writer's caller.
struct OwnedTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

struct CheckpointWriteOptions {
  // Shards are cut when the next tensor would push a shard past this size; a single file
  // `model.safetensors` is written when everything fits into one.
  uint64_t max_shard_bytes = 4ull << 30;
  std::map<std::string, std::string> metadata = {{"format", "pt"}};
};

// A file written by WriteCheckpoint.
struct WrittenFile {
  std::string key;  // Relative to the prefix.
  uint64_t bytes = 0;
  std::string sha256;  // Hex digest of what was written.
};

// Writes `tensors` under `prefix` in `store` (shards + index when needed), shards streamed
// through the store's writer (never a whole shard in one buffer) and hashed on the way.
// Returns the files written, shards first and the index last.
absl::StatusOr<std::vector<WrittenFile>> WriteCheckpoint(ObjectStore& store,
                                                         std::string_view prefix,
                                                         const std::vector<OwnedTensor>& tensors,
                                                         const CheckpointWriteOptions& options);

}  // namespace sr2
