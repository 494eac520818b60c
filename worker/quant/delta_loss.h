// SignRoundV2 DeltaLoss sensitivity (algorithm.md §3.1, §6 Stage B): for each candidate scheme,
// every target Linear is replaced at once by its RTN qdq Ŵ, and each layer scores
// Σ|∂L/∂Ŵ ⊙ (W − Ŵ)| summed over calibration batches, L being the causal-LM cross-entropy.
// Gradients come from the low-memory block-by-block replay: one forward caching every block's
// input, then each block is recomputed with gradients in reverse order. The per-block pieces
// are public so the work can be split into block-range tasks.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "common/model/llama_config.h"
#include "common/quant/scheme.h"
#include "worker/model/llama_model.h"

namespace sr2::worker {

struct DeltaLossOptions {
  int batch_size = 8;  // Windows per forward/backward; each batch's loss is its own token mean.
};

// `w` with the Linears named in `targets` (short names) replaced by their RTN qdq under
// `scheme` (V = 0, alpha = beta = 1, fp16 scales); every other tensor is shared with `w`.
BlockWeights QdqBlockWeights(const BlockWeights& w, const std::vector<std::string>& targets,
                             const Scheme& scheme);

// Runs `blocks` in order on `x` without gradients. Returns the input of every block followed by
// the output of the last one (blocks.size() + 1 tensors).
std::vector<torch::Tensor> ForwardBlockInputs(const LlamaConfig& config,
                                              const std::vector<BlockWeights>& blocks,
                                              const RopeTables& rope, const torch::Tensor& x);

struct HeadGradient {
  double loss = 0;            // Mean next-token cross-entropy (labels = tokens shifted, as HF).
  torch::Tensor grad_hidden;  // dL/d(last block output).
};
// Final norm + lm_head + loss on the last block's output `hidden` for `tokens` [batch, seq].
HeadGradient HeadLossGradient(const LlamaModel& model, const torch::Tensor& hidden,
                              const torch::Tensor& tokens);

struct BlockGradients {
  torch::Tensor grad_input;                           // dL/dx_in, for the previous block.
  std::map<std::string, torch::Tensor> weight_grads;  // dL/dŴ by target short name.
};
// Recomputes the block from its cached input `x_in` with gradients and back-propagates
// `grad_output` (dL/d block output). `w` holds the (qdq) weights the forward used.
BlockGradients BlockBackward(const LlamaConfig& config, const BlockWeights& w,
                             const std::vector<std::string>& targets, const RopeTables& rope,
                             const torch::Tensor& x_in, const torch::Tensor& grad_output);

// Σ|grad ⊙ (w − w_qdq)|, accumulated in double.
double DeltaLossScore(const torch::Tensor& grad, const torch::Tensor& w,
                      const torch::Tensor& w_qdq);

// scores[layer][o] for every full layer name ("model.layers.3.mlp.down_proj") and option o.
// `windows` must all have the same length (>= 2) and valid token ids. InvalidArgument for bad
// inputs (unknown or repeated layer names, invalid schemes, bad windows), Cancelled as soon as
// `cancelled` (may be empty) returns true between batches.
absl::StatusOr<std::map<std::string, std::vector<double>>> ComputeDeltaLoss(
    const LlamaModel& model, const std::vector<std::vector<int32_t>>& windows,
    const std::vector<std::string>& layer_names, const std::vector<Scheme>& options,
    const DeltaLossOptions& delta_options, const std::function<bool()>& cancelled);

}  // namespace sr2::worker
