#include "worker/quant/block_tuner.h"

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <utility>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/model/model_layout.h"
#include "common/util/status_macros.h"
#include "worker/quant/scale_search.h"
#include "worker/quant/weight_quantizer.h"

namespace sr2::worker {
namespace {

// The reference scales the loss before backward; harmless for SignSGD and it keeps tiny
// gradients from flushing to zero (which would change sign(grad)).
constexpr double kLossScale = 1000.0;

// Hands out batches of distinct sample indices: a seeded shuffle consumed in consecutive runs,
// reshuffled when fewer than a batch remain (the tail is dropped). Fisher-Yates with plain
// modulo draws keeps the order identical across standard libraries.
class BatchSampler {
 public:
  BatchSampler(int64_t nsamples, int64_t batch, uint64_t seed)
      : rng_(seed), order_(nsamples), batch_(batch), next_(nsamples) {
    for (int64_t i = 0; i < nsamples; ++i) order_[i] = i;
  }

  std::vector<int64_t> Next() {
    if (next_ + batch_ > static_cast<int64_t>(order_.size())) {
      for (int64_t i = static_cast<int64_t>(order_.size()) - 1; i > 0; --i) {
        std::swap(order_[i], order_[rng_() % static_cast<uint64_t>(i + 1)]);
      }
      next_ = 0;
    }
    std::vector<int64_t> batch(order_.begin() + next_, order_.begin() + next_ + batch_);
    next_ += batch_;
    return batch;
  }

 private:
  std::mt19937_64 rng_;
  std::vector<int64_t> order_;
  int64_t batch_;
  int64_t next_;
};

// One trainable tensor with its SignSGD learning rate; `clamp_max` > 0 bounds it to
// [0, clamp_max] before every forward (the reference clamps the parameter data in place).
struct Trainable {
  torch::Tensor value;
  double lr = 0;
  double clamp_max = 0;
  torch::Tensor best;  // Snapshot of the best iteration.
};

struct TunedLayer {
  const LayerToTune* spec = nullptr;
  torch::Tensor weight;
  QuantParams params;
};

absl::Status ValidateInputs(const LlamaConfig& config, const BlockWeights& fp_weights,
                            const torch::Tensor& x_fp, const torch::Tensor& x_q,
                            const std::vector<LayerToTune>& layers, const TuneOptions& options) {
  auto check_activations = [&](const char* what, const torch::Tensor& x) {
    if (!x.defined() || x.dim() != 3 || x.size(0) < 1 || x.size(1) < 1 ||
        x.size(2) != config.hidden_size || x.scalar_type() != torch::kFloat32) {
      return absl::InvalidArgumentError(absl::StrCat(
          "block tuning: ", what, " must be fp32 [nsamples >= 1, seqlen >= 1, hidden_size = ",
          config.hidden_size, "]"));
    }
    if (x.device() != fp_weights.input_norm.device()) {
      return absl::InvalidArgumentError(absl::StrCat("block tuning: ", what, " is on ",
                                                     x.device().str(), ", the weights on ",
                                                     fp_weights.input_norm.device().str()));
    }
    return absl::OkStatus();
  };
  SR2_RETURN_IF_ERROR(check_activations("x_fp", x_fp));
  SR2_RETURN_IF_ERROR(check_activations("x_q", x_q));
  if (!x_fp.sizes().equals(x_q.sizes())) {
    return absl::InvalidArgumentError("block tuning: x_fp and x_q have different shapes");
  }
  if (options.iters < 0 || options.batch_size < 1 || options.lr < 0 || options.minmax_lr < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "block tuning: need iters >= 0, batch_size >= 1, lr >= 0 and minmax_lr >= 0 (got iters ",
        options.iters, ", batch_size ", options.batch_size, ", lr ", options.lr, ", minmax_lr ",
        options.minmax_lr, ")"));
  }
  const std::vector<std::string>& known = LlamaBlockLinears();
  std::set<std::string> seen;
  for (const LayerToTune& layer : layers) {
    if (std::find(known.begin(), known.end(), layer.short_name) == known.end()) {
      return absl::InvalidArgumentError(absl::StrCat("block tuning: layer ", layer.name,
                                                     ": unknown Linear '", layer.short_name, "'"));
    }
    if (!seen.insert(layer.short_name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("block tuning: layer ", layer.short_name, " is listed twice"));
    }
    SR2_RETURN_IF_ERROR(
        Annotate(ValidateScheme(layer.scheme), absl::StrCat("block tuning: layer ", layer.name)));
  }
  return absl::OkStatus();
}

