// A Llama-family decoder in libtorch (RMSNorm, rotate-half RoPE, GQA, SwiGLU, optional q/k/v
// biases), fp32 math, device-agnostic. Blocks are pure functions of their weights so tuning can
// run a block with substituted (quantize-dequantized, differentiable) Linear weights.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "common/model/llama_config.h"
#include "common/quant/float_weights.h"
#include "common/store/object_store.h"

namespace sr2::worker {

// Weights of one block. Linear weights are [out, in]; biases are undefined tensors when absent.
struct BlockWeights {
  torch::Tensor input_norm, post_attention_norm;
  torch::Tensor q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;
  torch::Tensor q_bias, k_bias, v_bias;

  // The Linear weight named by its short name ("self_attn.q_proj", "mlp.down_proj", ...).
  torch::Tensor& Linear(const std::string& short_name);
  const torch::Tensor& Linear(const std::string& short_name) const;
};

// cos/sin tables [seqlen, head_dim] for rotate-half RoPE.
struct RopeTables {
  torch::Tensor cos, sin;
};
RopeTables MakeRopeTables(const LlamaConfig& config, int64_t seqlen, torch::Device device);

// Sees the input [batch, seq, in] of each Linear of a block, by short name ("mlp.down_proj");
// q/k/v (and gate/up) report the same tensor. Used to collect activation statistics.
using LinearInputObserver =
    std::function<void(const std::string& short_name, const torch::Tensor& input)>;

// One decoder block on hidden states x [batch, seq, hidden] with a causal mask.
torch::Tensor BlockForward(const LlamaConfig& config, const BlockWeights& w, const RopeTables& rope,
                           const torch::Tensor& x,
                           const LinearInputObserver& observe_input = nullptr);

// The parts of a model to hold, so that a pipeline task (e.g. a DeltaLoss block range) needs
// only the memory of what it runs.
struct ModelParts {
  int block_begin = 0;
  int block_end = -1;     // One past the last block; -1 = through the last block.
  bool embedding = true;  // embed_tokens, for Embed().
  bool head = true;       // Final norm + lm_head, for Head().

  // Whether the checkpoint tensor `name` (HF naming) belongs to these parts.
  bool Holds(const LlamaConfig& config, const std::string& name) const;
};

class LlamaModel {
 public:
  // Builds the model (or the given `parts` of it) from fp32 tensors (HF names), moved to
  // `device`. InvalidArgument naming a missing or misshaped tensor, or a bad block range.
  // Parts left out stay undefined tensors: block(i) outside the range, Embed(), Head() throw.
  static absl::StatusOr<LlamaModel> Create(const LlamaConfig& config,
                                           const std::map<std::string, FloatTensor>& weights,
                                           torch::Device device, const ModelParts& parts = {});

  const LlamaConfig& config() const { return config_; }
  torch::Device device() const { return device_; }
  int num_blocks() const { return static_cast<int>(blocks_.size()); }
  BlockWeights& block(int i) { return blocks_[i]; }
  const BlockWeights& block(int i) const { return blocks_[i]; }

  // tokens [batch, seq] int64 -> hidden states [batch, seq, hidden].
  torch::Tensor Embed(const torch::Tensor& tokens) const;
  // Final norm + lm_head: hidden states -> logits [batch, seq, vocab].
  torch::Tensor Head(const torch::Tensor& hidden) const;
  // Full forward: tokens -> logits.
  torch::Tensor Logits(const torch::Tensor& tokens) const;

 private:
  LlamaModel(LlamaConfig config, torch::Device device) : config_(std::move(config)), device_(device) {}
  LlamaConfig config_;
  torch::Device device_;
  torch::Tensor embed_, final_norm_, lm_head_;
  std::vector<BlockWeights> blocks_;
};

// Reads config.json and the checkpoint at the root of `store` and builds the model (only the
// tensors of `parts` are read); errors name the store.
absl::StatusOr<LlamaModel> LoadLlamaModel(const ObjectStorePtr& store, torch::Device device,
                                          const ModelParts& parts = {});

struct PerplexityResult {
  double nll_sum = 0;   // Sum of next-token NLL over all targets.
  int64_t targets = 0;
  double perplexity() const;
};

// The evaluation protocol of shared/data/tinystories/README.md: each window runs on its own from
// position 0; every position but the last predicts the next token.
PerplexityResult EvaluatePerplexity(const LlamaModel& model,
                                    const std::vector<std::vector<int32_t>>& windows,
                                    int batch_size);

}  // namespace sr2::worker
