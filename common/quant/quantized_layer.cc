#include "common/quant/quantized_layer.h"

#include <cmath>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/tensor/dtype.h"
#include "common/util/status_macros.h"

namespace sr2 {
namespace {

absl::Status LayerError(const QuantizedLayer& layer, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("quantized layer ", layer.name, ": ", problem));
}

// Checks that `values` has `size` entries, each <= qmax; `what` names the field.
absl::Status CheckCodes(const QuantizedLayer& layer, const std::vector<uint8_t>& values,
                        int64_t size, absl::string_view what) {
  if (static_cast<int64_t>(values.size()) != size) {
    return LayerError(layer,
                      absl::StrCat(what, " has ", values.size(), " values, expected ", size));
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] > layer.scheme.qmax()) {
      return LayerError(
          layer, absl::StrCat(what, "[", i, "] = ", values[i], " exceeds ", layer.scheme.qmax(),
                              " for ", layer.scheme.bits, " bits"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status QuantizedLayer::Validate() const {
  if (absl::Status s = ValidateScheme(scheme); !s.ok()) return LayerError(*this, s.message());
  if (out_features <= 0 || in_features <= 0) {
    return LayerError(*this, absl::StrCat("bad shape [", out_features, ",", in_features, "]"));
  }
  if (group_size != EffectiveGroupSize(scheme, in_features)) {
    return LayerError(*this, absl::StrCat("group_size ", group_size, " is not the effective group ",
                                          EffectiveGroupSize(scheme, in_features), " of ",
                                          SchemeName(scheme), " for ", in_features, " inputs"));
  }
  const int64_t n_groups = out_features * groups();
  SR2_RETURN_IF_ERROR(CheckCodes(*this, codes, out_features * in_features, "codes"));
  SR2_RETURN_IF_ERROR(CheckCodes(*this, zeros, n_groups, "zeros"));
  if (static_cast<int64_t>(scales.size()) != n_groups) {
    return LayerError(*this,
                      absl::StrCat("scales has ", scales.size(), " values, expected ", n_groups));
  }
  for (size_t i = 0; i < scales.size(); ++i) {
    if (!std::isfinite(scales[i]) || RoundToHalf(scales[i]) != scales[i]) {
      return LayerError(
          *this, absl::StrCat("scales[", i, "] = ", scales[i], " is not a finite fp16 value"));
    }
  }
  if (scheme.sym) {
    for (size_t i = 0; i < zeros.size(); ++i) {
      if (zeros[i] != scheme.n()) {
        return LayerError(*this, absl::StrCat("zeros[", i, "] = ", zeros[i],
                                              ", a symmetric scheme's zero point is ", scheme.n()));
      }
    }
  }
  return absl::OkStatus();
}

std::vector<float> QuantizedLayer::Dequantize() const {
  std::vector<float> w(codes.size());
  const int64_t n_groups = groups();
  for (int64_t o = 0; o < out_features; ++o) {
    for (int64_t i = 0; i < in_features; ++i) {
      const int64_t g = o * n_groups + i / group_size;
      const int64_t k = o * in_features + i;
      w[k] = scales[g] * static_cast<float>(int{codes[k]} - int{zeros[g]});
    }
  }
  return w;
}

void AppendLayerTensors(const QuantizedLayer& layer, std::vector<TensorRef>* out,
                        std::deque<std::string>* scratch) {
  const auto bytes_of = [](const std::vector<uint8_t>& v) {
    return std::string_view(reinterpret_cast<const char*>(v.data()), v.size());
  };
  std::string& scales = scratch->emplace_back(layer.scales.size() * 2, '\0');
  for (size_t i = 0; i < layer.scales.size(); ++i) {
    const uint16_t h = FloatToHalf(layer.scales[i]);
    std::memcpy(&scales[2 * i], &h, 2);
  }
  const std::vector<int64_t> group_shape = {layer.out_features, layer.groups()};
  out->push_back({layer.name + ".codes",
                  DType::kU8,
                  {layer.out_features, layer.in_features},
                  bytes_of(layer.codes)});
  out->push_back({layer.name + ".scales", DType::kF16, group_shape, scales});
  out->push_back({layer.name + ".zeros", DType::kU8, group_shape, bytes_of(layer.zeros)});
}

absl::StatusOr<QuantizedLayer> ReadLayerTensors(const SafetensorsFile& file,
                                                const std::string& name, const Scheme& scheme) {
  const auto find = [&](std::string_view suffix, DType dtype) -> absl::StatusOr<const TensorInfo*> {
    const std::string tensor = name + std::string(suffix);
    const TensorInfo* info = file.Find(tensor);
    if (info == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(file.source(), ": missing tensor ", tensor));
    }
    if (info->dtype != dtype || info->shape.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.source(), ": tensor ", tensor, " is ",
                       std::string(DTypeName(info->dtype)), " [", absl::StrJoin(info->shape, ","),
                       "], expected a 2-D ", std::string(DTypeName(dtype)), " tensor"));
    }
    return info;
  };
  SR2_ASSIGN_OR_RETURN(const TensorInfo* codes, find(".codes", DType::kU8));
  SR2_ASSIGN_OR_RETURN(const TensorInfo* scales, find(".scales", DType::kF16));
  SR2_ASSIGN_OR_RETURN(const TensorInfo* zeros, find(".zeros", DType::kU8));
  SR2_RETURN_IF_ERROR(Annotate(ValidateScheme(scheme), absl::StrCat(file.source(), ": ", name)));
  if (codes->shape[0] <= 0 || codes->shape[1] <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.source(), ": tensor ", name, ".codes is empty"));
  }

  QuantizedLayer layer;
  layer.name = name;
  layer.scheme = scheme;
  layer.out_features = codes->shape[0];
  layer.in_features = codes->shape[1];
  layer.group_size = EffectiveGroupSize(scheme, layer.in_features);
  const std::vector<int64_t> group_shape = {layer.out_features, layer.groups()};
  if (scales->shape != group_shape || zeros->shape != group_shape) {
    return absl::InvalidArgumentError(absl::StrCat(
        file.source(), ": layer ", name, " scales/zeros have shapes [",
        absl::StrJoin(scales->shape, ","), "]/[", absl::StrJoin(zeros->shape, ","), "], expected [",
        absl::StrJoin(group_shape, ","), "] for ", SchemeName(scheme)));
  }
  const std::string_view code_bytes = file.Bytes(*codes);
  const std::string_view zero_bytes = file.Bytes(*zeros);
  const std::string_view scale_bytes = file.Bytes(*scales);
  layer.codes.assign(code_bytes.begin(), code_bytes.end());
  layer.zeros.assign(zero_bytes.begin(), zero_bytes.end());
  layer.scales.resize(scales->numel());
  for (size_t i = 0; i < layer.scales.size(); ++i) {
    uint16_t h;
    std::memcpy(&h, scale_bytes.data() + 2 * i, 2);
    layer.scales[i] = HalfToFloat(h);
  }
  SR2_RETURN_IF_ERROR(Annotate(layer.Validate(), file.source()));
  return layer;
}

}  // namespace sr2
