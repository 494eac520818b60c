#include "client/describe_format.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/allocation_format.h"
#include "client/job_format.h"
#include "client/spec_names.h"
#include "client/text_columns.h"

namespace sr2 {
namespace {

std::string OrDash(std::string value) { return value.empty() ? "-" : value; }

std::string YesNo(bool value) { return value ? "yes" : "no"; }

std::string SchemeWithSym(const v1::QuantScheme& scheme) {
  std::string name = QuantSchemeName(scheme);
  if (name.empty()) return "-";
  return absl::StrCat(name, scheme.sym() ? " sym" : " asym");
}

// lr 0 means 1/iters (job_service.proto); the best preset doubles it for <=3-bit layers.
std::string LearningRate(const v1::JobSpec& spec) {
  if (spec.lr() > 0) return absl::StrFormat("%g", spec.lr());
  if (spec.preset() == "best") return "1/iters (2/iters for <=3-bit layers)";
  return "1/iters";
}

// One row per JobSpec field, keyed as in the JSON spec.
std::string ConfigSection(const v1::JobSpec& spec) {
  std::vector<std::string> candidates;
  for (const v1::QuantScheme& c : spec.candidates()) candidates.push_back(SchemeWithSym(c));
  std::vector<std::vector<std::string>> rows = {
      {"model_uri", OrDash(spec.model_uri())},
      {"out_uri", OrDash(spec.out_uri())},
      {"calib_uri", OrDash(spec.calib_uri())},
      {"eval_uri", OrDash(spec.eval_uri())},
      {"scheme", SchemeWithSym(spec.scheme())},
      {"algorithm", OrDash(AlgorithmName(spec.algorithm()))},
      {"format", OrDash(OutputFormatName(spec.format()))},
      {"input_mode", OrDash(InputModeName(spec.input_mode()))},
      {"preset", OrDash(spec.preset())},
      {"nsamples", absl::StrCat(spec.nsamples())},
      {"seqlen", absl::StrCat(spec.seqlen())},
      {"iters", spec.has_iters() ? absl::StrCat(spec.iters()) : "-"},
      {"batch_size", absl::StrCat(spec.batch_size())},
      {"lr", LearningRate(spec)},
      {"eval_seqlen", absl::StrCat(spec.eval_seqlen())},
      {"seed", absl::StrCat(spec.seed())},
      {"avg_bits", spec.avg_bits() > 0 ? absl::StrFormat("%g", spec.avg_bits())
                                       : "off (one scheme for all layers)"},
      {"candidates", OrDash(absl::StrJoin(candidates, ", "))},
      {"ignore_scale_zp_bits", YesNo(spec.ignore_scale_zp_bits())},
      {"share_fused_layers", YesNo(spec.share_fused_layers())},
      {"profile_nsamples", absl::StrCat(spec.profile_nsamples())},
      {"profile_seqlen", absl::StrCat(spec.profile_seqlen())},
      {"profile_batch_size", absl::StrCat(spec.profile_batch_size())},
      {"profile_task_blocks", absl::StrCat(spec.profile_blocks_per_task())}};
  return absl::StrCat("Config:\n", RenderColumns(rows, 2));
}

std::string LayersSection(const v1::JobResult& result) {
  std::vector<std::vector<std::string>> rows = {{"LAYER", "SCHEME", "NUMEL", "LOSS"}};
  for (const v1::LayerResult& layer : result.layers()) {
    std::string scheme =
        layer.quantized()
            ? SchemeWithSym(layer.scheme())
            : absl::StrCat("16-bit (", layer.reason().empty() ? "not quantized" : layer.reason(),
                           ")");
    rows.push_back({layer.name(), std::move(scheme), absl::StrCat(layer.numel()),
                    layer.quantized() ? absl::StrFormat("%.3e", layer.loss()) : "-"});
  }
  return absl::StrCat("Layers:\n", RenderColumns(rows, 2));
}

}  // namespace

std::string DescribeTable(const v1::Job& job) {
  std::string out = absl::StrCat(JobTable(job), "\n", ConfigSection(job.spec()));
  const v1::JobResult& result = job.result();
  if (result.layers_size() > 0) absl::StrAppend(&out, "\n", LayersSection(result));
  if (result.has_allocation()) {
    absl::StrAppend(&out, "\nAllocation (DeltaLoss score per candidate):\n",
                    AllocationTable(result.allocation(), job.spec().candidates(), 2));
  }
  return out;
}

nlohmann::ordered_json DescribeJson(const v1::Job& job) {
  nlohmann::ordered_json out = JobToJson(job);
  if (!out.contains("allocation")) out["allocation"] = nullptr;
  return out;
}

}  // namespace sr2
