#include "common/quant/checkpoint_export.h"

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/quant/gptq_packing.h"
#include "common/tensor/dtype.h"
#include "common/util/sha256.h"
#include "common/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace sr2 {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kAutoRoundVersion = "0.15.0";

template <typename T>
std::string RawBytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// Dequantized weights in the source tensor's float dtype.
absl::StatusOr<std::string> EncodeFloats(const std::vector<float>& w, DType dtype,
                                         absl::string_view name) {
  switch (dtype) {
    case DType::kF32:
      return RawBytes(w);
    case DType::kF16:
    case DType::kBF16: {
      std::vector<uint16_t> h(w.size());
      for (size_t i = 0; i < w.size(); ++i) {
        h[i] = dtype == DType::kF16 ? FloatToHalf(w[i]) : FloatToBFloat16(w[i]);
      }
      return RawBytes(h);
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat("tensor ", name, " has dtype ",
                                                     std::string(DTypeName(dtype)),
                                                     ", expected F32, F16 or BF16"));
  }
}

// The scheme keys auto-round writes per layer.
Json SchemeJson(const Scheme& s) {
  return Json{{"bits", s.bits}, {"group_size", s.group_size}, {"sym", s.sym}};
}

// A regex matching exactly one layer name, as auto-round builds GPTQModel's `dynamic` keys.
std::string LayerRegex(const std::string& name) {
  std::string escaped;
  for (char c : name) {
    if (std::strchr(".^$|?*+()[]{}\\", c) != nullptr) escaped += '\\';
    escaped += c;
  }
  return ".*" + escaped + ".*";
}

absl::StatusOr<Json> QuantizationConfig(const ExportSource& source, const ExportSpec& spec) {
  const Scheme& global = spec.scheme;
  Json q = SchemeJson(global);
  Json per_layer = Json::object();  // extra_config (auto_round) or dynamic (auto_gptq).
  for (const std::vector<LinearLayer>& block : source.layout->blocks) {
    for (const LinearLayer& linear : block) {
      auto it = source.layers->find(linear.name);
      if (spec.format == ExportFormat::kAutoGptq) {
        if (it == source.layers->end()) {
          per_layer["-:" + LayerRegex(linear.name)] = Json::object();
        } else if (!(it->second.scheme == global)) {
          per_layer["+:" + LayerRegex(linear.name)] = SchemeJson(it->second.scheme);
        }
        continue;
      }
      if (it == source.layers->end()) {
        per_layer[linear.name] = Json{{"bits", 16}, {"data_type", "fp"}};
        continue;
      }
      const Json layer_scheme = SchemeJson(it->second.scheme);
      Json diff = Json::object();
      for (const auto& [key, value] : layer_scheme.items()) {
        if (q[key] != value) diff[key] = value;
      }
      if (!diff.empty()) per_layer[linear.name] = std::move(diff);
    }
  }

  if (spec.format == ExportFormat::kAutoGptq) {
    q["desc_act"] = false;
    q["true_sequential"] = false;
    q["damp_percent"] = 0.01;
    q["quant_method"] = "gptq";
    q["provider"] = "auto-round";
    q["lm_head"] = false;
    if (!per_layer.empty()) q["dynamic"] = std::move(per_layer);
    return q;
  }
  q["data_type"] = "int";
  q["quant_method"] = "auto-round";
  q["packing_format"] = global.sym ? "auto_round:auto_gptq" : "auto_round";
  q["autoround_version"] = std::string(kAutoRoundVersion);
  q["block_name_to_quantize"] = "model.layers";
  for (const auto& [key, literal] : spec.tuning) {
    Json value = Json::parse(literal, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tuning setting '", key, "' is not a JSON literal: ", literal));
    }
    if (q.contains(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tuning setting '", key, "' would overwrite a quantization_config key"));
    }
    q[key] = std::move(value);
  }
  if (!per_layer.empty()) q["extra_config"] = std::move(per_layer);
  return q;
}

// Checks the layer map against the checkpoint and the format before anything is written.
absl::Status CheckLayers(const ExportSource& source, ExportFormat format) {
  std::map<std::string, const LinearLayer*> linears;
  for (const std::vector<LinearLayer>& block : source.layout->blocks) {
    for (const LinearLayer& linear : block) linears[linear.name] = &linear;
  }
  for (const auto& [name, layer] : *source.layers) {
    auto it = linears.find(name);
    if (it == linears.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("quantized layer ", name, " is not a Linear of the model's blocks"));
    }
    if (layer.name != name || layer.out_features != it->second->out_features ||
        layer.in_features != it->second->in_features) {
      return absl::InvalidArgumentError(absl::StrCat(
          "quantized layer ", name, " (named '", layer.name, "', shape [", layer.out_features, ",",
          layer.in_features, "]) does not match the model's [", it->second->out_features, ",",
          it->second->in_features, "]"));
    }
    SR2_RETURN_IF_ERROR(layer.Validate());
    if (format != ExportFormat::kFake && !GptqCanHold(layer.out_features, layer.in_features)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "layer ", name, " [", layer.out_features, ",", layer.in_features, "] cannot be held by ",
          std::string(ExportFormatName(format)), ": both dimensions must be multiples of 32"));
    }
  }
  return absl::OkStatus();
}

