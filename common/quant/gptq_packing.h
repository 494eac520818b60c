// GPTQ-style integer packing used by the auto_round (sym: auto_round:auto_gptq) and
// auto_gptq formats (algorithm.md §4.2-4.5).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/quant/quantized_layer.h"

namespace sr2 {

// Packs `values` (each < 2^bits) along the first dimension of a [rows, cols] matrix:
// result is [rows*bits/32, cols]. bits in {2, 3, 4, 8}; rows must be a multiple of 32.
std::vector<int32_t> PackRows(const std::vector<uint32_t>& values, int64_t rows, int64_t cols,
                              int bits);
std::vector<uint32_t> UnpackRows(const std::vector<int32_t>& packed, int64_t rows, int64_t cols,
                                 int bits);

// How zero points are stored in qzeros (algorithm.md §4.5).
enum class ZeroStorage {
  kMinusOne,  // GPTQ v1 (auto_gptq, auto_round:auto_gptq): z - 1; z = 0 cannot be stored.
  kAsIs,      // auto_round packing: z unchanged.
};

struct GptqTensors {
  std::vector<int32_t> qweight;  // [in*b/32, out]
  std::vector<int32_t> qzeros;   // [groups, out*b/32], per ZeroStorage
  std::vector<uint16_t> scales;  // [groups, out], fp16 bits
  std::vector<int32_t> g_idx;    // [in], i / group_size
};

// True when the layer's shape can be packed (both dimensions multiples of 32).
bool GptqCanHold(int64_t out_features, int64_t in_features);

// Packs a layer. FailedPrecondition if the shape cannot be held or, with kMinusOne, a zero
// point is 0.
absl::StatusOr<GptqTensors> PackGptq(const QuantizedLayer& layer,
                                     ZeroStorage zeros = ZeroStorage::kMinusOne);
// Inverse of PackGptq given the layer's metadata (name, scheme, shape, group size). An empty
// g_idx is accepted; a present one must be i / group_size. InvalidArgument naming the layer
// for wrong sizes or values.
absl::StatusOr<QuantizedLayer> UnpackGptq(const GptqTensors& packed, QuantizedLayer meta,
                                          ZeroStorage zeros = ZeroStorage::kMinusOne);

}  // namespace sr2
