#include "worker/quant/delta_loss.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/model/model_layout.h"
#include "common/util/status_macros.h"
#include "worker/quant/weight_quantizer.h"

namespace sr2::worker {

absl::StatusOr<std::vector<std::vector<std::string>>> TargetsByBlock(
    const std::vector<std::string>& layer_names, int num_blocks) {
  std::vector<std::vector<std::string>> targets(num_blocks);
  std::set<std::string> seen;
  for (const std::string& name : layer_names) {
    const std::optional<int> block = BlockOfTensor(name);
    const std::string short_name = block ? name.substr(BlockPrefix(*block).size()) : "";
    const std::vector<std::string>& linears = LlamaBlockLinears();
    if (!block || *block >= num_blocks ||
        std::find(linears.begin(), linears.end(), short_name) == linears.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "DeltaLoss layer ", name, " is not a block Linear of this model (expected ",
          "model.layers.<0..", num_blocks - 1, ">.<self_attn|mlp>.<x>_proj)"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat("DeltaLoss layer ", name, " is listed twice"));
    }
    targets[*block].push_back(short_name);
  }
  return targets;
}

absl::Status ValidateWindows(const std::vector<std::vector<int32_t>>& windows, int vocab_size) {
  if (windows.empty()) return absl::InvalidArgumentError("DeltaLoss: no calibration windows");
  for (size_t i = 0; i < windows.size(); ++i) {
    if (windows[i].size() < 2 || windows[i].size() != windows[0].size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "DeltaLoss calibration window ", i, " has ", windows[i].size(),
          " tokens; all windows need the same length >= 2 (window 0 has ", windows[0].size(),
          ")"));
    }
    for (int32_t t : windows[i]) {
      if (t < 0 || t >= vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("DeltaLoss calibration window ", i,
                                                       " holds token id ", t,
                                                       " outside [0, ", vocab_size, ")"));
      }
    }
  }
  return absl::OkStatus();
}

torch::Tensor TokenBatch(const std::vector<std::vector<int32_t>>& windows, size_t begin,
                         size_t end, torch::Device device) {
  torch::Tensor tokens = torch::empty(
      {static_cast<int64_t>(end - begin), static_cast<int64_t>(windows[begin].size())},
      torch::kInt64);
  for (size_t i = begin; i < end; ++i) {
    tokens[i - begin].copy_(torch::tensor(windows[i], torch::kInt32));
  }
  return tokens.to(device);
}

BlockWeights QdqBlockWeights(const BlockWeights& w, const std::vector<std::string>& targets,
                             const Scheme& scheme) {
  torch::NoGradGuard no_grad;
  BlockWeights q = w;
  for (const std::string& t : targets) q.Linear(t) = QuantDequant(w.Linear(t), scheme, {});
  return q;
}

std::vector<torch::Tensor> ForwardBlockInputs(const LlamaConfig& config,
                                              const std::vector<BlockWeights>& blocks,
                                              const RopeTables& rope, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> inputs = {x};
  for (const BlockWeights& b : blocks) inputs.push_back(BlockForward(config, b, rope, inputs.back()));
  return inputs;
}

HeadGradient HeadLossGradient(const LlamaModel& model, const torch::Tensor& hidden,
                              const torch::Tensor& tokens) {
  torch::AutoGradMode grad_mode(true);
  torch::Tensor h = hidden.detach().requires_grad_(true);
  const int64_t n = tokens.size(1) - 1;
  torch::Tensor logits = model.Head(h).narrow(1, 0, n);
  torch::Tensor loss = torch::nn::functional::cross_entropy(
      logits.reshape({-1, logits.size(-1)}),
      tokens.narrow(1, 1, n).reshape({-1}).to(logits.device(), torch::kInt64));
  HeadGradient result;
  result.grad_hidden = torch::autograd::grad({loss}, {h})[0];
  result.loss = loss.item<double>();
  return result;
}

BlockGradients BlockBackward(const LlamaConfig& config, const BlockWeights& w,
                             const std::vector<std::string>& targets, const RopeTables& rope,
                             const torch::Tensor& x_in, const torch::Tensor& grad_output) {
  torch::AutoGradMode grad_mode(true);
  BlockWeights leaves = w;
  std::vector<torch::Tensor> inputs = {x_in.detach().requires_grad_(true)};
  for (const std::string& t : targets) {
    leaves.Linear(t) = w.Linear(t).detach().requires_grad_(true);
    inputs.push_back(leaves.Linear(t));
  }
  torch::Tensor y = BlockForward(config, leaves, rope, inputs[0]);
  std::vector<torch::Tensor> grads = torch::autograd::grad({y}, inputs, {grad_output});
  BlockGradients result;
  result.grad_input = grads[0];
  for (size_t i = 0; i < targets.size(); ++i) result.weight_grads[targets[i]] = grads[i + 1];
  return result;
}