// Appends the tensors that replace "<layer>.weight" in the output.
absl::Status AppendQuantized(const QuantizedLayer& layer, const TensorInfo& source_weight,
                             const ExportSpec& spec, std::vector<OwnedTensor>* out) {
  if (spec.format == ExportFormat::kFake) {
    SR2_ASSIGN_OR_RETURN(std::string bytes,
                         EncodeFloats(layer.Dequantize(), source_weight.dtype, source_weight.name));
    out->push_back(
        {source_weight.name, source_weight.dtype, source_weight.shape, std::move(bytes)});
    return absl::OkStatus();
  }
  const ZeroStorage zeros = spec.format == ExportFormat::kAutoRound && !spec.scheme.sym
                                ? ZeroStorage::kAsIs
                                : ZeroStorage::kMinusOne;
  SR2_ASSIGN_OR_RETURN(GptqTensors packed, PackGptq(layer, zeros));
  const int64_t bits = layer.scheme.bits;
  const int64_t groups = layer.groups();
  out->push_back({layer.name + ".qweight",
                  DType::kI32,
                  {layer.in_features * bits / 32, layer.out_features},
                  RawBytes(packed.qweight)});
  out->push_back({layer.name + ".qzeros",
                  DType::kI32,
                  {groups, layer.out_features * bits / 32},
                  RawBytes(packed.qzeros)});
  out->push_back(
      {layer.name + ".scales", DType::kF16, {groups, layer.out_features}, RawBytes(packed.scales)});
  if (spec.format == ExportFormat::kAutoGptq) {
    out->push_back(
        {layer.name + ".g_idx", DType::kI32, {layer.in_features}, RawBytes(packed.g_idx)});
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<OwnedTensor>> OutputTensors(const ExportSource& source,
                                                       const ExportSpec& spec) {
  std::vector<OwnedTensor> tensors;
  for (const std::string& name : source.checkpoint->TensorNames()) {
    const TensorInfo* info = source.checkpoint->Find(name);
    constexpr std::string_view kWeight = ".weight";
    if (name.size() > kWeight.size() &&
        name.compare(name.size() - kWeight.size(), kWeight.size(), kWeight) == 0) {
      auto it = source.layers->find(name.substr(0, name.size() - kWeight.size()));
      if (it != source.layers->end()) {
        SR2_RETURN_IF_ERROR(AppendQuantized(it->second, *info, spec, &tensors));
        continue;
      }
    }
    SR2_ASSIGN_OR_RETURN(std::string_view bytes, source.checkpoint->Bytes(name));
    tensors.push_back({name, info->dtype, info->shape, std::string(bytes)});
  }
  return tensors;
}

}  // namespace

absl::StatusOr<ExportFormat> ParseExportFormat(std::string_view name) {
  for (ExportFormat f : {ExportFormat::kFake, ExportFormat::kAutoRound, ExportFormat::kAutoGptq}) {
    if (name == ExportFormatName(f)) return f;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown export format '", std::string(name),
                                                 "' (expected fake, auto_round or auto_gptq)"));
}

