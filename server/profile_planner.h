// The DeltaLoss profile stage of a mixed-precision job (design.md §2 stage 3, algorithm.md §3.1)
// as a task graph, and the sum of its results. For every (candidate, calibration batch) pair
// there is one chain
//   forward [0, k) -> forward [k, 2k) -> ... -> head -> ... -> backward [k, 2k) -> backward [0, k)
// with k = spec.profile_blocks_per_task; the pairs are independent, so they run in parallel.
// Ranges wholly below the first target layer get no backward task.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/model_layout.h"
#include "sr2/v1/worker_service.pb.h"

namespace sr2::server {

struct ProfileTask {
  std::string name;               // Unique within the job, e.g. "profile-c0-b1-bwd-00004".
  v1::Task task;                  // kind, phase, block range, candidate, batch and target layers.
  std::vector<std::string> deps;  // Names of the profile tasks that must finish first.
};

// Number of calibration batches: ceil(profile_nsamples / profile_batch_size).
int ProfileBatchCount(const v1::JobSpec& spec);

// Every task is listed after its dependencies. InvalidArgument when there are no layers or
// the profile options (batch size, blocks per task, nsamples, candidates) are not positive.
absl::StatusOr<std::vector<ProfileTask>> PlanProfileTasks(const v1::JobSpec& spec,
                                                          const std::vector<LinearLayer>& layers,
                                                          int num_blocks);

// scores[layer][c], each the sum over batches 0, 1, 2, ... in that order of the backward tasks'
// per-batch scores, so the result does not depend on the order tasks finished in. `done` holds
// the finished profile tasks with their outputs (other phases are ignored). FailedPrecondition
// naming the first (layer, candidate, batch) whose score is missing or reported twice.
using FinishedTask = std::pair<const v1::Task*, const v1::TaskOutput*>;
absl::StatusOr<std::map<std::string, std::vector<double>>> SumProfileScores(
    const v1::JobSpec& spec, const std::vector<LinearLayer>& layers,
    const std::vector<FinishedTask>& done);

}  // namespace sr2::server
