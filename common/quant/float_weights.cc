#include "common/quant/float_weights.h"

#include <cstring>
#include <optional>
#include <regex>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/quant/gptq_packing.h"
#include "common/quant/quantized_layer.h"
#include "common/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace sr2 {
namespace {

using Json = nlohmann::ordered_json;

absl::Status ConfigError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("config.json quantization_config: ", what));
}

// A per-layer scheme override; `skip` marks a layer kept unquantized.
struct Override {
  bool skip = false;
  std::optional<int> bits;
  std::optional<int> group_size;
  std::optional<bool> sym;
};

absl::StatusOr<Override> ParseOverride(const Json& j, absl::string_view where) {
  if (!j.is_object()) return ConfigError(absl::StrCat(where, " must be an object"));
  Override o;
  for (const auto& [key, value] : j.items()) {
    if (key == "bits" || key == "group_size") {
      if (!value.is_number_integer()) {
        return ConfigError(absl::StrCat(where, ".", key, " must be an integer"));
      }
      (key == "bits" ? o.bits : o.group_size) = value.get<int>();
    } else if (key == "sym") {
      if (!value.is_boolean()) return ConfigError(absl::StrCat(where, ".sym must be a boolean"));
      o.sym = value.get<bool>();
    } else if (key == "data_type") {
      if (!value.is_string())
        return ConfigError(absl::StrCat(where, ".data_type must be a string"));
      if (value.get<std::string>() == "fp") o.skip = true;
    }
  }
  if (o.bits.has_value() && *o.bits >= 16) o.skip = true;
  return o;
}

struct Pattern {
  std::string key;
  std::optional<std::regex> regex;  // Unset: `key` is matched as an exact name.
  Override override;
};

// How to read the packed layers of one checkpoint.
struct PackedConfig {
  ZeroStorage zeros = ZeroStorage::kMinusOne;
  Scheme global;
  std::vector<Pattern> patterns;  // First match wins.

  // The layer's scheme, or nullopt when the config keeps it unquantized.
  std::optional<Scheme> SchemeFor(const std::string& layer) const {
    for (const Pattern& p : patterns) {
      const bool match =
          p.regex.has_value()
              ? std::regex_search(layer, *p.regex, std::regex_constants::match_continuous)
              : p.key == layer;
      if (!match) continue;
      if (p.override.skip) return std::nullopt;
      Scheme s = global;
      s.bits = p.override.bits.value_or(s.bits);
      s.group_size = p.override.group_size.value_or(s.group_size);
      s.sym = p.override.sym.value_or(s.sym);
      return s;
    }
    return global;
  }
};

absl::StatusOr<std::regex> CompileRegex(const std::string& pattern) {
  try {
    return std::regex(pattern);
  } catch (const std::regex_error& e) {
    return ConfigError(absl::StrCat("'", pattern, "' is not a valid regex: ", e.what()));
  }
}

