#include "worker/model/llama_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/model/model_layout.h"
#include "common/store/blob.h"
#include "common/tensor/checkpoint.h"
#include "common/util/status_macros.h"

namespace sr2::worker {
namespace {

torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps) * weight;
}

torch::Tensor Linear(const torch::Tensor& x, const torch::Tensor& weight,
                     const torch::Tensor& bias) {
  return bias.defined() ? torch::linear(x, weight, bias) : torch::linear(x, weight);
}

// [b, heads, seq, hd]: x * cos + rotate_half(x) * sin, rotate_half(x) = [-x2, x1].
torch::Tensor ApplyRope(const torch::Tensor& x, const RopeTables& rope) {
  const int64_t half = x.size(-1) / 2;
  const int64_t seq = x.size(2);
  torch::Tensor rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * rope.cos.narrow(0, 0, seq) + rotated * rope.sin.narrow(0, 0, seq);
}

// [b, seq, heads * hd] -> [b, heads, seq, hd].
torch::Tensor SplitHeads(const torch::Tensor& x, int64_t heads, int64_t head_dim) {
  return x.view({x.size(0), x.size(1), heads, head_dim}).transpose(1, 2);
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// Looks up `name`, checks its shape and copies it to `device`.
absl::StatusOr<torch::Tensor> TakeTensor(const std::map<std::string, FloatTensor>& weights,
                                         const std::string& name,
                                         const std::vector<int64_t>& shape,
                                         torch::Device device) {
  auto it = weights.find(name);
  if (it == weights.end()) {
    return absl::InvalidArgumentError(absl::StrCat("model tensor ", name, " is missing"));
  }
  const FloatTensor& t = it->second;
  if (t.shape != shape) {
    return absl::InvalidArgumentError(absl::StrCat("model tensor ", name, " has shape ",
                                                   ShapeString(t.shape), ", expected ",
                                                   ShapeString(shape)));
  }
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  if (static_cast<int64_t>(t.values.size()) != numel) {
    return absl::InvalidArgumentError(absl::StrCat("model tensor ", name, " holds ",
                                                   t.values.size(), " values for shape ",
                                                   ShapeString(shape)));
  }
  // from_blob does not own the data: clone before moving so the model owns its weights.
  return torch::from_blob(const_cast<float*>(t.values.data()), shape, torch::kFloat32)
      .clone()
      .to(device);
}

}  // namespace

torch::Tensor& BlockWeights::Linear(const std::string& short_name) {
  return const_cast<torch::Tensor&>(std::as_const(*this).Linear(short_name));
}

const torch::Tensor& BlockWeights::Linear(const std::string& short_name) const {
  if (short_name == "self_attn.q_proj") return q_proj;
  if (short_name == "self_attn.k_proj") return k_proj;
  if (short_name == "self_attn.v_proj") return v_proj;
  if (short_name == "self_attn.o_proj") return o_proj;
  if (short_name == "mlp.gate_proj") return gate_proj;
  if (short_name == "mlp.up_proj") return up_proj;
  if (short_name == "mlp.down_proj") return down_proj;
  // Callers pass names from LlamaBlockLinears(); anything else is a programming error.
  TORCH_CHECK(false, "unknown Linear short name: ", short_name);
}

RopeTables MakeRopeTables(const LlamaConfig& config, int64_t seqlen, torch::Device device) {
  const int64_t half = config.head_dim / 2;
  // Angles in double so the fp32 tables are correctly rounded even at long positions.
  auto options = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor inv_freq = torch::pow(
      config.rope_theta, torch::arange(0, half, options) * (-2.0 / config.head_dim));
  torch::Tensor angles = torch::outer(torch::arange(0, seqlen, options), inv_freq);
  angles = torch::cat({angles, angles}, -1);
  return {angles.cos().to(torch::kFloat32).to(device), angles.sin().to(torch::kFloat32).to(device)};
}

