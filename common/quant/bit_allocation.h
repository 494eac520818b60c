// SignRoundV2 layer-wise bit allocation (algorithm.md §3.2-3.3, §6 Stage C): every item (a layer,
// or a group of layers that must share a scheme) picks one candidate scheme so that the total
// DeltaLoss score is minimal under a hard bit budget.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/model_layout.h"
#include "common/quant/scheme.h"

namespace sr2 {

// One choice to make. `bits` and `scores` hold one entry per candidate option, summed over the
// item's layers.
struct AllocationItem {
  std::vector<std::string> layers;  // Full layer names; more than one for a shared group.
  int64_t numel = 0;                // Weights of all its layers (for the average-bits budget).
  std::vector<int64_t> bits;
  std::vector<double> scores;
};

struct AllocationResult {
  std::vector<int> choice;  // Option index per item.
  int64_t total_bits = 0;
  double total_score = 0;
};

// Exact multiple-choice knapsack: minimises the total score subject to total bits <= budget.
// InvalidArgument when even the cheapest choices exceed the budget, or for inconsistent items
// (no options, bits/scores of different lengths, negative bits, non-finite scores).
absl::StatusOr<AllocationResult> AllocateBits(const std::vector<AllocationItem>& items,
                                              int64_t budget_bits);

// floor(total numel * avg_bits). Option o's average is (sum of items' bits[o]) / total numel;
// a target within 1e-3 of the lowest or highest option average snaps to that option's exact
// bit total. InvalidArgument, naming the range, for a target outside it, or when the items do
// not all have the same number of options.
absl::StatusOr<int64_t> BitBudget(const std::vector<AllocationItem>& items, double avg_bits);

// One item per layer in `layers` order, bits by LayerBits() and scores from `scores` (full layer
// name -> one score per option). With `share_fused_layers`, the q/k/v projections of a block
// form one item and so do gate/up (placed where the group's first layer is). InvalidArgument
// for a layer without scores or with the wrong number of them.
absl::StatusOr<std::vector<AllocationItem>> MakeAllocationItems(
    const std::vector<LinearLayer>& layers, const std::vector<Scheme>& options,
    const std::map<std::string, std::vector<double>>& scores, bool share_fused_layers,
    bool ignore_scale_zp_bits);

// The chosen scheme of every layer of every item. InvalidArgument when `result` does not fit
// `items` and `options`.
absl::StatusOr<std::map<std::string, Scheme>> LayerSchemes(const std::vector<AllocationItem>& items,
                                           const AllocationResult& result,
                                           const std::vector<Scheme>& options);

}  // namespace sr2