// Leaves *out empty when the checkpoint is not packed; Unimplemented for quantized formats sr2
// cannot read.
absl::Status ParsePackedConfig(std::string_view config_json, std::optional<PackedConfig>* out) {
  const Json config = Json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    return absl::InvalidArgumentError("config.json is not a JSON object");
  }
  auto qc_it = config.find("quantization_config");
  if (qc_it == config.end() || qc_it->is_null()) return absl::OkStatus();
  const Json& qc = *qc_it;
  if (!qc.is_object()) return ConfigError("must be an object");

  const std::string method = qc.value("quant_method", "");
  const std::string packing = qc.contains("packing_format") && qc["packing_format"].is_string()
                                  ? qc["packing_format"].get<std::string>()
                                  : "";
  PackedConfig& pc = out->emplace();
  if (method == "auto-round" && packing == "auto_round") {
    pc.zeros = ZeroStorage::kAsIs;
  } else if ((method == "auto-round" && packing == "auto_round:auto_gptq") ||
             (method == "gptq" &&
              (packing.empty() || packing == "gptq" || packing == "auto_round:auto_gptq"))) {
    pc.zeros = ZeroStorage::kMinusOne;
  } else {
    return absl::UnimplementedError(absl::StrCat(
        "quantization_config with quant_method '", method, "' and packing_format '", packing,
        "' is not supported (auto-round with auto_round or "
        "auto_round:auto_gptq packing, or gptq)"));
  }
  if (qc.contains("checkpoint_format") && qc["checkpoint_format"] != "gptq") {
    return absl::UnimplementedError(absl::StrCat("quantization_config checkpoint_format ",
                                                 qc["checkpoint_format"].dump(),
                                                 " is not supported (only gptq)"));
  }
  if (qc.contains("data_type") && qc["data_type"] != "int") {
    return absl::UnimplementedError(absl::StrCat("quantization_config data_type ",
                                                 qc["data_type"].dump(), " is not supported"));
  }
  SR2_ASSIGN_OR_RETURN(Override global, ParseOverride(qc, "quantization_config"));
  if (!global.bits.has_value() || !global.group_size.has_value()) {
    return ConfigError("bits and group_size are required");
  }
  pc.global.bits = *global.bits;
  pc.global.group_size = *global.group_size;
  pc.global.sym = global.sym.value_or(true);

  if (auto it = qc.find("extra_config"); it != qc.end() && !it->is_null()) {
    if (!it->is_object()) return ConfigError("extra_config must be an object");
    for (const auto& [key, value] : it->items()) {
      SR2_ASSIGN_OR_RETURN(Override o, ParseOverride(value, "extra_config." + key));
      pc.patterns.push_back({key, std::nullopt, o});
    }
  }
  if (auto it = qc.find("dynamic"); it != qc.end() && !it->is_null()) {
    if (!it->is_object()) return ConfigError("dynamic must be an object");
    for (const auto& [key, value] : it->items()) {
      SR2_ASSIGN_OR_RETURN(Override o, ParseOverride(value, "dynamic." + key));
      std::string regex = key;
      if (absl::StartsWith(key, "-:")) {
        o.skip = true;
        regex = key.substr(2);
      } else if (absl::StartsWith(key, "+:")) {
        regex = key.substr(2);
      }
      SR2_ASSIGN_OR_RETURN(std::regex compiled, CompileRegex(regex));
      pc.patterns.push_back({key, std::move(compiled), o});
    }
  }
  return absl::OkStatus();
}

// A tensor of the checkpoint with `dtype` and `rank` dimensions, or nullptr when absent.
absl::StatusOr<const TensorInfo*> FindTyped(const CheckpointReader& checkpoint,
                                            const std::string& name, DType dtype, size_t rank,
                                            bool required) {
  const TensorInfo* info = checkpoint.Find(name);
  if (info == nullptr) {
    if (!required) return nullptr;
    return absl::InvalidArgumentError(absl::StrCat("missing tensor ", name));
  }
  if (info->dtype != dtype || info->shape.size() != rank) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor ", name, " is ", std::string(DTypeName(info->dtype)), " [",
                     absl::StrJoin(info->shape, ","), "], expected a ", rank, "-D ",
                     std::string(DTypeName(dtype)), " tensor"));
  }
  return info;
}

template <typename T>
absl::StatusOr<std::vector<T>> ReadArray(const CheckpointReader& checkpoint,
                                         const TensorInfo& info) {
  SR2_ASSIGN_OR_RETURN(std::string_view bytes, checkpoint.Bytes(info.name));
  std::vector<T> v(bytes.size() / sizeof(T));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
  return v;
}

