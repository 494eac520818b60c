#include "common/quant/gptq_packing.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/tensor/dtype.h"
#include "common/util/status_macros.h"

namespace sr2 {
namespace {

// [rows, cols] -> [cols, rows], converting each element.
template <typename To, typename From, typename Convert>
std::vector<To> Transpose(const std::vector<From>& in, int64_t rows, int64_t cols,
                          Convert convert) {
  std::vector<To> out(in.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) out[c * rows + r] = convert(in[r * cols + c]);
  }
  return out;
}

template <typename T>
T Same(T v) {
  return v;
}

absl::Status SizeError(const QuantizedLayer& meta, absl::string_view tensor, size_t got,
                       int64_t expected) {
  return absl::InvalidArgumentError(absl::StrCat("packed layer ", meta.name, ": ", tensor, " has ",
                                                 got, " values, expected ", expected));
}

}  // namespace

// Row r of a column occupies bits [r*bits, (r+1)*bits) of that column's little-endian bit
// stream. For 2/4/8 bits this is §4.3's layout; for 3 bits it is exactly §4.4's 32-values-in-
// 3-words layout (v10 and v21 straddle word boundaries).
std::vector<int32_t> PackRows(const std::vector<uint32_t>& values, int64_t rows, int64_t cols,
                              int bits) {
  std::vector<uint32_t> words(rows * bits / 32 * cols, 0);
  const uint32_t mask = (uint32_t{1} << bits) - 1;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t word = r * bits / 32;
    const int shift = static_cast<int>(r * bits % 32);
    for (int64_t c = 0; c < cols; ++c) {
      const uint32_t v = values[r * cols + c] & mask;
      words[word * cols + c] |= v << shift;
      if (shift + bits > 32) words[(word + 1) * cols + c] |= v >> (32 - shift);
    }
  }
  return std::vector<int32_t>(words.begin(), words.end());
}

std::vector<uint32_t> UnpackRows(const std::vector<int32_t>& packed, int64_t rows, int64_t cols,
                                 int bits) {
  std::vector<uint32_t> values(rows * cols);
  const uint32_t mask = (uint32_t{1} << bits) - 1;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t word = r * bits / 32;
    const int shift = static_cast<int>(r * bits % 32);
    for (int64_t c = 0; c < cols; ++c) {
      uint32_t v = static_cast<uint32_t>(packed[word * cols + c]) >> shift;
      if (shift + bits > 32)
        v |= static_cast<uint32_t>(packed[(word + 1) * cols + c]) << (32 - shift);
      values[r * cols + c] = v & mask;
    }
  }
  return values;
}

bool GptqCanHold(int64_t out_features, int64_t in_features) {
  return out_features > 0 && in_features > 0 && out_features % 32 == 0 && in_features % 32 == 0;
}

absl::StatusOr<GptqTensors> PackGptq(const QuantizedLayer& layer, ZeroStorage zeros) {
  SR2_RETURN_IF_ERROR(layer.Validate());
  const int64_t out = layer.out_features;
  const int64_t in = layer.in_features;
  if (!GptqCanHold(out, in)) {
    return absl::FailedPreconditionError(
        absl::StrCat("layer ", layer.name, " [", out, ",", in,
                     "] cannot be GPTQ-packed: both dimensions must be multiples of 32"));
  }
  const int64_t groups = layer.groups();
  const int bits = layer.scheme.bits;
  const uint32_t offset = zeros == ZeroStorage::kMinusOne ? 1 : 0;
  std::vector<uint32_t> stored_zeros(layer.zeros.begin(), layer.zeros.end());
  for (size_t k = 0; k < stored_zeros.size(); ++k) {
    if (stored_zeros[k] < offset) {
      return absl::FailedPreconditionError(
          absl::StrCat("layer ", layer.name, ": zero point 0 (row ", k / groups, ", group ",
                       k % groups, ") cannot be stored in GPTQ's zero-1 convention"));
    }
    stored_zeros[k] -= offset;
  }

  GptqTensors packed;
  packed.qweight =
      PackRows(Transpose<uint32_t>(layer.codes, out, in, Same<uint32_t>), in, out, bits);
  // Zeros [out, groups] are packed along `out`, then stored [groups, out*b/32].
  const std::vector<int32_t> zero_words = PackRows(stored_zeros, out, groups, bits);
  packed.qzeros = Transpose<int32_t>(zero_words, out * bits / 32, groups, Same<int32_t>);
  packed.scales = Transpose<uint16_t>(layer.scales, out, groups, FloatToHalf);
  packed.g_idx.resize(in);
  for (int64_t i = 0; i < in; ++i) packed.g_idx[i] = static_cast<int32_t>(i / layer.group_size);
  return packed;
}

