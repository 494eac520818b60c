// Test helper: random but valid QuantizedLayers.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "common/quant/quantized_layer.h"
#include "common/tensor/dtype.h"

namespace sr2 {

// A valid layer with random codes, fp16 scales of both signs and, for asym schemes, random
// zero points in [min_zero, qmax].
inline QuantizedLayer RandomLayer(const std::string& name, const Scheme& scheme, int64_t out,
                                  int64_t in, uint32_t seed, int min_zero = 0) {
  std::mt19937 rng(seed);
  QuantizedLayer layer;
  layer.name = name;
  layer.scheme = scheme;
  layer.out_features = out;
  layer.in_features = in;
  layer.group_size = EffectiveGroupSize(scheme, in);
  std::uniform_int_distribution<int> code(0, static_cast<int>(scheme.qmax()));
  std::uniform_int_distribution<int> zero(min_zero, static_cast<int>(scheme.qmax()));
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  layer.codes.resize(out * in);
  for (uint8_t& c : layer.codes) c = static_cast<uint8_t>(code(rng));
  const int64_t n_groups = out * layer.groups();
  for (int64_t g = 0; g < n_groups; ++g) {
    layer.scales.push_back(RoundToHalf(scale(rng)));
    layer.zeros.push_back(static_cast<uint8_t>(scheme.sym ? scheme.n() : zero(rng)));
  }
  return layer;
}

}  // namespace sr2