absl::StatusOr<FloatTensor> LoadPackedLayer(const CheckpointReader& checkpoint,
                                            const std::string& layer, const Scheme& scheme,
                                            ZeroStorage zeros) {
  SR2_RETURN_IF_ERROR(Annotate(ValidateScheme(scheme), "quantization_config for " + layer));
  SR2_ASSIGN_OR_RETURN(const TensorInfo* qweight,
                       FindTyped(checkpoint, layer + ".qweight", DType::kI32, 2, true));
  SR2_ASSIGN_OR_RETURN(const TensorInfo* qzeros,
                       FindTyped(checkpoint, layer + ".qzeros", DType::kI32, 2, true));
  SR2_ASSIGN_OR_RETURN(const TensorInfo* scales,
                       FindTyped(checkpoint, layer + ".scales", DType::kF16, 2, true));
  SR2_ASSIGN_OR_RETURN(const TensorInfo* g_idx,
                       FindTyped(checkpoint, layer + ".g_idx", DType::kI32, 1, false));

  QuantizedLayer meta;
  meta.name = layer;
  meta.scheme = scheme;
  if (qweight->shape[0] <= 0 || qweight->shape[1] <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", layer, ".qweight is empty"));
  }
  meta.out_features = qweight->shape[1];
  meta.in_features = qweight->shape[0] * 32 / scheme.bits;
  meta.group_size = EffectiveGroupSize(scheme, meta.in_features);
  const std::vector<int64_t> scales_shape = {meta.groups(), meta.out_features};
  const std::vector<int64_t> qzeros_shape = {meta.groups(), meta.out_features * scheme.bits / 32};
  if (qweight->shape[0] * 32 % scheme.bits != 0 || scales->shape != scales_shape ||
      qzeros->shape != qzeros_shape) {
    return absl::InvalidArgumentError(
        absl::StrCat("packed layer ", layer, ": qweight [", absl::StrJoin(qweight->shape, ","),
                     "], qzeros [", absl::StrJoin(qzeros->shape, ","), "] and scales [",
                     absl::StrJoin(scales->shape, ","), "] do not fit ", SchemeName(scheme)));
  }
  GptqTensors packed;
  SR2_ASSIGN_OR_RETURN(packed.qweight, ReadArray<int32_t>(checkpoint, *qweight));
  SR2_ASSIGN_OR_RETURN(packed.qzeros, ReadArray<int32_t>(checkpoint, *qzeros));
  SR2_ASSIGN_OR_RETURN(packed.scales, ReadArray<uint16_t>(checkpoint, *scales));
  if (g_idx != nullptr) {
    SR2_ASSIGN_OR_RETURN(packed.g_idx, ReadArray<int32_t>(checkpoint, *g_idx));
  }
  SR2_ASSIGN_OR_RETURN(QuantizedLayer unpacked, UnpackGptq(packed, std::move(meta), zeros));
  return FloatTensor{{unpacked.out_features, unpacked.in_features}, unpacked.Dequantize()};
}

}  // namespace

absl::StatusOr<std::map<std::string, FloatTensor>> LoadFloatWeights(
    const CheckpointReader& checkpoint, std::string_view config_json,
    const std::function<bool(const std::string& name)>& wanted) {
  std::optional<PackedConfig> packed;
  SR2_RETURN_IF_ERROR(ParsePackedConfig(config_json, &packed));
  std::set<std::string> packed_layers;
  if (packed.has_value()) {
    constexpr absl::string_view kQweight = ".qweight";
    for (const std::string& name : checkpoint.TensorNames()) {
      if (absl::EndsWith(name, kQweight)) {
        packed_layers.insert(name.substr(0, name.size() - kQweight.size()));
      }
    }
  }
  const auto is_packed_part = [&](const std::string& name) {
    const size_t dot = name.rfind('.');
    if (dot == std::string::npos || packed_layers.count(name.substr(0, dot)) == 0) return false;
    const std::string_view suffix = std::string_view(name).substr(dot);
    return suffix == ".qweight" || suffix == ".qzeros" || suffix == ".scales" || suffix == ".g_idx";
  };

  std::map<std::string, FloatTensor> result;
  for (const std::string& name : checkpoint.TensorNames()) {
    if (is_packed_part(name) || (wanted && !wanted(name))) continue;
    SR2_ASSIGN_OR_RETURN(std::vector<float> values, checkpoint.ReadFloat(name));
    result[name] = FloatTensor{checkpoint.Find(name)->shape, std::move(values)};
  }
  for (const std::string& layer : packed_layers) {
    const std::optional<Scheme> scheme = packed->SchemeFor(layer);
    if (!scheme.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "layer ", layer, " has packed tensors but quantization_config keeps it unquantized"));
    }
    const std::string weight = layer + ".weight";
    if (wanted && !wanted(weight)) continue;
    if (result.count(weight) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer ", layer, " has both ", weight, " and packed tensors"));
    }
    SR2_ASSIGN_OR_RETURN(result[weight],
                         LoadPackedLayer(checkpoint, layer, *scheme, packed->zeros));
  }
  return result;
}

}  // namespace sr2