torch::Tensor BlockForward(const LlamaConfig& config, const BlockWeights& w, const RopeTables& rope,
                           const torch::Tensor& x, const LinearInputObserver& observe_input) {
  auto observe = [&](std::initializer_list<const char*> names, const torch::Tensor& input) {
    if (!observe_input) return;
    for (const char* name : names) observe_input(name, input);
  };
  const int64_t batch = x.size(0), seq = x.size(1);
  const int64_t heads = config.num_attention_heads, kv_heads = config.num_key_value_heads;
  const int64_t head_dim = config.head_dim;

  torch::Tensor h = RmsNorm(x, w.input_norm, config.rms_norm_eps);
  observe({"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}, h);
  torch::Tensor q = ApplyRope(SplitHeads(Linear(h, w.q_proj, w.q_bias), heads, head_dim), rope);
  torch::Tensor k = ApplyRope(SplitHeads(Linear(h, w.k_proj, w.k_bias), kv_heads, head_dim), rope);
  torch::Tensor v = SplitHeads(Linear(h, w.v_proj, w.v_bias), kv_heads, head_dim);
  // GQA: query head i reads kv head i / (heads / kv_heads).
  if (heads != kv_heads) {
    k = k.repeat_interleave(heads / kv_heads, 1);
    v = v.repeat_interleave(heads / kv_heads, 1);
  }
  // A contiguous k^T keeps the batched matmul on the fast BLAS path (10x here); the mask is
  // applied in place on the fresh scores tensor.
  torch::Tensor scores = torch::matmul(q * (1.0 / std::sqrt(static_cast<double>(head_dim))),
                                       k.transpose(-2, -1).contiguous());
  torch::Tensor future =
      torch::ones({seq, seq}, torch::TensorOptions().dtype(torch::kBool).device(x.device()))
          .triu(1);
  scores.masked_fill_(future, -std::numeric_limits<float>::infinity());
  torch::Tensor attn = torch::matmul(torch::softmax(scores, -1), v);
  attn = attn.transpose(1, 2).reshape({batch, seq, heads * head_dim});
  observe({"self_attn.o_proj"}, attn);
  torch::Tensor out = x + torch::linear(attn, w.o_proj);

  h = RmsNorm(out, w.post_attention_norm, config.rms_norm_eps);
  observe({"mlp.gate_proj", "mlp.up_proj"}, h);
  torch::Tensor gated = torch::silu(torch::linear(h, w.gate_proj)) * torch::linear(h, w.up_proj);
  observe({"mlp.down_proj"}, gated);
  return out + torch::linear(gated, w.down_proj);
}

bool ModelParts::Holds(const LlamaConfig& config, const std::string& name) const {
  if (const std::optional<int> block = BlockOfTensor(name)) {
    return *block >= block_begin && *block < (block_end < 0 ? config.num_hidden_layers : block_end);
  }
  if (name == "model.embed_tokens.weight") {
    return embedding || (head && config.tie_word_embeddings);  // Tied: lm_head is the embedding.
  }
  return head && (name == "model.norm.weight" || name == "lm_head.weight");
}

absl::StatusOr<LlamaModel> LlamaModel::Create(const LlamaConfig& config,
                                              const std::map<std::string, FloatTensor>& weights,
                                              torch::Device device, const ModelParts& parts) {
  if (config.mlp_bias) {
    return absl::UnimplementedError("mlp_bias=true is not supported");
  }
  if (config.num_attention_heads <= 0 || config.num_key_value_heads <= 0 ||
      config.num_attention_heads % config.num_key_value_heads != 0 || config.head_dim % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config: num_attention_heads (", config.num_attention_heads,
        ") must be a positive multiple of num_key_value_heads (", config.num_key_value_heads,
        ") and head_dim (", config.head_dim, ") even"));
  }
  const int64_t hidden = config.hidden_size, inter = config.intermediate_size;
  const int64_t q_out = int64_t{config.num_attention_heads} * config.head_dim;
  const int64_t kv_out = int64_t{config.num_key_value_heads} * config.head_dim;

  const int block_end = parts.block_end < 0 ? config.num_hidden_layers : parts.block_end;
  if (parts.block_begin < 0 || parts.block_begin > block_end ||
      block_end > config.num_hidden_layers) {
    return absl::InvalidArgumentError(absl::StrCat("block range [", parts.block_begin, ", ",
                                                   block_end, ") is outside the model's ",
                                                   config.num_hidden_layers, " blocks"));
  }

  LlamaModel model(config, device);
  torch::Tensor embed;
  if (parts.Holds(config, "model.embed_tokens.weight")) {
    SR2_ASSIGN_OR_RETURN(embed, TakeTensor(weights, "model.embed_tokens.weight",
                                           {config.vocab_size, hidden}, device));
  }
  if (parts.embedding) model.embed_ = embed;
  if (parts.head) {
    SR2_ASSIGN_OR_RETURN(model.final_norm_,
                         TakeTensor(weights, "model.norm.weight", {hidden}, device));
    if (config.tie_word_embeddings && weights.count("lm_head.weight") == 0) {
      model.lm_head_ = embed;
    } else {
      SR2_ASSIGN_OR_RETURN(model.lm_head_, TakeTensor(weights, "lm_head.weight",
                                                      {config.vocab_size, hidden}, device));
    }
  }

  model.blocks_.resize(config.num_hidden_layers);
  for (int i = parts.block_begin; i < block_end; ++i) {
    const std::string prefix = BlockPrefix(i);
    if (weights.count(prefix + "self_attn.o_proj.bias") != 0) {
      return absl::UnimplementedError(
          absl::StrCat("model tensor ", prefix, "self_attn.o_proj.bias: o_proj biases are not "
                       "supported"));
    }
    BlockWeights b;
    SR2_ASSIGN_OR_RETURN(b.input_norm, TakeTensor(weights, prefix + "input_layernorm.weight",
                                                  {hidden}, device));
    SR2_ASSIGN_OR_RETURN(b.post_attention_norm,
                         TakeTensor(weights, prefix + "post_attention_layernorm.weight",
                                    {hidden}, device));
    // [out, in] of each entry of LlamaBlockLinears(), in the same order.
    const int64_t shapes[][2] = {{q_out, hidden}, {kv_out, hidden}, {kv_out, hidden},
                                 {hidden, q_out}, {inter, hidden},  {inter, hidden},
                                 {hidden, inter}};
    const std::vector<std::string>& names = LlamaBlockLinears();
    for (size_t j = 0; j < names.size(); ++j) {
      SR2_ASSIGN_OR_RETURN(b.Linear(names[j]),
                           TakeTensor(weights, prefix + names[j] + ".weight",
                                      {shapes[j][0], shapes[j][1]}, device));
    }
    if (config.attention_bias) {
      SR2_ASSIGN_OR_RETURN(b.q_bias, TakeTensor(weights, prefix + "self_attn.q_proj.bias",
                                                {q_out}, device));
      SR2_ASSIGN_OR_RETURN(b.k_bias, TakeTensor(weights, prefix + "self_attn.k_proj.bias",
                                                {kv_out}, device));
      SR2_ASSIGN_OR_RETURN(b.v_bias, TakeTensor(weights, prefix + "self_attn.v_proj.bias",
                                                {kv_out}, device));
    }
    model.blocks_[i] = std::move(b);
  }
  return model;
}

namespace {

absl::StatusOr<LlamaModel> LoadFromStore(const ObjectStorePtr& store, torch::Device device,
                                         const ModelParts& parts) {
  SR2_ASSIGN_OR_RETURN(BlobPtr config_blob, store->Read("config.json"));
  SR2_ASSIGN_OR_RETURN(LlamaConfig config, LlamaConfig::FromJson(config_blob->view()));
  SR2_ASSIGN_OR_RETURN(auto checkpoint, CheckpointReader::Open(store));
  SR2_ASSIGN_OR_RETURN(
      auto weights,
      LoadFloatWeights(*checkpoint, config_blob->view(),
                       [&](const std::string& name) { return parts.Holds(config, name); }));
  return LlamaModel::Create(config, weights, device, parts);
}

}  // namespace

absl::StatusOr<LlamaModel> LoadLlamaModel(const ObjectStorePtr& store, torch::Device device,
                                          const ModelParts& parts) {
  absl::StatusOr<LlamaModel> model = LoadFromStore(store, device, parts);
  if (!model.ok()) return Annotate(model.status(), absl::StrCat("loading model ", store->uri()));
  return model;
}

torch::Tensor LlamaModel::Embed(const torch::Tensor& tokens) const {
  return embed_.index({tokens.to(device_, torch::kInt64)});
}

torch::Tensor LlamaModel::Head(const torch::Tensor& hidden) const {
  return torch::linear(RmsNorm(hidden, final_norm_, config_.rms_norm_eps), lm_head_);
}

torch::Tensor LlamaModel::Logits(const torch::Tensor& tokens) const {
  torch::Tensor h = Embed(tokens);
  const RopeTables rope = MakeRopeTables(config_, tokens.size(1), device_);
  for (const BlockWeights& b : blocks_) h = BlockForward(config_, b, rope, h);
  return Head(h);
}

double PerplexityResult::perplexity() const {
  return targets == 0 ? std::nan("") : std::exp(nll_sum / static_cast<double>(targets));
}

PerplexityResult EvaluatePerplexity(const LlamaModel& model,
                                    const std::vector<std::vector<int32_t>>& windows,
                                    int batch_size) {
  torch::NoGradGuard no_grad;
  PerplexityResult result;
  size_t start = 0;
  while (start < windows.size()) {
    // A batch is up to batch_size consecutive windows of equal length.
    const size_t len = windows[start].size();
    size_t end = start + 1;
    while (end < windows.size() && end - start < static_cast<size_t>(std::max(batch_size, 1)) &&
           windows[end].size() == len) {
      ++end;
    }
    if (len >= 2) {
      torch::Tensor tokens = torch::empty({static_cast<int64_t>(end - start),
                                           static_cast<int64_t>(len)},
                                          torch::kInt64);
      for (size_t i = start; i < end; ++i) {
        tokens[i - start].copy_(torch::tensor(windows[i], torch::kInt32));
      }
      tokens = tokens.to(model.device());
      const int64_t n = static_cast<int64_t>(len) - 1;
      torch::Tensor log_probs = torch::log_softmax(model.Logits(tokens).narrow(1, 0, n), -1);
      torch::Tensor target_lp = log_probs.gather(-1, tokens.narrow(1, 1, n).unsqueeze(-1));
      result.nll_sum -= target_lp.to(torch::kFloat64).sum().item<double>();
      result.targets += static_cast<int64_t>(end - start) * n;
    }
    start = end;
  }
  return result;
}

}  // namespace sr2::worker
