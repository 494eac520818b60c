#include "common/tensor/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/store/store_factory.h"
#include "common/util/sha256.h"
#include "common/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace sr2 {
namespace {

using nlohmann::json;

constexpr char kSingleFile[] = "model.safetensors";
constexpr char kIndexFile[] = "model.safetensors.index.json";

// Reads an index's weight_map: tensor name -> shard key.
absl::StatusOr<std::map<std::string, std::string>> ParseWeightMap(std::string_view text,
                                                                  const std::string& source) {
  auto invalid = [&source](absl::string_view problem) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", problem));
  };
  const json index = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded()) return invalid("not valid JSON");
  if (!index.is_object()) return invalid("not a JSON object");
  const auto weight_map = index.find("weight_map");
  if (weight_map == index.end() || !weight_map->is_object()) {
    return invalid("\"weight_map\" is missing or not an object");
  }
  std::map<std::string, std::string> result;
  for (const auto& [tensor, shard] : weight_map->items()) {
    if (!shard.is_string()) {
      return invalid(absl::StrCat("weight_map entry for \"", tensor, "\" is not a string"));
    }
    const std::string shard_key = shard.get<std::string>();
    absl::Status valid = ValidateKey(shard_key);
    if (!valid.ok()) {
      return Annotate(valid, absl::StrCat(source, ": shard of tensor \"", tensor, "\""));
    }
    result[tensor] = shard_key;
  }
  return result;
}

// Converts out.size() little-endian elements of type T to float.
template <typename T>
void ConvertElements(std::string_view bytes, std::vector<float>& out) {
  for (size_t i = 0; i < out.size(); ++i) {
    T value;
    std::memcpy(&value, bytes.data() + i * sizeof(T), sizeof(T));
    out[i] = static_cast<float>(value);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<CheckpointReader>> CheckpointReader::Open(ObjectStorePtr store) {
  auto reader = std::make_unique<CheckpointReader>();
  const std::string index_source = JoinUri(store->uri(), kIndexFile);
  absl::StatusOr<BlobPtr> index_blob = store->Read(kIndexFile);
  std::map<std::string, std::string> weight_map;  // Empty for a single-file checkpoint.
  std::set<std::string> shard_keys;
  if (index_blob.ok()) {
    SR2_ASSIGN_OR_RETURN(weight_map, ParseWeightMap((*index_blob)->view(), index_source));
    for (const auto& [tensor, shard] : weight_map) shard_keys.insert(shard);
    reader->files_.push_back(std::string(kIndexFile));
  } else if (absl::IsNotFound(index_blob.status())) {
    shard_keys.insert(std::string(kSingleFile));
  } else {
    return index_blob.status();
  }

  std::map<std::string, const SafetensorsFile*> shard_by_key;
  for (const std::string& shard_key : shard_keys) {
    const std::string source = JoinUri(store->uri(), shard_key);
    // Remote stores serve single tensors by ranged reads; a local file is mapped whole.
    absl::StatusOr<SafetensorsFile> file =
        store->prefers_ranged_reads()
            ? SafetensorsFile::OpenRanged(store, shard_key, source)
            : [&]() -> absl::StatusOr<SafetensorsFile> {
                SR2_ASSIGN_OR_RETURN(BlobPtr blob, store->Read(shard_key));
                return SafetensorsFile::Parse(std::move(blob), source);
              }();
    if (absl::IsNotFound(file.status())) {
      if (!index_blob.ok()) {
        return absl::NotFoundError(absl::StrCat("no checkpoint at ", store->uri(), ": neither ",
                                                kIndexFile, " nor ", kSingleFile, " exists"));
      }
      return absl::InvalidArgumentError(
          absl::StrCat(index_source, " names shard ", shard_key, ", which does not exist"));
    }
    if (!file.ok()) return file.status();
    reader->shards_.push_back(std::make_unique<SafetensorsFile>(*std::move(file)));
    reader->files_.push_back(shard_key);
    const SafetensorsFile* shard = reader->shards_.back().get();
    shard_by_key[shard_key] = shard;
    for (const TensorInfo& info : shard->tensors()) {
      auto [it, inserted] = reader->entries_.emplace(info.name, Entry{shard, &info});
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat("tensor \"", info.name, "\" is in both ",
                                                       it->second.file->source(), " and ", source));
      }
    }
  }

  for (const auto& [tensor, shard_key] : weight_map) {
    auto it = reader->entries_.find(tensor);
    if (it == reader->entries_.end() || it->second.file != shard_by_key.at(shard_key)) {
      return absl::InvalidArgumentError(absl::StrCat(index_source, " places tensor \"", tensor,
                                                     "\" in ", shard_key,
                                                     ", which does not contain it"));
    }
  }
  std::sort(reader->files_.begin(), reader->files_.end());
  return reader;
}

