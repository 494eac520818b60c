#include "server/task_requirements.h"

#include <algorithm>

namespace sr2::server {
namespace {

constexpr int64_t kFloat = 4;                  // Workers compute in fp32.
constexpr int64_t kRuntimeBytes = 512LL << 20;  // libtorch, allocator slack, the process.

int64_t BlockParams(const ModelLayout& layout) {
  int64_t most = 0;
  for (const std::vector<LinearLayer>& block : layout.blocks) {
    int64_t params = 0;
    for (const LinearLayer& l : block) params += l.numel();
    most = std::max(most, params);
  }
  return most;
}

// Activations of one forward+backward through a block for `batch` windows of `seqlen`:
// the Linears' inputs and outputs, and the attention scores.
int64_t BlockPassBytes(const LlamaConfig& c, int64_t batch, int64_t seqlen) {
  const int64_t tokens = batch * seqlen;
  const int64_t linear = tokens * (8LL * c.hidden_size + 4LL * c.intermediate_size);
  const int64_t attention = batch * c.num_attention_heads * seqlen * seqlen;
  return 2 * (linear + attention) * kFloat;  // Saved for backward, plus the gradients.
}

}  // namespace

std::map<int, v1::TaskRequirements> EstimateTaskRequirements(const ModelLayout& layout,
                                                             const v1::JobSpec& spec) {
  const LlamaConfig& c = layout.config;
  const int64_t model = layout.total_params * kFloat;
  const int64_t block = BlockParams(layout) * kFloat;
  const int64_t embedding = int64_t{c.vocab_size} * c.hidden_size * kFloat;
  // One cached activation chain: nsamples windows of seqlen hidden states.
  const int64_t chain = int64_t{spec.nsamples()} * spec.seqlen() * c.hidden_size * kFloat;
  const int64_t batch = std::min<int64_t>(std::max(spec.batch_size(), 1), spec.nsamples());

  std::map<int, int64_t> bytes;
  // Calibration embeds every window; in fp input mode it runs the whole FP chain.
  bytes[v1::TASK_KIND_CALIBRATE] =
      embedding + 2 * chain + (spec.input_mode() == v1::INPUT_MODE_FP ? model : 0);
  // A block: FP weights, their qdq copy, V with its gradient and best snapshot (5 copies);
  // x_fp, x_q, the FP target and the next input (4 chains); one training pass.
  bytes[v1::TASK_KIND_QUANTIZE_BLOCK] =
      5 * block + 4 * chain + BlockPassBytes(c, batch, spec.seqlen());
  // A DeltaLoss pipeline task: a range of blocks (FP, qdq and gradients), the embedding or
  // the head at the ends of the chain, the range's cached inputs and one pass with the logits.
  const int64_t profile_batch = std::max(spec.profile_batch_size(), 1);
  const int64_t profile_seqlen = std::max(spec.profile_seqlen(), 1);
  const int64_t range = std::max(1, std::min(spec.profile_blocks_per_task(), layout.num_blocks()));
  bytes[v1::TASK_KIND_PROFILE] =
      3 * (range * block + embedding) +
      (range + 1) * profile_batch * profile_seqlen * c.hidden_size * kFloat +
      BlockPassBytes(c, profile_batch, profile_seqlen) +
      2 * profile_batch * profile_seqlen * int64_t{c.vocab_size} * kFloat;
  // Evaluation: the dequantized model and the logits of one batch of 8 windows.
  const int64_t eval_seqlen = std::max(spec.eval_seqlen(), 1);
  bytes[v1::TASK_KIND_EVALUATE] =
      model + BlockPassBytes(c, 8, eval_seqlen) / 2 + 8 * eval_seqlen * c.vocab_size * kFloat;

  std::map<int, v1::TaskRequirements> needs;
  for (const auto& [kind, b] : bytes) {
    v1::TaskRequirements& r = needs[kind];
    r.set_device(spec.device());
    r.set_memory_bytes(b + kRuntimeBytes);
  }
  return needs;
}

}  // namespace sr2::server
