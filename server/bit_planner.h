// Mixed precision on the coordinator (algorithm.md §3.2-3.3): turns the DeltaLoss scores the
// profile tasks gathered into a per-layer scheme under the job's average-bits budget. Also
// serves `replan`, which re-solves a finished job's table for another budget.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/model_layout.h"
#include "sr2/v1/common.pb.h"

namespace sr2::server {

// `scores[layer][c]` is the DeltaLoss of `layer` under spec.candidates(c). The result lists
// every layer in `layers` order with its scores, bit costs and chosen candidate; its
// allocated_bits never exceed budget_bits. InvalidArgument for a budget outside what the
// candidates can reach, or missing scores.
absl::StatusOr<v1::Allocation> PlanAllocation(const v1::JobSpec& spec,
                                              const std::vector<LinearLayer>& layers,
                                              const std::map<std::string, std::vector<double>>& scores,
                                              double avg_bits);

// The scores table stored in an allocation, by layer name.
std::map<std::string, std::vector<double>> ScoresOf(const v1::Allocation& allocation);

}  // namespace sr2::server