std::string_view ExportFormatName(ExportFormat f) {
  switch (f) {
    case ExportFormat::kFake:
      return "fake";
    case ExportFormat::kAutoRound:
      return "auto_round";
    case ExportFormat::kAutoGptq:
      return "auto_gptq";
  }
  return "unknown";
}

const std::vector<std::string>& CopiedModelFiles() {
  static const auto* const kFiles = new std::vector<std::string>{"tokenizer.json",
                                                                 "tokenizer_config.json",
                                                                 "tokenizer.model",
                                                                 "special_tokens_map.json",
                                                                 "generation_config.json",
                                                                 "tok512.bin",
                                                                 "tok512.json"};
  return *kFiles;
}

absl::StatusOr<ExportResult> ExportCheckpoint(const ExportSource& source, const ExportSpec& spec,
                                              ObjectStore& out, std::string_view out_prefix) {
  if (source.model_store == nullptr || source.checkpoint == nullptr || source.layout == nullptr ||
      source.layers == nullptr) {
    return absl::InvalidArgumentError("ExportCheckpoint: incomplete ExportSource");
  }
  SR2_RETURN_IF_ERROR(Annotate(ValidateScheme(spec.scheme), "export scheme"));
  SR2_RETURN_IF_ERROR(CheckLayers(source, spec.format));

  std::string config_text = source.config_json;
  std::string quant_text;
  if (spec.format != ExportFormat::kFake) {
    Json config = Json::parse(source.config_json, nullptr, /*allow_exceptions=*/false);
    if (config.is_discarded() || !config.is_object()) {
      return absl::InvalidArgumentError("config.json of the source model is not a JSON object");
    }
    SR2_ASSIGN_OR_RETURN(Json quant, QuantizationConfig(source, spec));
    config["quantization_config"] = quant;
    config_text = config.dump(2) + "\n";
    quant_text = quant.dump(2) + "\n";
  }

  ExportResult result;
  const auto record = [&](const std::string& key, std::string_view data) {
    result.files.push_back({key, data.size(), Sha256Hex(data)});
  };
  {
    SR2_ASSIGN_OR_RETURN(std::vector<OwnedTensor> tensors, OutputTensors(source, spec));
    SR2_ASSIGN_OR_RETURN(std::vector<WrittenFile> files,
                         WriteCheckpoint(out, out_prefix, tensors, spec.write_options));
    result.files = std::move(files);
  }
  const auto write = [&](const std::string& key, std::string_view data) -> absl::Status {
    SR2_RETURN_IF_ERROR(out.Write(JoinKey(out_prefix, key), data));
    record(key, data);
    return absl::OkStatus();
  };
  SR2_RETURN_IF_ERROR(write("config.json", config_text));
  if (!quant_text.empty()) SR2_RETURN_IF_ERROR(write("quantization_config.json", quant_text));
  for (const std::string& name : CopiedModelFiles()) {
    absl::StatusOr<BlobPtr> blob = source.model_store->Read(name);
    if (absl::IsNotFound(blob.status())) continue;
    if (!blob.ok()) return Annotate(blob.status(), absl::StrCat("copying ", name));
    SR2_RETURN_IF_ERROR(write(name, (*blob)->view()));
  }

  Json manifest = {{"format", std::string(ExportFormatName(spec.format))},
                   {"files", Json::array()}};
  for (const WrittenFile& f : result.files) {
    manifest["files"].push_back({{"key", f.key}, {"bytes", f.bytes}, {"sha256", f.sha256}});
  }
  manifest["created_by"] = "sr2";
  const std::string manifest_text = manifest.dump(2) + "\n";
  SR2_RETURN_IF_ERROR(out.Write(JoinKey(out_prefix, kManifestName), manifest_text));
  result.manifest_sha256 = Sha256Hex(manifest_text);
  return result;
}

}  // namespace sr2
