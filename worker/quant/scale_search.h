// SignRoundV2 pre-tuning scale search for full-range symmetric INT (algorithm.md §3.4): per
// group, the divisor of the largest-magnitude element is varied over a fixed grid and the
// scale with the least importance-weighted squared error is kept.
#pragma once

#include <torch/types.h>

#include "common/quant/scheme.h"
#include "worker/quant/weight_quantizer.h"

namespace sr2::worker {

// The candidate grid: divisors d_k = N - step * k for k in [-max_k, max_k].
struct ScaleSearchGrid {
  double step = 0;
  int max_k = 0;
};
// b = 2: step 0.01, k in [-90, 90]; b >= 3: step 0.0075 * N, k in [-100, 100].
ScaleSearchGrid SymScaleSearchGrid(int bits);

// Returns init scales [out, groups] (fp32) for `w` [out, in] under the sym `scheme`.
// `imatrix` [in] weighs input channel j by imatrix[j] (padded columns weigh 1e-5); an undefined
// tensor weighs every element 1. k = 0 is evaluated first, then k = -K..K, and a candidate
// replaces the best only on strict improvement. The result keeps the sign of -p (p = the first
// element of largest |x|) and is forced to |s| >= options.scale_thresh (0 becomes +thresh).
torch::Tensor SearchSymScales(const torch::Tensor& w, const Scheme& scheme,
                              const torch::Tensor& imatrix, const QuantizerOptions& options = {});

}  // namespace sr2::worker