// Runs the block without gradients over all samples in chunks of `chunk` (bounding the
// activation memory) and returns the stacked outputs.
torch::Tensor ForwardAll(const LlamaConfig& config, const BlockWeights& weights,
                         const RopeTables& rope, const torch::Tensor& x, int64_t chunk,
                         const LinearInputObserver& observe_input = nullptr) {
  torch::NoGradGuard no_grad;
  torch::Tensor y = torch::empty_like(x);
  for (int64_t start = 0; start < x.size(0); start += chunk) {
    const int64_t len = std::min(chunk, x.size(0) - start);
    y.narrow(0, start, len).copy_(BlockForward(config, weights, rope, x.narrow(0, start, len),
                                               observe_input));
  }
  return y;
}

// The layer's lr: options.lr, else 1/iters, doubled for <= 3-bit layers in long runs (the
// reference's "best" preset rule).
double LayerLr(const TuneOptions& options, const Scheme& scheme) {
  if (options.lr > 0) return options.lr;
  const double base = 1.0 / std::max(options.iters, 1);
  return (options.iters >= 1000 && scheme.bits <= 3) ? 2 * base : base;
}

absl::StatusOr<BlockTuneResult> TuneBlockImpl(
    const LlamaConfig& config, const BlockWeights& fp_weights, const torch::Tensor& x_fp,
    const torch::Tensor& x_q, const std::vector<LayerToTune>& layers, const TuneOptions& options,
    const std::function<void(double, double)>& progress, const std::function<bool()>& cancelled) {
  SR2_RETURN_IF_ERROR(ValidateInputs(config, fp_weights, x_fp, x_q, layers, options));
  const torch::Device device = x_fp.device();
  const int64_t nsamples = x_fp.size(0);
  const int64_t batch = std::min<int64_t>(options.batch_size, nsamples);
  const RopeTables rope = MakeRopeTables(config, x_fp.size(1), device);
  auto is_cancelled = [&] { return cancelled && cancelled(); };

  // Stage D.1: the FP target and, for V2, the importance matrix of each searched layer.
  std::map<std::string, torch::Tensor> imatrix;
  if (options.v2) {
    for (const LayerToTune& layer : layers) {
      if (layer.scheme.sym) {
        imatrix[layer.short_name] =
            torch::zeros({fp_weights.Linear(layer.short_name).size(1)},
                         torch::TensorOptions().dtype(torch::kFloat32).device(device));
      }
    }
  }
  LinearInputObserver accumulate = [&](const std::string& short_name, const torch::Tensor& in) {
    auto it = imatrix.find(short_name);
    if (it == imatrix.end()) return;
    it->second.add_(in.reshape({-1, in.size(-1)}).to(torch::kFloat32).pow(2).sum(0));
  };
  BlockTuneResult result;
  result.y_fp = ForwardAll(config, fp_weights, rope, x_fp, batch,
                           imatrix.empty() ? LinearInputObserver() : accumulate);

  // Stage D.2: parameters V = 0, alpha = beta = 1; V2 sym layers get the searched init scale.
  torch::AutoGradMode enable_grad(true);
  const auto fp32 = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  std::vector<TunedLayer> tuned;
  std::vector<Trainable> trainables;
  BlockLossOptions loss_options;
  loss_options.filter_outliers = options.v2 && options.filter_outliers;
  loss_options.skip_last_position = options.skip_last_position;
  for (const LayerToTune& layer : layers) {
    TunedLayer t;
    t.spec = &layer;
    t.weight = fp_weights.Linear(layer.short_name).detach();
    const int64_t out = t.weight.size(0), in = t.weight.size(1);
    const int64_t groups = GroupsPerRow(layer.scheme, in);
    const int64_t group = EffectiveGroupSize(layer.scheme, in);
    const bool searched = options.v2 && layer.scheme.sym;
    if (searched) {
      t.params.init_scale = SearchSymScales(t.weight, layer.scheme, imatrix[layer.short_name]);
    }
    const double lr = LayerLr(options, layer.scheme);
    const double minmax_lr = options.minmax_lr > 0 ? options.minmax_lr : lr;
    t.params.v = torch::zeros({out, groups * group}, fp32).requires_grad_(true);
    trainables.push_back({t.params.v, lr, 0.0, {}});
    if (options.enable_minmax_tuning) {
      t.params.max_scale = torch::ones({out, groups}, fp32).requires_grad_(true);
      trainables.push_back({t.params.max_scale, minmax_lr, searched ? 2.0 : 1.0, {}});
      // V2 scales come from init_scale * alpha alone; beta would never get a gradient.
      if (!searched) {
        t.params.min_scale = torch::ones({out, groups}, fp32).requires_grad_(true);
        trainables.push_back({t.params.min_scale, minmax_lr, 1.0, {}});
      }
    }
    tuned.push_back(std::move(t));
  }
  for (Trainable& p : trainables) p.best = p.value.detach().clone();

  // Stage D.3: SignSGD with best-loss keeping.
  BatchSampler sampler(nsamples, batch, options.seed);
  double best_loss = std::numeric_limits<double>::infinity();
  for (int t = 0; t < options.iters; ++t) {
    if (is_cancelled()) return absl::CancelledError("block tuning cancelled");
    {
      torch::NoGradGuard no_grad;
      for (Trainable& p : trainables) {
        if (p.clamp_max > 0) p.value.clamp_(0.0, p.clamp_max);
      }
    }
    const std::vector<int64_t> picked = sampler.Next();
    torch::Tensor index = torch::tensor(picked, torch::kInt64).to(device);
    BlockWeights weights = fp_weights;
    for (const TunedLayer& layer : tuned) {
      weights.Linear(layer.spec->short_name) =
          QuantDequant(layer.weight, layer.spec->scheme, layer.params);
    }
    torch::Tensor pred = BlockForward(config, weights, rope, x_q.index_select(0, index));
    torch::Tensor loss = BlockLoss(pred, result.y_fp.index_select(0, index), loss_options);
    const double loss_value = loss.item<double>();
    if (t == 0) result.initial_loss = loss_value;
    if (loss_value < best_loss) {
      best_loss = loss_value;
      result.best_iter = t;
      torch::NoGradGuard no_grad;
      for (Trainable& p : trainables) p.best.copy_(p.value);
    }
    (loss * kLossScale).backward();
    const double decay = 1.0 - static_cast<double>(t) / options.iters;
    {
      torch::NoGradGuard no_grad;
      for (Trainable& p : trainables) {
        torch::Tensor& grad = p.value.mutable_grad();
        if (!grad.defined()) continue;
        p.value.sub_(grad.sign(), p.lr * decay);
        grad.zero_();
      }
    }
    if (progress) progress(static_cast<double>(t + 1) / options.iters, best_loss);
  }
  if (is_cancelled()) return absl::CancelledError("block tuning cancelled");

  // Stage D.4-5: the best parameters give the integer layers and the quantized block.
  torch::NoGradGuard no_grad;
  if (options.iters > 0) {
    for (Trainable& p : trainables) p.value.copy_(p.best);
    result.best_loss = best_loss;
  }
  BlockWeights quantized = fp_weights;
  for (const TunedLayer& layer : tuned) {
    result.layers.push_back(QuantizeToIntegers(layer.spec->name, layer.weight,
                                               layer.spec->scheme, layer.params));
    quantized.Linear(layer.spec->short_name) =
        QuantDequant(layer.weight, layer.spec->scheme, layer.params);
  }
  result.x_q_next = ForwardAll(config, quantized, rope, x_q, batch);
  if (progress) progress(1.0, result.best_loss);
  return result;
}

}  // namespace

