// The inspect stage: validates a job's inputs before any worker is used, and decides which
// Linear of which block gets which scheme.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/model_layout.h"
#include "sr2/v1/common.pb.h"
#include "sr2/v1/worker_service.pb.h"

namespace sr2::server {

struct JobPlan {
  ModelLayout layout;
  std::vector<std::vector<v1::LayerAssignment>> blocks;  // Quantized layers per block.
  std::vector<v1::LayerResult> skipped;                  // Layers the format cannot hold.
  std::vector<LinearLayer> quantizable;                  // All layers that get a scheme.
  int64_t calib_tokens = 0;
  int64_t eval_tokens = 0;
};

// Reads config.json and the safetensors headers of the model, resolves the model-dependent
// defaults in `spec` (seqlen), checks the token files' sizes and that nothing exists at the
// output location yet. Every problem is an error naming it.
absl::StatusOr<JobPlan> PlanJob(v1::JobSpec* spec);

}  // namespace sr2::server
