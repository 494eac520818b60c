// The integer form of one quantized Linear, as produced by a worker and consumed by the
// exporters. For sym schemes the stored code is q + N and the zero point is N, so every
// scheme dequantizes as scale * (code - zero).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/quant/scheme.h"
#include "common/tensor/safetensors.h"

namespace sr2 {

struct QuantizedLayer {
  std::string name;
  Scheme scheme;
  int64_t out_features = 0;
  int64_t in_features = 0;
  int64_t group_size = 0;      // Effective group size (see EffectiveGroupSize).
  std::vector<uint8_t> codes;  // [out, in], each in [0, 2^bits - 1].
  std::vector<float> scales;   // [out, groups]; every value is exactly an fp16 value.
  std::vector<uint8_t> zeros;  // [out, groups], each in [0, 2^bits - 1].

  int64_t groups() const { return (in_features + group_size - 1) / group_size; }

  // Checks sizes and value ranges; InvalidArgument naming the layer otherwise.
  absl::Status Validate() const;
  // W[o, i] = scales[o, g] * (codes[o, i] - zeros[o, g]) in fp32, g = i / group_size.
  std::vector<float> Dequantize() const;
};

// Tensors "<name>.codes" (U8) [out, in], "<name>.scales" (F16) [out, groups] and
// "<name>.zeros" (U8) [out, groups] for the worker -> coordinator hand-off. The returned refs
// point into `layer` and `scratch` (a deque, so appending more layers keeps them valid).
void AppendLayerTensors(const QuantizedLayer& layer, std::vector<TensorRef>* out,
                        std::deque<std::string>* scratch);
// Reads one layer back from a file written with AppendLayerTensors.
absl::StatusOr<QuantizedLayer> ReadLayerTensors(const SafetensorsFile& file,
                                                const std::string& name, const Scheme& scheme);

}  // namespace sr2