bool V2FiltersLoss(const Scheme& global) { return global.sym && global.bits < 4; }

torch::Tensor BlockLoss(const torch::Tensor& pred, const torch::Tensor& target,
                        const BlockLossOptions& options) {
  torch::Tensor diff = pred.to(torch::kFloat32) - target.to(torch::kFloat32);
  if (options.skip_last_position && diff.dim() >= 2) {
    torch::Tensor keep = torch::ones({diff.size(1)}, diff.options().requires_grad(false));
    keep[-1] = 0.0;
    std::vector<int64_t> shape(diff.dim(), 1);
    shape[1] = diff.size(1);
    diff = diff * keep.view(shape);
  }
  if (options.filter_outliers) {
    const int64_t k = std::max<int64_t>(1, diff.numel() / 1000);
    torch::Tensor top = std::get<1>(diff.detach().abs().reshape({-1}).topk(k));
    torch::Tensor keep = torch::ones({diff.numel()}, diff.options().requires_grad(false))
                             .index_fill_(0, top, 0.0)
                             .view_as(diff);
    diff = diff * keep;
  }
  return diff.pow(2).mean();
}

absl::StatusOr<BlockTuneResult> TuneBlock(
    const LlamaConfig& config, const BlockWeights& fp_weights, const torch::Tensor& x_fp,
    const torch::Tensor& x_q, const std::vector<LayerToTune>& layers, const TuneOptions& options,
    const std::function<void(double fraction, double best_loss)>& progress,
    const std::function<bool()>& cancelled) {
  try {
    return TuneBlockImpl(config, fp_weights, x_fp, x_q, layers, options, progress, cancelled);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("block tuning failed: ", e.what()));
  }
}

}  // namespace sr2::worker
