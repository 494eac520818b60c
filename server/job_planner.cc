#include "server/job_planner.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/quant/gptq_packing.h"
#include "common/store/store_factory.h"
#include "common/tensor/checkpoint.h"
#include "common/util/status_macros.h"
#include "server/job_spec_defaults.h"

namespace sr2::server {
namespace {

// Token files are raw int32: the size must be a whole number of tokens and hold `needed`.
absl::StatusOr<int64_t> CheckTokenFile(const std::string& uri, int64_t needed,
                                       const std::string& what) {
  SR2_ASSIGN_OR_RETURN(UriLeaf leaf, SplitUriLeaf(uri));
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr store, OpenStore(leaf.parent));
  absl::StatusOr<uint64_t> size = store->Size(leaf.name);
  if (!size.ok()) return Annotate(size.status(), absl::StrCat(what, " token file ", uri));
  if (*size == 0 || *size % 4 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " token file ", uri, " has ", *size,
        " bytes; expected a non-empty multiple of 4 (raw little-endian int32 tokens)"));
  }
  const int64_t tokens = static_cast<int64_t>(*size / 4);
  if (tokens < needed) {
    return absl::InvalidArgumentError(absl::StrCat(what, " token file ", uri, " holds ", tokens,
                                                   " tokens; the job needs ", needed));
  }
  return tokens;
}

absl::Status CheckOutputFree(const std::string& out_uri) {
  SR2_ASSIGN_OR_RETURN(UriLeaf leaf, SplitUriLeaf(out_uri));
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr store, OpenStore(leaf.parent));
  absl::StatusOr<std::vector<std::string>> existing = store->List(leaf.name + "/");
  if (!existing.ok()) return Annotate(existing.status(), absl::StrCat("output ", out_uri));
  absl::StatusOr<uint64_t> as_file = store->Size(leaf.name);
  if (!existing->empty() || as_file.ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("output ", out_uri, " already exists; choose a new --out location"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<JobPlan> PlanJob(v1::JobSpec* spec_ptr) {
  v1::JobSpec& spec = *spec_ptr;
  JobPlan plan;
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr model, OpenStore(spec.model_uri()));
  absl::StatusOr<BlobPtr> config_blob = model->Read("config.json");
  if (!config_blob.ok()) {
    return Annotate(config_blob.status(), absl::StrCat("model ", spec.model_uri()));
  }
  absl::StatusOr<LlamaConfig> config = LlamaConfig::FromJson((*config_blob)->view());
  if (!config.ok()) {
    return Annotate(config.status(), absl::StrCat("model ", spec.model_uri(), " config.json"));
  }
  absl::StatusOr<std::unique_ptr<CheckpointReader>> checkpoint = CheckpointReader::Open(model);
  if (!checkpoint.ok()) {
    return Annotate(checkpoint.status(), absl::StrCat("model ", spec.model_uri()));
  }
  absl::StatusOr<ModelLayout> layout = ModelLayout::Inspect(*config, **checkpoint);
  if (!layout.ok()) return Annotate(layout.status(), absl::StrCat("model ", spec.model_uri()));
  plan.layout = *std::move(layout);
  ResolveSeqlen(&spec, plan.layout.config.max_position_embeddings);

  const int64_t profile_tokens = int64_t{spec.profile_nsamples()} * spec.profile_seqlen();
  SR2_ASSIGN_OR_RETURN(
      plan.calib_tokens,
      CheckTokenFile(spec.calib_uri(),
                     std::max(int64_t{spec.nsamples()} * spec.seqlen(), profile_tokens),
                     "calibration"));
  if (!spec.eval_uri().empty()) {
    SR2_ASSIGN_OR_RETURN(plan.eval_tokens,
                         CheckTokenFile(spec.eval_uri(), spec.eval_seqlen(), "evaluation"));
  }
  SR2_RETURN_IF_ERROR(CheckOutputFree(spec.out_uri()));

  const bool packed = spec.format() != v1::FORMAT_FAKE;
  for (const auto& block : plan.layout.blocks) {
    auto& assigned = plan.blocks.emplace_back();
    for (const LinearLayer& layer : block) {
      if (packed && !GptqCanHold(layer.out_features, layer.in_features)) {
        v1::LayerResult& skip = plan.skipped.emplace_back();
        skip.set_name(layer.name);
        skip.set_quantized(false);
        skip.set_numel(layer.numel());
        skip.set_reason(absl::StrCat("shape [", layer.out_features, ", ", layer.in_features,
                                     "] is not a multiple of 32; kept unquantized"));
        continue;
      }
      plan.quantizable.push_back(layer);
      v1::LayerAssignment& a = assigned.emplace_back();
      a.set_name(layer.name);
      *a.mutable_scheme() = spec.scheme();
    }
  }
  return plan;
}

}  // namespace sr2::server
