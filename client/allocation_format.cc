#include "client/allocation_format.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/spec_names.h"
#include "client/text_columns.h"

namespace sr2 {
namespace {

using json = nlohmann::ordered_json;

// Score columns: as many as the spec has candidates or any layer has scores.
int ColumnCount(const v1::Allocation& allocation, const CandidateList& candidates) {
  int columns = candidates.size();
  for (const v1::LayerSensitivity& layer : allocation.layers()) {
    columns = std::max(columns, layer.scores_size());
  }
  return columns;
}

std::string CandidateName(const CandidateList& candidates, int index) {
  if (index < candidates.size()) {
    std::string name = QuantSchemeName(candidates.Get(index));
    if (!name.empty()) return name;
  }
  return absl::StrCat("#", index);
}

bool ChosenInRange(const v1::LayerSensitivity& layer) {
  return layer.chosen() >= 0 && layer.chosen() < layer.scores_size();
}

int64_t TotalParams(const v1::Allocation& allocation) {
  int64_t params = 0;
  for (const v1::LayerSensitivity& layer : allocation.layers()) params += layer.numel();
  return params;
}

std::string Score(double score) { return absl::StrFormat("%.3e", score); }

}  // namespace

std::string AllocationTable(const v1::Allocation& allocation, const CandidateList& candidates,
                            int indent) {
  const int columns = ColumnCount(allocation, candidates);
  std::vector<std::string> header = {"LAYER", "NUMEL"};
  for (int c = 0; c < columns; ++c) header.push_back(CandidateName(candidates, c));
  header.push_back("CHOSEN");
  header.push_back("BITS");
  std::vector<std::vector<std::string>> rows = {std::move(header)};
  for (const v1::LayerSensitivity& layer : allocation.layers()) {
    std::vector<std::string> row = {layer.name(), absl::StrCat(layer.numel())};
    for (int c = 0; c < columns; ++c) {
      if (c >= layer.scores_size()) {
        row.push_back("-");
        continue;
      }
      row.push_back(absl::StrCat(Score(layer.scores(c)), c == layer.chosen() ? "*" : ""));
    }
    if (ChosenInRange(layer)) {
      row.push_back(CandidateName(candidates, layer.chosen()));
      row.push_back(layer.chosen() < layer.bits_size() ? absl::StrCat(layer.bits(layer.chosen()))
                                                       : "-");
    } else {
      row.push_back(absl::StrCat("invalid #", layer.chosen()));
      row.push_back("-");
    }
    rows.push_back(std::move(row));
  }
  std::string out = RenderColumns(rows, indent);

  const int64_t params = TotalParams(allocation);
  std::string budget = absl::StrCat(allocation.budget_bits(), " bits");
  if (params > 0) {
    absl::StrAppend(&budget, absl::StrFormat(" (avg %.4f over %d weights)",
                                             static_cast<double>(allocation.budget_bits()) /
                                                 static_cast<double>(params),
                                             params));
  }
  std::vector<std::vector<std::string>> footer = {
      {"(* = chosen)"},
      {"Budget:", budget},
      {"Allocated:",
       absl::StrFormat("%d bits (avg %.4f)", allocation.allocated_bits(), allocation.avg_bits())},
      {"Predicted score:", Score(allocation.predicted_score())}};
  absl::StrAppend(&out, RenderColumns(footer, indent));
  return out;
}

json AllocationToJson(const v1::Allocation& allocation, const CandidateList& candidates) {
  json names = json::array();
  for (int c = 0; c < ColumnCount(allocation, candidates); ++c) {
    names.push_back(CandidateName(candidates, c));
  }
  json layers = json::array();
  for (const v1::LayerSensitivity& layer : allocation.layers()) {
    layers.push_back(
        {{"name", layer.name()},
         {"numel", layer.numel()},
         {"scores", std::vector<double>(layer.scores().begin(), layer.scores().end())},
         {"bits", std::vector<int64_t>(layer.bits().begin(), layer.bits().end())},
         {"chosen", layer.chosen()},
         {"chosen_scheme",
          ChosenInRange(layer) ? json(CandidateName(candidates, layer.chosen())) : json(nullptr)}});
  }
  return {{"candidates", std::move(names)},
          {"budget_bits", allocation.budget_bits()},
          {"allocated_bits", allocation.allocated_bits()},
          {"avg_bits", allocation.avg_bits()},
          {"predicted_score", allocation.predicted_score()},
          {"layers", std::move(layers)}};
}

std::string ReplanTable(const std::string& job_id, double target_avg_bits,
                        const v1::Allocation& allocation, const CandidateList& candidates) {
  return absl::StrCat(
      absl::StrFormat("Job %s replanned for avg bits %g:\n", job_id, target_avg_bits),
      AllocationTable(allocation, candidates));
}

json ReplanJson(const std::string& job_id, double target_avg_bits, const v1::Allocation& allocation,
                const CandidateList& candidates) {
  return {{"job_id", job_id},
          {"target_avg_bits", target_avg_bits},
          {"allocation", AllocationToJson(allocation, candidates)}};
}

}  // namespace sr2
