// The Llama-family `config.json` fields sr2 needs (Llama 2/3, Mistral, Qwen2).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sr2 {

struct LlamaConfig {
  std::string model_type;  // "llama", "mistral" or "qwen2".
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;  // Defaults to num_attention_heads.
  int head_dim = 0;             // Defaults to hidden_size / num_attention_heads.
  int vocab_size = 0;
  int max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool attention_bias = false;  // q/k/v biases (always true for qwen2).
  bool mlp_bias = false;
  bool tie_word_embeddings = false;
  std::string torch_dtype;      // As written, e.g. "float32"; may be empty.

  // Parses and validates `json_text`. InvalidArgument naming the field for missing or
  // inconsistent values, Unimplemented for architectures or features sr2 does not support
  // (e.g. rope_scaling, a non-silu activation).
  static absl::StatusOr<LlamaConfig> FromJson(std::string_view json_text);
};

}  // namespace sr2
