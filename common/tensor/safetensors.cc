#include "common/tensor/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace sr2 {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr char kMetadataKey[] = "__metadata__";

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

// The byte size of dtype x shape, or an error when a dimension is negative or it overflows.
absl::StatusOr<uint64_t> ByteSize(DType dtype, const std::vector<int64_t>& shape) {
  uint64_t bytes = DTypeSize(dtype);
  for (int64_t dim : shape) {
    if (dim < 0) return absl::InvalidArgumentError(absl::StrCat("negative dimension ", dim));
    const uint64_t udim = static_cast<uint64_t>(dim);
    if (udim != 0 && bytes > std::numeric_limits<uint64_t>::max() / udim) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", ShapeString(shape), " is too large"));
    }
    bytes *= udim;
  }
  return bytes;
}

absl::StatusOr<TensorInfo> ParseTensor(const std::string& name, const json& entry,
                                       uint64_t data_size) {
  if (!entry.is_object()) return absl::InvalidArgumentError("entry is not a JSON object");
  TensorInfo info;
  info.name = name;

  const auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end() || !dtype_it->is_string()) {
    return absl::InvalidArgumentError("\"dtype\" is missing or not a string");
  }
  SR2_ASSIGN_OR_RETURN(info.dtype, ParseDType(dtype_it->get<std::string>()));

  const auto shape_it = entry.find("shape");
  if (shape_it == entry.end() || !shape_it->is_array()) {
    return absl::InvalidArgumentError("\"shape\" is missing or not an array");
  }
  for (const json& dim : *shape_it) {
    if (!dim.is_number_unsigned() ||
        dim.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"shape\" entry ", dim.dump(), " is not a non-negative integer"));
    }
    info.shape.push_back(dim.get<int64_t>());
  }

  const auto offsets_it = entry.find("data_offsets");
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
    return absl::InvalidArgumentError(
        "\"data_offsets\" must be an array of two non-negative integers");
  }
  info.begin = (*offsets_it)[0].get<uint64_t>();
  info.end = (*offsets_it)[1].get<uint64_t>();
  if (info.begin > info.end) {
    return absl::InvalidArgumentError(
        absl::StrCat("data_offsets [", info.begin, ",", info.end, "] are reversed"));
  }
  if (info.end > data_size) {
    return absl::InvalidArgumentError(absl::StrCat("data_offsets [", info.begin, ",", info.end,
                                                   "] run past the end of the data section (",
                                                   data_size, " bytes)"));
  }
  SR2_ASSIGN_OR_RETURN(const uint64_t bytes, ByteSize(info.dtype, info.shape));
  if (bytes != info.end - info.begin) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dtype ", std::string(DTypeName(info.dtype)), " x shape ", ShapeString(info.shape),
        " needs ", bytes, " bytes but data_offsets span ", info.end - info.begin));
  }
  return info;
}

absl::StatusOr<std::map<std::string, std::string>> ParseMetadata(const json& value) {
  if (!value.is_object()) {
    return absl::InvalidArgumentError("\"__metadata__\" is not a JSON object");
  }
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"__metadata__\" value for \"", key, "\" is not a string"));
    }
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

namespace {

// The little-endian header length in the first 8 bytes, checked against the file size.
absl::StatusOr<uint64_t> HeaderLength(std::string_view first8, uint64_t file_size) {
  if (file_size < 8 || first8.size() < 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("file is ", file_size, " bytes, too short for the 8-byte header length"));
  }
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) {
    header_size = (header_size << 8) | static_cast<uint8_t>(first8[i]);
  }
  if (header_size > file_size - 8) {
    return absl::InvalidArgumentError(absl::StrCat(
        "header length ", header_size, " runs past the end of the file (", file_size, " bytes)"));
  }
  if (header_size >= kMaxHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat("header length ", header_size,
                                                   " exceeds the limit of ", kMaxHeaderBytes,
                                                   " bytes"));
  }
  return header_size;
}

}  // namespace

