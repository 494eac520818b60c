// The DeltaLoss pipeline tasks (TASK_KIND_PROFILE, algorithm.md §3.1 low-memory replay), for one
// candidate scheme and one calibration batch:
//   FORWARD  [b, e): block inputs x_b+1..x_e on the qdq model (block 0's range embeds the tokens
//                    and also writes x_0);
//   HEAD:            LM loss of x_N -> g_N = dL/dx_N;
//   BACKWARD [b, e): recomputes each block from x_i with g_e, reports Σ|∂L/∂Ŵ ⊙ (W − Ŵ)| of the
//                    range's layers for this batch and writes g_b for the range below.
// Each task loads only the model parts it runs (ModelParts), so no worker holds the whole model.
#pragma once

#include "absl/status/statusor.h"
#include "sr2/v1/worker_service.pb.h"
#include "worker/tasks/task_context.h"

namespace sr2::worker {

// InvalidArgument for a bad phase, range, candidate or batch index, or target layers outside
// the range; NotFound when an input activation or gradient is missing.
absl::StatusOr<v1::TaskOutput> RunProfileTask(const v1::Task& task, const TaskContext& ctx);

}  // namespace sr2::worker
