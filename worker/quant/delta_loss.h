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

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/model/llama_config.h"
#include "common/quant/scheme.h"
#include "worker/model/llama_model.h"

namespace sr2::worker {

struct DeltaLossOptions {
  int batch_size = 8;  // Windows per forward/backward; each batch's loss is its own token mean.
};

// Target short names per block from full names "model.layers.<i>.<short name>". InvalidArgument
// for a name that is not a block Linear of a `num_blocks`-block model, or a repeated name.
absl::StatusOr<std::vector<std::vector<std::string>>> TargetsByBlock(
    const std::vector<std::string>& layer_names, int num_blocks);

// InvalidArgument unless `windows` is non-empty, of one length >= 2, with ids in [0, vocab).
absl::Status ValidateWindows(const std::vector<std::vector<int32_t>>& windows, int vocab_size);

// Windows [begin, end) as int64 tokens [end - begin, seq] on `device`.
torch::Tensor TokenBatch(const std::vector<std::vector<int32_t>>& windows, size_t begin,
                         size_t end, torch::Device device);

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

// Blocks [begin, begin + qdq.size()) of a model under one candidate scheme: a pipeline stage.
struct QdqRange {
  int begin = 0;
  std::vector<BlockWeights> qdq;                  // qdq[i]: block begin + i, targets qdq'd.
  std::vector<std::vector<std::string>> targets;  // targets[i]: block begin + i's short names.
};
// `targets_by_block` is indexed by block (TargetsByBlock); `model` must hold blocks [begin, end).
QdqRange MakeQdqRange(const LlamaModel& model, int begin, int end,
                      const std::vector<std::vector<std::string>>& targets_by_block,
                      const Scheme& scheme);

// The backward replay over the range's blocks in reverse, down to block `stop` (>= begin).
// `inputs[i]` is block begin + i's cached input (freed as the replay passes it) and `grad` is
// dL/d(the range's output). Adds each target's Σ|∂L/∂Ŵ ⊙ (W − Ŵ)| (W from `model`) to
// `scores` by full layer name; returns dL/d(block stop's input).
torch::Tensor BackwardRange(const LlamaModel& model, const QdqRange& range,
                            const RopeTables& rope, std::vector<torch::Tensor>* inputs,
                            torch::Tensor grad, int stop, std::map<std::string, double>* scores);

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
