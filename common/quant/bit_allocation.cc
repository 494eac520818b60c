#include "common/quant/bit_allocation.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/util/status_macros.h"

namespace sr2 {
namespace {

constexpr double kSnapTolerance = 1e-3;

std::string ItemName(const std::vector<AllocationItem>& items, size_t i) {
  return items[i].layers.empty() ? absl::StrCat("allocation item ", i)
                                 : absl::StrCat("allocation item ", i, " (", items[i].layers[0],
                                                items[i].layers.size() > 1 ? ", ..." : "", ")");
}

absl::Status ValidateItem(const std::vector<AllocationItem>& items, size_t i) {
  const AllocationItem& item = items[i];
  if (item.bits.empty() || item.bits.size() != item.scores.size()) {
    return absl::InvalidArgumentError(absl::StrCat(ItemName(items, i), " has ", item.bits.size(),
                                                   " bit costs and ", item.scores.size(),
                                                   " scores; need the same positive number"));
  }
  for (size_t o = 0; o < item.bits.size(); ++o) {
    if (item.bits[o] < 0 || !std::isfinite(item.scores[o])) {
      return absl::InvalidArgumentError(absl::StrCat(ItemName(items, i), " option ", o,
                                                     ": bits ", item.bits[o], ", score ",
                                                     item.scores[o],
                                                     " (bits must be >= 0, scores finite)"));
    }
  }
  return absl::OkStatus();
}

// A DP state: the best way found to spend `bits` on the items so far. `prev` indexes the
// previous item's front and `option` is this item's choice.
struct State {
  int64_t bits;
  double score;
  int prev;
  int option;
};

}  // namespace

absl::StatusOr<AllocationResult> AllocateBits(const std::vector<AllocationItem>& items,
                                              int64_t budget_bits) {
  if (budget_bits < 0) {
    return absl::InvalidArgumentError(absl::StrCat("bit budget ", budget_bits, " is negative"));
  }
  // Infeasibility is reported up front with the numbers (no overflow: each term is checked
  // against the budget before it is added).
  int64_t cheapest = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    SR2_RETURN_IF_ERROR(ValidateItem(items, i));
    const int64_t min_bits = *std::min_element(items[i].bits.begin(), items[i].bits.end());
    if (min_bits > budget_bits - cheapest) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bit budget ", budget_bits, " is infeasible: the cheapest options of the first ", i + 1,
          " items alone need more (", ItemName(items, i), " needs at least ", min_bits, ")"));
    }
    cheapest += min_bits;
  }

  // fronts[i] = Pareto front after item i, sorted by bits with strictly falling scores.
  std::vector<std::vector<State>> fronts;
  fronts.reserve(items.size());
  std::vector<State> front = {{0, 0.0, -1, -1}};
  std::vector<State> next;
  for (const AllocationItem& item : items) {
    next.clear();
    for (size_t s = 0; s < front.size(); ++s) {
      for (size_t o = 0; o < item.bits.size(); ++o) {
        if (item.bits[o] > budget_bits - front[s].bits) continue;  // Over budget: dropped.
        next.push_back({front[s].bits + item.bits[o], front[s].score + item.scores[o],
                        static_cast<int>(s), static_cast<int>(o)});
      }
    }
    // Equal bits keep the lower score; a state survives only if it beats every cheaper one
    // (a dominated state's extensions are all matched by its dominator's).
    std::sort(next.begin(), next.end(), [](const State& a, const State& b) {
      return a.bits != b.bits ? a.bits < b.bits : a.score < b.score;
    });
    fronts.push_back(std::move(front));
    front.clear();
    for (const State& st : next) {
      if (front.empty() || st.score < front.back().score) front.push_back(st);
    }
  }

  // Scores fall along the front, so its last state has the minimum total score.
  AllocationResult result;
  result.total_bits = front.back().bits;
  result.total_score = front.back().score;
  result.choice.resize(items.size());
  int s = static_cast<int>(front.size()) - 1;
  for (size_t i = items.size(); i-- > 0;) {
    const State& st = i + 1 == items.size() ? front[s] : fronts[i + 1][s];
    result.choice[i] = st.option;
    s = st.prev;
  }
  return result;
}