absl::StatusOr<QuantizedLayer> UnpackGptq(const GptqTensors& packed, QuantizedLayer meta,
                                          ZeroStorage zeros) {
  const int64_t out = meta.out_features;
  const int64_t in = meta.in_features;
  const int bits = meta.scheme.bits;
  SR2_RETURN_IF_ERROR(Annotate(ValidateScheme(meta.scheme), "packed layer " + meta.name));
  if (!GptqCanHold(out, in)) {
    return absl::InvalidArgumentError(absl::StrCat("packed layer ", meta.name, " has shape [", out,
                                                   ",", in, "], not multiples of 32"));
  }
  if (meta.group_size != EffectiveGroupSize(meta.scheme, in)) {
    return absl::InvalidArgumentError(
        absl::StrCat("packed layer ", meta.name, ": group_size ", meta.group_size,
                     " is not the effective group of ", SchemeName(meta.scheme)));
  }
  const int64_t groups = meta.groups();
  const int64_t qweight_size = in * bits / 32 * out;
  const int64_t qzeros_size = groups * (out * bits / 32);
  if (static_cast<int64_t>(packed.qweight.size()) != qweight_size) {
    return SizeError(meta, "qweight", packed.qweight.size(), qweight_size);
  }
  if (static_cast<int64_t>(packed.qzeros.size()) != qzeros_size) {
    return SizeError(meta, "qzeros", packed.qzeros.size(), qzeros_size);
  }
  if (static_cast<int64_t>(packed.scales.size()) != groups * out) {
    return SizeError(meta, "scales", packed.scales.size(), groups * out);
  }
  if (!packed.g_idx.empty()) {
    if (static_cast<int64_t>(packed.g_idx.size()) != in) {
      return SizeError(meta, "g_idx", packed.g_idx.size(), in);
    }
    for (int64_t i = 0; i < in; ++i) {
      if (packed.g_idx[i] != i / meta.group_size) {
        return absl::InvalidArgumentError(absl::StrCat(
            "packed layer ", meta.name, ": g_idx[", i, "] = ", packed.g_idx[i], ", expected ",
            i / meta.group_size, " (act-order checkpoints are not supported)"));
      }
    }
  }

  const std::vector<uint32_t> codes_t = UnpackRows(packed.qweight, in, out, bits);
  meta.codes = Transpose<uint8_t>(codes_t, in, out, [](uint32_t v) { return uint8_t(v); });
  const std::vector<int32_t> zero_words =
      Transpose<int32_t>(packed.qzeros, groups, out * bits / 32, Same<int32_t>);
  const std::vector<uint32_t> stored_zeros = UnpackRows(zero_words, out, groups, bits);
  const uint32_t offset = zeros == ZeroStorage::kMinusOne ? 1 : 0;
  meta.zeros.resize(stored_zeros.size());
  for (size_t k = 0; k < stored_zeros.size(); ++k) {
    const uint32_t z = stored_zeros[k] + offset;
    if (z > meta.scheme.qmax()) {
      return absl::InvalidArgumentError(absl::StrCat("packed layer ", meta.name, ": zero point ", z,
                                                     " (row ", k / groups, ", group ", k % groups,
                                                     ") exceeds ", meta.scheme.qmax()));
    }
    meta.zeros[k] = static_cast<uint8_t>(z);
  }
  meta.scales = Transpose<float>(packed.scales, groups, out, HalfToFloat);
  SR2_RETURN_IF_ERROR(meta.Validate());
  return meta;
}

}  // namespace sr2
