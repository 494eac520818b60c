#include "worker/quant/weight_quantizer.h"

#include <torch/torch.h>

namespace sr2::worker {
namespace {

// Forward value `value`, gradient of `x` (the STE; "value" is exact bit for bit).
torch::Tensor StraightThrough(const torch::Tensor& x, const torch::Tensor& value) {
  return value.detach() + (x - x.detach());
}

torch::Tensor RoundSte(const torch::Tensor& x) { return StraightThrough(x, torch::round(x)); }

float ToFp16(float v) { return static_cast<float>(c10::Half(v)); }

// A clip factor as a [out, groups, 1] multiplier, or an undefined tensor (= 1).
torch::Tensor ClipFactor(const torch::Tensor& factor, double max) {
  return factor.defined() ? factor.clamp(0.0, max).unsqueeze(-1) : torch::Tensor();
}

torch::Tensor Times(const torch::Tensor& x, const torch::Tensor& factor) {
  return factor.defined() ? x * factor : x;
}

// Everything qdq computes, in the padded grouped layout [out, groups, G] (scales and zeros
// [out, groups, 1]). `codes` are the stored unsigned integers as fp32 values.
struct GroupedQdq {
  torch::Tensor scales, zeros, codes, dequant;
  int64_t group_size = 0;
};

GroupedQdq Qdq(const torch::Tensor& w, const Scheme& scheme, const QuantParams& params,
               const QuantizerOptions& options) {
  const int64_t out = w.size(0), in = w.size(1);
  const int64_t group = EffectiveGroupSize(scheme, in);
  const int64_t groups = GroupsPerRow(scheme, in);
  torch::Tensor x = w.to(torch::kFloat32);
  if (groups * group != in) x = torch::constant_pad_nd(x, {0, groups * group - in});
  x = x.reshape({out, groups, group});

  const float thresh = options.fp16_scales ? ToFp16(options.scale_thresh) : options.scale_thresh;
  auto round_scale = [&](const torch::Tensor& s) {
    return options.fp16_scales ? StraightThrough(s, s.to(torch::kHalf).to(torch::kFloat32)) : s;
  };
  // The range always contains 0.
  torch::Tensor xmin = std::get<0>(x.min(-1, /*keepdim=*/true)).clamp_max(0.0);
  torch::Tensor xmax = std::get<0>(x.max(-1, /*keepdim=*/true)).clamp_min(0.0);

  GroupedQdq r;
  r.group_size = group;
  torch::Tensor y = x;  // x / s + V, filled below.
  if (scheme.sym) {
    const double n = static_cast<double>(scheme.n());
    torch::Tensor s;
    if (params.init_scale.defined()) {
      s = Times(params.init_scale.unsqueeze(-1), ClipFactor(params.max_scale, 2.0));
    } else {
      torch::Tensor a = -Times(xmin, ClipFactor(params.min_scale, 1.0));
      torch::Tensor b = Times(xmax, ClipFactor(params.max_scale, 1.0));
      // The sign maps the largest magnitude onto -N; ties take the negative scale.
      s = torch::where(b < a, a, -b) / n;
    }
    s = round_scale(s);
    // |s| >= thresh keeping the sign; -0 and 0 become +thresh.
    r.scales = torch::where(s.abs() < thresh,
                            torch::where(s < 0, torch::full_like(s, -thresh),
                                         torch::full_like(s, thresh)),
                            s);
    r.zeros = torch::full_like(r.scales, n);
    y = x / r.scales;
    if (params.v.defined()) y = y + params.v.reshape({out, groups, group});
    r.codes = RoundSte(y).clamp(-n, n - 1) + r.zeros;
  } else {
    const double qmax = static_cast<double>(scheme.qmax());
    torch::Tensor lo = Times(xmin, ClipFactor(params.min_scale, 1.0));
    torch::Tensor hi = Times(xmax, ClipFactor(params.max_scale, 1.0));
    r.scales = round_scale((hi - lo) / qmax).clamp_min(thresh);
    r.zeros = RoundSte(-lo / r.scales);
    y = x / r.scales;
    if (params.v.defined()) y = y + params.v.reshape({out, groups, group});
    r.codes = (RoundSte(y) + r.zeros).clamp(0.0, qmax);
  }
  // The same fp32 expression as QuantizedLayer::Dequantize, so both agree bit for bit.
  r.dequant = r.scales * (r.codes - r.zeros);
  return r;
}

std::vector<float> FloatValues(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

std::vector<uint8_t> ByteValues(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kCPU, torch::kUInt8).contiguous();
  return std::vector<uint8_t>(c.data_ptr<uint8_t>(), c.data_ptr<uint8_t>() + c.numel());
}

}  // namespace

torch::Tensor QuantDequant(const torch::Tensor& w, const Scheme& scheme, const QuantParams& params,
                           const QuantizerOptions& options) {
  GroupedQdq r = Qdq(w, scheme, params, options);
  return r.dequant.reshape({w.size(0), -1}).narrow(1, 0, w.size(1)).to(w.scalar_type());
}

QuantizedLayer QuantizeToIntegers(const std::string& name, const torch::Tensor& w,
                                  const Scheme& scheme, const QuantParams& params,
                                  const QuantizerOptions& options) {
  torch::NoGradGuard no_grad;
  GroupedQdq r = Qdq(w, scheme, params, options);
  QuantizedLayer layer;
  layer.name = name;
  layer.scheme = scheme;
  layer.out_features = w.size(0);
  layer.in_features = w.size(1);
  layer.group_size = r.group_size;
  layer.codes = ByteValues(r.codes.reshape({w.size(0), -1}).narrow(1, 0, w.size(1)));
  layer.scales = FloatValues(r.scales);
  layer.zeros = ByteValues(r.zeros);
  return layer;
}

}  // namespace sr2::worker
