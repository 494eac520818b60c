#include "common/model/model_layout.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/util/status_macros.h"

namespace sr2 {
namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

// The tensor `name` with exactly `shape` and a float dtype.
absl::Status CheckTensor(const CheckpointReader& checkpoint, const std::string& name,
                         const std::vector<int64_t>& shape) {
  const TensorInfo* info = checkpoint.Find(name);
  if (info == nullptr) return absl::InvalidArgumentError(absl::StrCat("missing tensor ", name));
  if (info->shape != shape) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", name, " has shape ",
                                                   ShapeString(info->shape), ", expected ",
                                                   ShapeString(shape)));
  }
  if (info->dtype != DType::kF32 && info->dtype != DType::kF16 && info->dtype != DType::kBF16) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", name, " has dtype ",
                                                   std::string(DTypeName(info->dtype)),
                                                   ", expected F32, F16 or BF16"));
  }
  return absl::OkStatus();
}

// Checks an optional bias; `required` makes its absence an error. Returns whether it exists.
absl::StatusOr<bool> CheckBias(const CheckpointReader& checkpoint, const std::string& layer,
                               int64_t out_features, bool required) {
  const std::string name = layer + ".bias";
  if (!required && checkpoint.Find(name) == nullptr) return false;
  SR2_RETURN_IF_ERROR(CheckTensor(checkpoint, name, {out_features}));
  return true;
}

}  // namespace

const std::vector<std::string>& LlamaBlockLinears() {
  static const auto* const kLinears = new std::vector<std::string>{
      "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
      "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
  return *kLinears;
}

std::string BlockPrefix(int block) { return absl::StrCat("model.layers.", block, "."); }

std::optional<int> BlockOfTensor(const std::string& name) {
  static const std::string kLayers = "model.layers.";
  if (name.compare(0, kLayers.size(), kLayers) != 0) return std::nullopt;
  const size_t dot = name.find('.', kLayers.size());
  int block = -1;
  if (dot == std::string::npos ||
      !absl::SimpleAtoi(name.substr(kLayers.size(), dot - kLayers.size()), &block) ||
      block < 0 || name.compare(0, dot + 1, BlockPrefix(block)) != 0) {
    return std::nullopt;
  }
  return block;
}

absl::StatusOr<ModelLayout> ModelLayout::Inspect(const LlamaConfig& config,
                                                 const CheckpointReader& checkpoint) {
  const int64_t hidden = config.hidden_size;
  const int64_t q_width = int64_t{config.num_attention_heads} * config.head_dim;
  const int64_t kv_width = int64_t{config.num_key_value_heads} * config.head_dim;
  const int64_t inter = config.intermediate_size;
  const int64_t vocab = config.vocab_size;
  // [out, in] of each entry of LlamaBlockLinears(), in the same order.
  const std::vector<std::pair<int64_t, int64_t>> linear_shapes = {
      {q_width, hidden}, {kv_width, hidden}, {kv_width, hidden}, {hidden, q_width},
      {inter, hidden},   {inter, hidden},    {hidden, inter}};

  ModelLayout layout;
  layout.config = config;
  SR2_RETURN_IF_ERROR(CheckTensor(checkpoint, "model.embed_tokens.weight", {vocab, hidden}));
  for (int b = 0; b < config.num_hidden_layers; ++b) {
    const std::string prefix = BlockPrefix(b);
    for (const char* norm : {"input_layernorm.weight", "post_attention_layernorm.weight"}) {
      SR2_RETURN_IF_ERROR(CheckTensor(checkpoint, prefix + norm, {hidden}));
    }
    std::vector<LinearLayer> linears;
    for (size_t k = 0; k < LlamaBlockLinears().size(); ++k) {
      LinearLayer layer;
      layer.short_name = LlamaBlockLinears()[k];
      layer.name = prefix + layer.short_name;
      layer.block = b;
      layer.out_features = linear_shapes[k].first;
      layer.in_features = linear_shapes[k].second;
      SR2_RETURN_IF_ERROR(
          CheckTensor(checkpoint, layer.name + ".weight", {layer.out_features, layer.in_features}));
      const bool is_mlp = layer.short_name.rfind("mlp.", 0) == 0;
      // Qwen2 and Llama(attention_bias) both bias q/k/v; only Llama also biases o_proj.
      const bool required = is_mlp
                                ? config.mlp_bias
                                : config.attention_bias && layer.short_name != "self_attn.o_proj";
      SR2_ASSIGN_OR_RETURN(layer.has_bias,
                           CheckBias(checkpoint, layer.name, layer.out_features, required));
      linears.push_back(std::move(layer));
    }
    layout.blocks.push_back(std::move(linears));
  }
  SR2_RETURN_IF_ERROR(CheckTensor(checkpoint, "model.norm.weight", {hidden}));
  if (!config.tie_word_embeddings || checkpoint.Find("lm_head.weight") != nullptr) {
    SR2_RETURN_IF_ERROR(CheckTensor(checkpoint, "lm_head.weight", {vocab, hidden}));
  }

  for (const std::string& name : checkpoint.TensorNames()) {
    if (config.tie_word_embeddings && name == "lm_head.weight") continue;
    layout.total_params += checkpoint.Find(name)->numel();
  }
  return layout;
}

}  // namespace sr2
