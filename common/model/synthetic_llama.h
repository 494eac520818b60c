// A small random Llama checkpoint (config.json + model.safetensors) and random token files,
// so sr2 can be tried without downloading a model. Deterministic for a seed.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "common/store/object_store.h"

namespace sr2 {

struct SyntheticLlamaOptions {
  int hidden_size = 64;
  int intermediate_size = 192;
  int num_hidden_layers = 4;
  int num_attention_heads = 8;
  int num_key_value_heads = 4;
  int vocab_size = 512;
  int max_position_embeddings = 512;
  uint64_t seed = 1;
  int64_t calib_tokens = 65536;  // Written as calib.tokens.i32.
  int64_t eval_tokens = 16384;   // Written as eval.tokens.i32.
};

// Writes the model into `model` and the two token files into `data`.
absl::Status WriteSyntheticLlama(const SyntheticLlamaOptions& options, ObjectStore& model,
                                 ObjectStore& data);

}  // namespace sr2
