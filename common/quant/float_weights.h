// Loading any checkpoint sr2 reads or writes as plain fp32 tensors: unquantized models, `fake`
// outputs, and packed auto_round / auto_gptq outputs (dequantized here), so evaluation always
// runs on exactly what was written.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/tensor/checkpoint.h"

namespace sr2 {

struct FloatTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// Every tensor as fp32 by name. When `config_json` has a GPTQ-packed quantization_config, each
// "<layer>.qweight/.qzeros/.scales" triple becomes "<layer>.weight" (per-layer bits from
// extra_config / dynamic); g_idx is checked to be the plain i/G order. When `wanted` is given,
// only the tensors it accepts (by their resulting name) are read.
absl::StatusOr<std::map<std::string, FloatTensor>> LoadFloatWeights(
    const CheckpointReader& checkpoint, std::string_view config_json,
    const std::function<bool(const std::string& name)>& wanted = nullptr);

}  // namespace sr2
