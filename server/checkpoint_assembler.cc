#include "server/checkpoint_assembler.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/quant/checkpoint_export.h"
#include "common/quant/quantized_layer.h"
#include "common/quant/scheme.h"
#include "common/store/store_factory.h"
#include "common/store/work_keys.h"
#include "common/tensor/checkpoint.h"
#include "common/util/sha256.h"
#include "common/util/status_macros.h"

namespace sr2::server {
namespace {

std::string StagingName(const std::string& leaf, const std::string& job_id) {
  return absl::StrCat(".", leaf, ".sr2-staging-", job_id);
}

ExportFormat FormatOf(const v1::JobSpec& spec) {
  switch (spec.format()) {
    case v1::FORMAT_AUTO_ROUND:
      return ExportFormat::kAutoRound;
    case v1::FORMAT_AUTO_GPTQ:
      return ExportFormat::kAutoGptq;
    default:
      return ExportFormat::kFake;
  }
}

Scheme SchemeOf(const v1::QuantScheme& s) { return Scheme{s.bits(), s.group_size(), s.sym()}; }

// auto-round's quantization_config records tuning settings that differ from its defaults.
std::map<std::string, std::string> TuningKeys(const v1::JobSpec& spec) {
  std::map<std::string, std::string> keys;
  keys["iters"] = absl::StrCat(spec.iters());
  if (spec.nsamples() != 128) keys["nsamples"] = absl::StrCat(spec.nsamples());
  if (spec.seqlen() != 2048) keys["seqlen"] = absl::StrCat(spec.seqlen());
  if (spec.batch_size() != 8) keys["batch_size"] = absl::StrCat(spec.batch_size());
  if (spec.input_mode() == v1::INPUT_MODE_FP) keys["enable_quanted_input"] = "false";
  return keys;
}

}  // namespace

std::string StagingUri(const std::string& out_uri, const std::string& job_id) {
  absl::StatusOr<UriLeaf> leaf = SplitUriLeaf(out_uri);
  if (!leaf.ok()) return out_uri + ".sr2-staging";
  return JoinUri(leaf->parent, StagingName(leaf->name, job_id));
}

absl::StatusOr<AssembleResult> AssembleCheckpoint(const v1::JobSpec& spec,
                                                  const std::string& job_id,
                                                  const std::string& work_uri,
                                                  const std::vector<v1::LayerResult>& quantized) {
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr model, OpenStore(spec.model_uri()));
  SR2_ASSIGN_OR_RETURN(BlobPtr config_blob, model->Read("config.json"));
  SR2_ASSIGN_OR_RETURN(LlamaConfig config, LlamaConfig::FromJson(config_blob->view()));
  SR2_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> checkpoint,
                       CheckpointReader::Open(model));
  SR2_ASSIGN_OR_RETURN(ModelLayout layout, ModelLayout::Inspect(config, *checkpoint));

  // Each block's result file holds its layers; group the wanted layers by block.
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr work, OpenStore(work_uri));
  std::map<std::string, QuantizedLayer> layers;
  std::map<std::string, int> block_of;
  for (const auto& block : layout.blocks) {
    for (const LinearLayer& l : block) block_of[l.name] = l.block;
  }
  std::map<int, std::vector<const v1::LayerResult*>> by_block;
  for (const v1::LayerResult& r : quantized) {
    auto it = block_of.find(r.name());
    if (it == block_of.end()) {
      return absl::InternalError(absl::StrCat("a task reported unknown layer ", r.name()));
    }
    by_block[it->second].push_back(&r);
  }
  int64_t bits = 0, params = 0;
  for (const auto& [block, results] : by_block) {
    const std::string key = BlockResultKey(block);
    SR2_ASSIGN_OR_RETURN(BlobPtr blob, work->Read(key));
    SR2_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Parse(blob, work->uri() + "/" + key));
    for (const v1::LayerResult* r : results) {
      SR2_ASSIGN_OR_RETURN(QuantizedLayer layer,
                           ReadLayerTensors(file, r->name(), SchemeOf(r->scheme())));
      bits += LayerBits(layer.scheme, layer.out_features, layer.in_features, false);
      params += layer.out_features * layer.in_features;
      layers.emplace(r->name(), std::move(layer));
    }
  }

  ExportSource source;
  source.model_store = model;
  source.checkpoint = checkpoint.get();
  source.layout = &layout;
  source.config_json = std::string(config_blob->view());
  source.layers = &layers;
  ExportSpec export_spec;
  export_spec.format = FormatOf(spec);
  export_spec.scheme = SchemeOf(spec.scheme());
  export_spec.tuning = TuningKeys(spec);

  SR2_ASSIGN_OR_RETURN(UriLeaf out_leaf, SplitUriLeaf(spec.out_uri()));
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr out_parent, OpenStore(out_leaf.parent));
  const std::string staging = StagingName(out_leaf.name, job_id);
  // A previous attempt of this stage may have left a partial staging folder.
  SR2_RETURN_IF_ERROR(out_parent->DeletePrefix(staging));
  AssembleResult result;
  SR2_ASSIGN_OR_RETURN(result.export_result,
                       ExportCheckpoint(source, export_spec, *out_parent, staging));
  result.staging_uri = JoinUri(out_leaf.parent, staging);
  result.avg_bits = params > 0 ? static_cast<double>(bits) / params : 0;
  return result;
}

absl::Status PublishCheckpoint(const std::string& out_uri, const std::string& job_id,
                               const std::string& manifest_sha256) {
  SR2_ASSIGN_OR_RETURN(UriLeaf leaf, SplitUriLeaf(out_uri));
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr parent, OpenStore(leaf.parent));
  const absl::Status moved = parent->Publish(StagingName(leaf.name, job_id), leaf.name);
  if (moved.ok() || manifest_sha256.empty()) return moved;
  absl::StatusOr<BlobPtr> manifest = parent->Read(JoinKey(leaf.name, kManifestName));
  if (manifest.ok() && Sha256Hex((*manifest)->view()) == manifest_sha256) return absl::OkStatus();
  return moved;
}

absl::Status DiscardStaging(const std::string& out_uri, const std::string& job_id) {
  SR2_ASSIGN_OR_RETURN(UriLeaf leaf, SplitUriLeaf(out_uri));
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr parent, OpenStore(leaf.parent));
  return parent->DeletePrefix(StagingName(leaf.name, job_id));
}

}  // namespace sr2::server