absl::StatusOr<int64_t> BitBudget(const std::vector<AllocationItem>& items, double avg_bits) {
  if (items.empty()) return absl::InvalidArgumentError("bit budget: no layers to allocate");
  const size_t options = items[0].bits.size();
  int64_t total_numel = 0;
  std::vector<int64_t> option_bits(options, 0);
  for (size_t i = 0; i < items.size(); ++i) {
    SR2_RETURN_IF_ERROR(ValidateItem(items, i));
    if (items[i].bits.size() != options || items[i].numel <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          ItemName(items, i), " has ", items[i].bits.size(), " options and ", items[i].numel,
          " weights; every item needs ", options, " options and a positive weight count"));
    }
    total_numel += items[i].numel;
    for (size_t o = 0; o < options; ++o) option_bits[o] += items[i].bits[o];
  }
  const auto [lo, hi] = std::minmax_element(option_bits.begin(), option_bits.end());
  const double lo_avg = static_cast<double>(*lo) / static_cast<double>(total_numel);
  const double hi_avg = static_cast<double>(*hi) / static_cast<double>(total_numel);
  // Snapping to the exact option totals keeps the extreme targets feasible despite rounding.
  if (std::abs(avg_bits - lo_avg) <= kSnapTolerance) return *lo;
  if (std::abs(avg_bits - hi_avg) <= kSnapTolerance) return *hi;
  if (!(avg_bits >= lo_avg && avg_bits <= hi_avg)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "average bits %g is outside the range the options allow, [%.6f, %.6f]", avg_bits, lo_avg,
        hi_avg));
  }
  return static_cast<int64_t>(
      std::floor(static_cast<long double>(total_numel) * static_cast<long double>(avg_bits)));
}

absl::StatusOr<std::vector<AllocationItem>> MakeAllocationItems(
    const std::vector<LinearLayer>& layers, const std::vector<Scheme>& options,
    const std::map<std::string, std::vector<double>>& scores, bool share_fused_layers,
    bool ignore_scale_zp_bits) {
  if (options.empty()) return absl::InvalidArgumentError("bit allocation: no candidate schemes");
  for (const Scheme& s : options) SR2_RETURN_IF_ERROR(ValidateScheme(s));
  std::vector<AllocationItem> items;
  // (block, fused group) -> index in `items`.
  std::map<std::pair<int, std::string>, size_t> groups;
  for (const LinearLayer& layer : layers) {
    auto it = scores.find(layer.name);
    if (it == scores.end() || it->second.size() != options.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "layer ", layer.name, " has ",
          it == scores.end() ? size_t{0} : it->second.size(), " DeltaLoss scores, expected ",
          options.size(), " (one per candidate scheme)"));
    }
    std::string group;
    if (share_fused_layers) {
      if (layer.short_name == "self_attn.q_proj" || layer.short_name == "self_attn.k_proj" ||
          layer.short_name == "self_attn.v_proj") {
        group = "qkv";
      } else if (layer.short_name == "mlp.gate_proj" || layer.short_name == "mlp.up_proj") {
        group = "gate_up";
      }
    }
    size_t index = items.size();
    if (!group.empty()) {
      index = groups.emplace(std::make_pair(layer.block, group), items.size()).first->second;
    }
    if (index == items.size()) {
      items.push_back({{}, 0, std::vector<int64_t>(options.size(), 0),
                       std::vector<double>(options.size(), 0.0)});
    }
    AllocationItem& item = items[index];
    item.layers.push_back(layer.name);
    item.numel += layer.numel();
    for (size_t o = 0; o < options.size(); ++o) {
      item.bits[o] +=
          LayerBits(options[o], layer.out_features, layer.in_features, ignore_scale_zp_bits);
      item.scores[o] += it->second[o];
    }
  }
  return items;
}

absl::StatusOr<std::map<std::string, Scheme>> LayerSchemes(const std::vector<AllocationItem>& items,
                                                           const AllocationResult& result,
                                                           const std::vector<Scheme>& options) {
  if (result.choice.size() != items.size()) {
    return absl::InvalidArgumentError(absl::StrCat("allocation has ", result.choice.size(),
                                                   " choices for ", items.size(), " items"));
  }
  std::map<std::string, Scheme> schemes;
  for (size_t i = 0; i < items.size(); ++i) {
    const int o = result.choice[i];
    if (o < 0 || static_cast<size_t>(o) >= options.size()) {
      return absl::InvalidArgumentError(absl::StrCat(ItemName(items, i), " chose option ", o,
                                                     " of ", options.size()));
    }
    for (const std::string& layer : items[i].layers) schemes[layer] = options[o];
  }
  return schemes;
}

}  // namespace sr2
