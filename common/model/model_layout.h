// What a checkpoint contains, in sr2's terms: transformer blocks and the Linear layers inside
// them that can be quantized. Built by the coordinator's inspect stage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/llama_config.h"
#include "common/tensor/checkpoint.h"

namespace sr2 {

struct LinearLayer {
  std::string name;        // "model.layers.3.mlp.down_proj"; the weight is name + ".weight".
  std::string short_name;  // "mlp.down_proj"
  int block = 0;
  int64_t out_features = 0;
  int64_t in_features = 0;
  bool has_bias = false;
  int64_t numel() const { return out_features * in_features; }
};

// The seven Linears of a Llama block, in execution order.
const std::vector<std::string>& LlamaBlockLinears();

// Prefix of block `i`'s tensors: "model.layers.<i>.".
std::string BlockPrefix(int block);
// The block of a tensor named BlockPrefix(i) + "..." (canonical digits only); nullopt for any
// other name.
std::optional<int> BlockOfTensor(const std::string& name);

struct ModelLayout {
  LlamaConfig config;
  std::vector<std::vector<LinearLayer>> blocks;  // blocks[i] = Linears of block i.
  int64_t total_params = 0;                      // All tensors (lm_head counted once if tied).

  // Checks that every tensor the config implies is present with the right shape and a float
  // dtype. InvalidArgument naming the missing/misshaped tensor otherwise.
  static absl::StatusOr<ModelLayout> Inspect(const LlamaConfig& config,
                                             const CheckpointReader& checkpoint);
  int num_blocks() const { return static_cast<int>(blocks.size()); }
};

}  // namespace sr2
