// Reading and writing the safetensors format
// (8-byte little-endian header length, JSON header, raw little-endian data).
//
// Parsing is strict: the header must lie inside the file and be valid JSON; every tensor needs
// a known dtype, a shape whose byte size equals end-begin, offsets inside the data section, and
// no two tensors may overlap. Errors name the file and the tensor.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/store/blob.h"
#include "common/store/object_store.h"
#include "common/tensor/dtype.h"

namespace sr2 {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // Offsets relative to the start of the data section.
  uint64_t end = 0;
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Parses the file held by `blob`. `source` names the file in error messages.
  static absl::StatusOr<SafetensorsFile> Parse(BlobPtr blob, std::string source);
  // Reads only the header of `key` in `store` (two ranged reads); each tensor's bytes are then
  // fetched on demand by Fetch(). For remote stores, where a shard may be gigabytes.
  static absl::StatusOr<SafetensorsFile> OpenRanged(ObjectStorePtr store, std::string key,
                                                    std::string source);

  // Tensors sorted by name.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // nullptr when absent.
  const TensorInfo* Find(std::string_view name) const;
  // The raw bytes of a tensor of this file. REQUIRES: not opened with OpenRanged().
  std::string_view Bytes(const TensorInfo& info) const;
  // Whether the tensors' bytes come from Fetch() rather than Bytes().
  bool ranged() const { return store_ != nullptr; }
  // A copy of a tensor's bytes, read with one ranged read. REQUIRES: ranged().
  absl::StatusOr<std::string> Fetch(const TensorInfo& info) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& source() const { return source_; }

 private:
  // The header (JSON) of a file whose data section is `data_size` bytes long.
  static absl::StatusOr<SafetensorsFile> ParseHeader(std::string_view header_text,
                                                     uint64_t data_size, std::string source);

  BlobPtr blob_;         // The whole file, or null when ranged.
  ObjectStorePtr store_;  // With key_: where a ranged file's tensors are fetched from.
  std::string key_;
  std::string source_;
  uint64_t data_offset_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// A tensor to be written; `bytes` must stay alive until serialization is done.
struct TensorRef {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::string_view bytes;
};

// Serializes tensors (in name order, 8-byte aligned header) into one safetensors image.
// InvalidArgument if a byte size does not match dtype x shape or a name repeats.
absl::StatusOr<std::string> SerializeSafetensors(
    const std::vector<TensorRef>& tensors,
    const std::map<std::string, std::string>& metadata = {});

// The same image handed to `sink` piece by piece (length + header, then each tensor's bytes),
// so that a multi-gigabyte shard is never assembled in one buffer. Stops at the first error.
absl::Status StreamSafetensors(const std::vector<TensorRef>& tensors,
                               const std::map<std::string, std::string>& metadata,
                               const std::function<absl::Status(std::string_view)>& sink);

}  // namespace sr2
