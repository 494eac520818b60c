#include "server/bit_planner.h"

#include "common/quant/bit_allocation.h"
#include "common/quant/scheme.h"
#include "common/util/status_macros.h"

namespace sr2::server {

absl::StatusOr<v1::Allocation> PlanAllocation(
    const v1::JobSpec& spec, const std::vector<LinearLayer>& layers,
    const std::map<std::string, std::vector<double>>& scores, double avg_bits) {
  std::vector<Scheme> options;
  for (const v1::QuantScheme& c : spec.candidates()) {
    options.push_back(Scheme{c.bits(), c.group_size(), c.sym()});
  }
  SR2_ASSIGN_OR_RETURN(std::vector<AllocationItem> items,
                       MakeAllocationItems(layers, options, scores, spec.share_fused_layers(),
                                           spec.ignore_scale_zp_bits()));
  SR2_ASSIGN_OR_RETURN(int64_t budget, BitBudget(items, avg_bits));
  SR2_ASSIGN_OR_RETURN(AllocationResult result, AllocateBits(items, budget));
  SR2_ASSIGN_OR_RETURN(auto chosen, LayerSchemes(items, result, options));

  v1::Allocation allocation;
  allocation.set_budget_bits(budget);
  allocation.set_allocated_bits(result.total_bits);
  allocation.set_predicted_score(result.total_score);
  int64_t numel = 0;
  for (const LinearLayer& layer : layers) {
    v1::LayerSensitivity* row = allocation.add_layers();
    row->set_name(layer.name);
    row->set_numel(layer.numel());
    numel += layer.numel();
    const std::vector<double>& layer_scores = scores.at(layer.name);
    const Scheme& pick = chosen.at(layer.name);
    for (size_t c = 0; c < options.size(); ++c) {
      row->add_scores(layer_scores[c]);
      row->add_bits(LayerBits(options[c], layer.out_features, layer.in_features,
                              spec.ignore_scale_zp_bits()));
      if (options[c] == pick) row->set_chosen(static_cast<int>(c));
    }
  }
  allocation.set_avg_bits(numel > 0 ? static_cast<double>(result.total_bits) / numel : 0);
  return allocation;
}

std::map<std::string, std::vector<double>> ScoresOf(const v1::Allocation& allocation) {
  std::map<std::string, std::vector<double>> scores;
  for (const v1::LayerSensitivity& row : allocation.layers()) {
    scores[row.name()] = {row.scores().begin(), row.scores().end()};
  }
  return scores;
}

}  // namespace sr2::server