QdqRange MakeQdqRange(const LlamaModel& model, int begin, int end,
                      const std::vector<std::vector<std::string>>& targets_by_block,
                      const Scheme& scheme) {
  QdqRange range;
  range.begin = begin;
  for (int b = begin; b < end; ++b) {
    range.qdq.push_back(QdqBlockWeights(model.block(b), targets_by_block[b], scheme));
    range.targets.push_back(targets_by_block[b]);
  }
  return range;
}

torch::Tensor BackwardRange(const LlamaModel& model, const QdqRange& range,
                            const RopeTables& rope, std::vector<torch::Tensor>* inputs,
                            torch::Tensor grad, int stop, std::map<std::string, double>* scores) {
  for (int i = static_cast<int>(range.qdq.size()) - 1; i >= stop - range.begin; --i) {
    const int b = range.begin + i;
    BlockGradients g = BlockBackward(model.config(), range.qdq[i], range.targets[i], rope,
                                     (*inputs)[i], grad);
    (*inputs)[i] = torch::Tensor();  // Frees the cache as the replay passes it.
    for (const std::string& t : range.targets[i]) {
      (*scores)[BlockPrefix(b) + t] += DeltaLossScore(g.weight_grads.at(t),
                                                      model.block(b).Linear(t),
                                                      range.qdq[i].Linear(t));
    }
    grad = std::move(g.grad_input);
  }
  return grad;
}

double DeltaLossScore(const torch::Tensor& grad, const torch::Tensor& w,
                      const torch::Tensor& w_qdq) {
  torch::NoGradGuard no_grad;
  return (grad.to(torch::kFloat64) * (w.to(torch::kFloat64) - w_qdq.to(torch::kFloat64)))
      .abs()
      .sum()
      .item<double>();
}

absl::StatusOr<std::map<std::string, std::vector<double>>> ComputeDeltaLoss(
    const LlamaModel& model, const std::vector<std::vector<int32_t>>& windows,
    const std::vector<std::string>& layer_names, const std::vector<Scheme>& options,
    const DeltaLossOptions& delta_options, const std::function<bool()>& cancelled) {
  const LlamaConfig& config = model.config();
  const int num_blocks = model.num_blocks();
  if (options.empty()) return absl::InvalidArgumentError("DeltaLoss: no candidate schemes");
  for (const Scheme& s : options) SR2_RETURN_IF_ERROR(ValidateScheme(s));
  if (delta_options.batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("DeltaLoss batch size ", delta_options.batch_size, " must be >= 1"));
  }
  SR2_RETURN_IF_ERROR(ValidateWindows(windows, config.vocab_size));
  SR2_ASSIGN_OR_RETURN(auto targets, TargetsByBlock(layer_names, num_blocks));

  std::map<std::string, std::vector<double>> scores;
  for (const std::string& name : layer_names) scores[name].assign(options.size(), 0.0);
  if (layer_names.empty()) return scores;
  // Blocks below the first target need no backward.
  int first_target = 0;
  while (targets[first_target].empty()) ++first_target;

  const RopeTables rope = MakeRopeTables(config, windows[0].size(), model.device());
  const size_t batch = static_cast<size_t>(delta_options.batch_size);
  for (size_t o = 0; o < options.size(); ++o) {
    const QdqRange range = MakeQdqRange(model, 0, num_blocks, targets, options[o]);
    for (size_t begin = 0; begin < windows.size(); begin += batch) {
      if (cancelled && cancelled()) return absl::CancelledError("DeltaLoss scoring cancelled");
      const size_t end = std::min(windows.size(), begin + batch);
      const torch::Tensor tokens = TokenBatch(windows, begin, end, model.device());
      std::vector<torch::Tensor> inputs =
          ForwardBlockInputs(config, range.qdq, rope, model.Embed(tokens));
      torch::Tensor grad = HeadLossGradient(model, inputs.back(), tokens).grad_hidden;
      inputs.pop_back();
      std::map<std::string, double> batch_scores;
      BackwardRange(model, range, rope, &inputs, std::move(grad), first_target, &batch_scores);
      for (const auto& [name, score] : batch_scores) scores[name][o] += score;
    }
  }
  return scores;
}

}  // namespace sr2::worker