absl::StatusOr<SafetensorsFile> SafetensorsFile::Parse(BlobPtr blob, std::string source) {
  if (blob == nullptr) return absl::InvalidArgumentError(absl::StrCat(source, ": no data"));
  const uint64_t file_size = blob->size();
  absl::StatusOr<uint64_t> header_size = HeaderLength(blob->view().substr(0, 8), file_size);
  if (!header_size.ok()) return Annotate(header_size.status(), source);
  SR2_ASSIGN_OR_RETURN(
      SafetensorsFile file,
      ParseHeader(blob->view().substr(8, *header_size), file_size - 8 - *header_size, source));
  file.blob_ = std::move(blob);
  return file;
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::OpenRanged(ObjectStorePtr store,
                                                            std::string key, std::string source) {
  SR2_ASSIGN_OR_RETURN(const uint64_t file_size, store->Size(key));
  SR2_ASSIGN_OR_RETURN(std::string first8, store->ReadRange(key, 0, std::min<uint64_t>(8, file_size)));
  absl::StatusOr<uint64_t> header_size = HeaderLength(first8, file_size);
  if (!header_size.ok()) return Annotate(header_size.status(), source);
  SR2_ASSIGN_OR_RETURN(std::string header_text, store->ReadRange(key, 8, *header_size));
  SR2_ASSIGN_OR_RETURN(SafetensorsFile file,
                       ParseHeader(header_text, file_size - 8 - *header_size, source));
  file.store_ = std::move(store);
  file.key_ = std::move(key);
  return file;
}

absl::StatusOr<std::string> SafetensorsFile::Fetch(const TensorInfo& info) const {
  SR2_ASSIGN_OR_RETURN(std::string bytes,
                       store_->ReadRange(key_, data_offset_ + info.begin, info.end - info.begin));
  if (bytes.size() != info.end - info.begin) {
    return absl::DataLossError(absl::StrCat(source_, ": tensor \"", info.name, "\" read ",
                                            bytes.size(), " of ", info.end - info.begin,
                                            " bytes (the object changed?)"));
  }
  return bytes;
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::ParseHeader(std::string_view header_text,
                                                             uint64_t data_size,
                                                             std::string source) {
  auto invalid = [&source](absl::string_view problem) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", problem));
  };
  const json header = json::parse(header_text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) return invalid("header is not valid JSON");
  if (!header.is_object()) return invalid("header is not a JSON object");

  SafetensorsFile file;
  file.source_ = source;
  file.data_offset_ = 8 + header_text.size();
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      absl::StatusOr<std::map<std::string, std::string>> metadata = ParseMetadata(entry);
      if (!metadata.ok()) return Annotate(metadata.status(), file.source_);
      file.metadata_ = *std::move(metadata);
      continue;
    }
    absl::StatusOr<TensorInfo> info = ParseTensor(name, entry, data_size);
    if (!info.ok()) {
      return Annotate(info.status(), absl::StrCat(file.source_, ": tensor \"", name, "\""));
    }
    file.tensors_.push_back(*std::move(info));
  }

  // Empty tensors occupy no bytes, so only non-empty ones can overlap.
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& info : file.tensors_) {
    if (info.end > info.begin) by_offset.push_back(&info);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo& previous = *by_offset[i - 1];
    const TensorInfo& current = *by_offset[i];
    if (current.begin < previous.end) {
      return invalid(absl::StrCat("tensors \"", previous.name, "\" [", previous.begin, ",",
                                  previous.end, ") and \"", current.name, "\" [", current.begin,
                                  ",", current.end, ") overlap"));
    }
  }
  // nlohmann::json objects iterate in key order, so tensors_ is already sorted by name.
  return file;
}

const TensorInfo* SafetensorsFile::Find(std::string_view name) const {
  auto it = std::lower_bound(
      tensors_.begin(), tensors_.end(), name,
      [](const TensorInfo& info, std::string_view key) { return info.name < key; });
  if (it == tensors_.end() || it->name != name) return nullptr;
  return &*it;
}

std::string_view SafetensorsFile::Bytes(const TensorInfo& info) const {
  return blob_->view().substr(data_offset_ + info.begin, info.end - info.begin);
}

absl::StatusOr<std::string> SerializeSafetensors(
    const std::vector<TensorRef>& tensors, const std::map<std::string, std::string>& metadata) {
  std::string out;
  SR2_RETURN_IF_ERROR(StreamSafetensors(tensors, metadata, [&out](std::string_view piece) {
    out.append(piece);
    return absl::OkStatus();
  }));
  return out;
}

absl::Status StreamSafetensors(const std::vector<TensorRef>& tensors,
                               const std::map<std::string, std::string>& metadata,
                               const std::function<absl::Status(std::string_view)>& sink) {
  std::vector<const TensorRef*> sorted;
  sorted.reserve(tensors.size());
  for (const TensorRef& tensor : tensors) sorted.push_back(&tensor);
  std::sort(sorted.begin(), sorted.end(),
            [](const TensorRef* a, const TensorRef* b) { return a->name < b->name; });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const TensorRef& tensor = *sorted[i];
    if (tensor.name == kMetadataKey) {
      return absl::InvalidArgumentError("a tensor may not be named \"__metadata__\"");
    }
    if (i > 0 && sorted[i - 1]->name == tensor.name) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor name \"", tensor.name, "\" appears twice"));
    }
    absl::StatusOr<uint64_t> bytes = ByteSize(tensor.dtype, tensor.shape);
    if (!bytes.ok()) return Annotate(bytes.status(), absl::StrCat("tensor \"", tensor.name, "\""));
    if (*bytes != tensor.bytes.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor \"", tensor.name, "\": dtype ", std::string(DTypeName(tensor.dtype)),
                       " x shape ", ShapeString(tensor.shape), " needs ", *bytes, " bytes but ",
                       tensor.bytes.size(), " were given"));
    }
    header[tensor.name] = {{"dtype", std::string(DTypeName(tensor.dtype))},
                           {"shape", tensor.shape},
                           {"data_offsets", {offset, offset + *bytes}}};
    offset += *bytes;
  }

  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError("tensor names and metadata must be valid UTF-8");
  }
  // Pads so that the data section starts 8-byte aligned.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  std::string head;
  const uint64_t header_size = header_text.size();
  for (int i = 0; i < 8; ++i) head.push_back(static_cast<char>((header_size >> (8 * i)) & 0xff));
  head += header_text;
  SR2_RETURN_IF_ERROR(sink(head));
  for (const TensorRef* tensor : sorted) SR2_RETURN_IF_ERROR(sink(tensor->bytes));
  return absl::OkStatus();
}

}  // namespace sr2