std::vector<std::string> CheckpointReader::TensorNames() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) names.push_back(name);
  return names;
}

const TensorInfo* CheckpointReader::Find(std::string_view name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second.info;
}

absl::StatusOr<std::string_view> CheckpointReader::Bytes(std::string_view name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    return absl::NotFoundError(
        absl::StrCat("tensor \"", std::string(name), "\" is not in the checkpoint"));
  }
  const SafetensorsFile& file = *it->second.file;
  if (!file.ranged()) return file.Bytes(*it->second.info);
  absl::MutexLock lock(&fetched_mu_);
  auto fetched = fetched_.find(it->first);
  if (fetched == fetched_.end()) {
    SR2_ASSIGN_OR_RETURN(std::string bytes, file.Fetch(*it->second.info));
    fetched = fetched_.emplace(it->first, std::move(bytes)).first;
  }
  return std::string_view(fetched->second);
}

absl::StatusOr<std::vector<float>> CheckpointReader::ReadFloat(std::string_view name) const {
  SR2_ASSIGN_OR_RETURN(std::string_view bytes, Bytes(name));
  const TensorInfo& info = *Find(name);
  std::vector<float> out(static_cast<size_t>(info.numel()));
  switch (info.dtype) {
    case DType::kF32:
      ConvertElements<float>(bytes, out);
      break;
    case DType::kF64:
      ConvertElements<double>(bytes, out);
      break;
    case DType::kF16:
    case DType::kBF16: {
      const bool is_half = info.dtype == DType::kF16;
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t bits;
        std::memcpy(&bits, bytes.data() + 2 * i, sizeof(bits));
        out[i] = is_half ? HalfToFloat(bits) : BFloat16ToFloat(bits);
      }
      break;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("tensor \"", std::string(name), "\" has dtype ",
                       std::string(DTypeName(info.dtype)), ", which is not a float type"));
  }
  return out;
}

absl::StatusOr<std::vector<WrittenFile>> WriteCheckpoint(ObjectStore& store,
                                                         std::string_view prefix,
                                                         const std::vector<OwnedTensor>& tensors,
                                                         const CheckpointWriteOptions& options) {
  std::vector<const OwnedTensor*> sorted;
  sorted.reserve(tensors.size());
  for (const OwnedTensor& tensor : tensors) sorted.push_back(&tensor);
  std::sort(sorted.begin(), sorted.end(),
            [](const OwnedTensor* a, const OwnedTensor* b) { return a->name < b->name; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i - 1]->name == sorted[i]->name) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor name \"", sorted[i]->name, "\" appears twice"));
    }
  }

  // Greedy cut in name order: a shard closes when the next tensor would push it past the limit.
  std::vector<std::vector<TensorRef>> shards(1);
  uint64_t shard_bytes = 0;
  uint64_t total_bytes = 0;
  for (const OwnedTensor* tensor : sorted) {
    const uint64_t size = tensor->bytes.size();
    if (!shards.back().empty() && shard_bytes + size > options.max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(TensorRef{tensor->name, tensor->dtype, tensor->shape, tensor->bytes});
    shard_bytes += size;
    total_bytes += size;
  }

  std::vector<WrittenFile> written;
  const auto write_shard = [&](const std::vector<TensorRef>& shard,
                               const std::string& name) -> absl::Status {
    SR2_ASSIGN_OR_RETURN(std::unique_ptr<ObjectWriter> writer,
                         store.NewWriter(JoinKey(prefix, name)));
    WrittenFile& file = written.emplace_back();
    file.key = name;
    Sha256 hash;
    SR2_RETURN_IF_ERROR(
        StreamSafetensors(shard, options.metadata, [&](std::string_view piece) {
          hash.Update(piece);
          file.bytes += piece.size();
          return writer->Append(piece);
        }));
    SR2_RETURN_IF_ERROR(writer->Close());
    file.sha256 = hash.FinishHex();
    return absl::OkStatus();
  };
  if (shards.size() == 1) {
    SR2_RETURN_IF_ERROR(write_shard(shards[0], std::string(kSingleFile)));
    return written;
  }

  json weight_map = json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string shard_name =
        absl::StrFormat("model-%05d-of-%05d.safetensors", i + 1, shards.size());
    SR2_RETURN_IF_ERROR(write_shard(shards[i], shard_name));
    for (const TensorRef& tensor : shards[i]) weight_map[tensor.name] = shard_name;
  }
  // The index goes last so that a reader never sees an index without its shards.
  const json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
  const std::string index_text = index.dump(2);
  SR2_RETURN_IF_ERROR(store.Write(JoinKey(prefix, kIndexFile), index_text));
  written.push_back({std::string(kIndexFile), index_text.size(), Sha256Hex(index_text)});
  return written;
}

}  // namespace sr2
