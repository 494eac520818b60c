// Quantize-dequantize of one Linear weight in libtorch (algorithm.md §1.2-1.4, §2.1-2.2), with
// optional trainable parameters so the same code serves RTN and SignRound tuning. Rounding is
// half-to-even; the straight-through estimator gives rounding derivative 1.
#pragma once

#include <torch/types.h>

#include "common/quant/quantized_layer.h"
#include "common/quant/scheme.h"

namespace sr2::worker {

// Trainable state of one layer; undefined tensors mean "not tuned" (V = 0, alpha = beta = 1).
struct QuantParams {
  torch::Tensor v;          // [out, groups * group_size] rounding offsets (padded layout).
  torch::Tensor max_scale;  // [out, groups] alpha in [0, 1]: multiplies the max side.
  torch::Tensor min_scale;  // [out, groups] beta in [0, 1]: multiplies the min side.
  // [out, groups] SignRoundV2 pre-searched base scale (§3.4). Sym only (asym ignores it): then
  // s = fp16(init_scale * alpha) with alpha in [0, 2], and beta is unused.
  torch::Tensor init_scale;
};

struct QuantizerOptions {
  float scale_thresh = 1e-5f;  // Scales are forced to |s| >= this (rounded to fp16).
  bool fp16_scales = true;     // Round scales to fp16 inside qdq (§2.7).
};

// Returns the dequantized weight (same shape/dtype as `w`, differentiable w.r.t. `params`).
torch::Tensor QuantDequant(const torch::Tensor& w, const Scheme& scheme, const QuantParams& params,
                           const QuantizerOptions& options = {});

// The integer form (codes, scales, zeros) for export; Dequantize() of the result equals
// QuantDequant(w, ...) bit for bit. Scales are fp16 values when options.fp16_scales.
QuantizedLayer QuantizeToIntegers(const std::string& name, const torch::Tensor& w,
                                  const Scheme& scheme, const QuantParams& params,
                                  const QuantizerOptions& options = {});

}  // namespace sr2::worker
