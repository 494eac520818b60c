#include "common/model/synthetic_llama.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/model/model_layout.h"
#include "common/tensor/safetensors.h"
#include "common/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace sr2 {
namespace {

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

}  // namespace

absl::Status WriteSyntheticLlama(const SyntheticLlamaOptions& o, ObjectStore& model,
                                 ObjectStore& data) {
  if (o.hidden_size % o.num_attention_heads != 0 ||
      o.num_attention_heads % o.num_key_value_heads != 0) {
    return absl::InvalidArgumentError("hidden size, heads and kv heads must divide evenly");
  }
  const int head_dim = o.hidden_size / o.num_attention_heads;
  nlohmann::json config = {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"hidden_size", o.hidden_size},
      {"intermediate_size", o.intermediate_size},
      {"num_hidden_layers", o.num_hidden_layers},
      {"num_attention_heads", o.num_attention_heads},
      {"num_key_value_heads", o.num_key_value_heads},
      {"head_dim", head_dim},
      {"vocab_size", o.vocab_size},
      {"max_position_embeddings", o.max_position_embeddings},
      {"rms_norm_eps", 1e-5},
      {"rope_theta", 10000.0},
      {"hidden_act", "silu"},
      {"tie_word_embeddings", true},
      {"bos_token_id", 1},
      {"eos_token_id", 2},
      {"torch_dtype", "float32"},
  };

  std::mt19937_64 rng(o.seed);
  // Small init like HF's initializer_range 0.02, scaled up so activations are not trivial.
  std::normal_distribution<float> normal(0.0f, 0.08f);
  std::vector<Tensor> tensors;
  auto random = [&](std::string name, std::vector<int64_t> shape) {
    Tensor t{std::move(name), std::move(shape), {}};
    t.values.resize(t.shape[0] * (t.shape.size() > 1 ? t.shape[1] : 1));
    for (float& v : t.values) v = normal(rng);
    tensors.push_back(std::move(t));
  };
  auto ones = [&](std::string name, int64_t n) {
    tensors.push_back(Tensor{std::move(name), {n}, std::vector<float>(n, 1.0f)});
  };
  const int64_t h = o.hidden_size, q = int64_t{o.num_attention_heads} * head_dim,
                kv = int64_t{o.num_key_value_heads} * head_dim, inter = o.intermediate_size;
  random("model.embed_tokens.weight", {o.vocab_size, h});
  for (int b = 0; b < o.num_hidden_layers; ++b) {
    const std::string p = BlockPrefix(b);
    ones(p + "input_layernorm.weight", h);
    ones(p + "post_attention_layernorm.weight", h);
    random(p + "self_attn.q_proj.weight", {q, h});
    random(p + "self_attn.k_proj.weight", {kv, h});
    random(p + "self_attn.v_proj.weight", {kv, h});
    random(p + "self_attn.o_proj.weight", {h, q});
    random(p + "mlp.gate_proj.weight", {inter, h});
    random(p + "mlp.up_proj.weight", {inter, h});
    random(p + "mlp.down_proj.weight", {h, inter});
  }
  ones("model.norm.weight", h);

  std::vector<TensorRef> refs;
  for (const Tensor& t : tensors) {
    refs.push_back({t.name, DType::kF32, t.shape,
                    std::string_view(reinterpret_cast<const char*>(t.values.data()),
                                     t.values.size() * sizeof(float))});
  }
  SR2_ASSIGN_OR_RETURN(std::string bytes, SerializeSafetensors(refs, {{"format", "pt"}}));
  SR2_RETURN_IF_ERROR(model.Write("model.safetensors", bytes));
  SR2_RETURN_IF_ERROR(model.Write("config.json", config.dump(2)));

  std::uniform_int_distribution<int32_t> token(3, o.vocab_size - 1);
  auto token_file = [&](int64_t n) {
    std::vector<int32_t> ids(n);
    for (int32_t& id : ids) id = token(rng);
    return std::string(reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof(int32_t));
  };
  SR2_RETURN_IF_ERROR(data.Write("calib.tokens.i32", token_file(o.calib_tokens)));
  return data.Write("eval.tokens.i32", token_file(o.eval_tokens));
}

}  // namespace sr2
