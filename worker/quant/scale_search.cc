#include "worker/quant/scale_search.h"

#include <torch/torch.h>

namespace sr2::worker {
namespace {

// Importance of the zero-padded columns of a short last group.
constexpr double kPaddedImportance = 1e-5;

// 1/x with |x| < 1e-30 mapped to 0, so an all-zero group gets scale 0 (later +thresh), not inf.
torch::Tensor Reciprocal(const torch::Tensor& x) {
  torch::Tensor tiny = x.abs() < 1e-30;
  return torch::where(tiny, torch::zeros_like(x), 1.0 / x.masked_fill(tiny, 1.0));
}

struct Candidate {
  torch::Tensor scale;  // [out, groups, 1]
  torch::Tensor error;  // [out, groups, 1] importance-weighted squared error
};

}  // namespace

ScaleSearchGrid SymScaleSearchGrid(int bits) {
  if (bits == 2) return {0.01, 90};
  // The reference derives the grid as a ±75% span of N split into 200 steps; the same double
  // arithmetic keeps the divisors bit-identical.
  const double span = static_cast<double>(int64_t{1} << (bits - 1)) * 0.75;
  const double step = span / 200 * 2;
  return {step, static_cast<int>(span / step)};
}

torch::Tensor SearchSymScales(const torch::Tensor& w, const Scheme& scheme,
                              const torch::Tensor& imatrix, const QuantizerOptions& options) {
  torch::NoGradGuard no_grad;
  const int64_t out = w.size(0), in = w.size(1);
  const int64_t group = EffectiveGroupSize(scheme, in);
  const int64_t groups = GroupsPerRow(scheme, in);
  const int64_t padding = groups * group - in;
  torch::Tensor x = w.detach().to(torch::kFloat32);
  if (padding != 0) x = torch::constant_pad_nd(x, {0, padding});
  x = x.reshape({out, groups, group});
  torch::Tensor importance;  // [1, groups, group]; undefined = all ones.
  if (imatrix.defined()) {
    importance = imatrix.detach().to(x.device(), torch::kFloat32).reshape({in});
    if (padding != 0) importance = torch::constant_pad_nd(importance, {0, padding}, kPaddedImportance);
    importance = importance.reshape({1, groups, group});
  }

  const double n = static_cast<double>(scheme.n());
  // The signed element of largest magnitude (argmax takes the first on ties).
  torch::Tensor peak = x.gather(-1, x.abs().argmax(-1, /*keepdim=*/true));
  torch::Tensor inv_peak = Reciprocal(peak);
  // Candidate with divisor d: inverse scale -d/p, levels round(x * -d/p) clamped to [-N, N-1].
  auto evaluate = [&](double divisor) {
    torch::Tensor inv_scale = inv_peak * (-divisor);
    torch::Tensor levels = torch::round(inv_scale * x).clamp_(-n, n - 1);
    Candidate c;
    c.scale = Reciprocal(inv_scale);
    torch::Tensor error = (c.scale * levels - x).pow_(2);
    if (importance.defined()) error.mul_(importance);
    c.error = error.sum(-1, /*keepdim=*/true);
    return c;
  };

  const ScaleSearchGrid grid = SymScaleSearchGrid(scheme.bits);
  Candidate best = evaluate(n);
  for (int k = -grid.max_k; k <= grid.max_k; ++k) {
    if (k == 0) continue;
    Candidate c = evaluate(n - grid.step * k);
    torch::Tensor better = c.error < best.error;
    best.scale = torch::where(better, c.scale, best.scale);
    best.error = torch::where(better, c.error, best.error);
  }
  const double thresh = options.scale_thresh;
  torch::Tensor s = best.scale.squeeze(-1);
  return torch::where(s < 0, s.clamp_max(-thresh), s.clamp_min(thresh));
}

}  // namespace sr2::worker
