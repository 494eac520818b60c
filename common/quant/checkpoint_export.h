// Writes a quantized checkpoint folder in one of the output formats (algorithm.md §4):
// safetensors (+ index), config.json with quantization_config, quantization_config.json,
// copied tokenizer files, and `sr2_manifest.json` (sha256 of every file) written last.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/model_layout.h"
#include "common/quant/quantized_layer.h"
#include "common/store/object_store.h"
#include "common/tensor/checkpoint.h"

namespace sr2 {

enum class ExportFormat { kFake, kAutoRound, kAutoGptq };

absl::StatusOr<ExportFormat> ParseExportFormat(std::string_view name);
std::string_view ExportFormatName(ExportFormat f);

// Name of the manifest, the last file written into an output folder.
inline constexpr std::string_view kManifestName = "sr2_manifest.json";

struct ExportSpec {
  ExportFormat format = ExportFormat::kFake;
  Scheme scheme;  // The global scheme; layers with other schemes go to extra_config/dynamic.
  // Tuning settings written into quantization_config when they differ from auto-round's
  // defaults (§4.6), e.g. {"iters", "0"}, {"nsamples", "128"}. Values are JSON literals.
  std::map<std::string, std::string> tuning;
  CheckpointWriteOptions write_options;
};

struct ExportSource {
  ObjectStorePtr model_store;   // The input model folder.
  const CheckpointReader* checkpoint = nullptr;
  const ModelLayout* layout = nullptr;
  std::string config_json;      // The input config.json text.
  // Quantized layers by layer name. Block Linears not in the map stay as they are and are
  // recorded as 16-bit in extra_config / as "-:" in dynamic.
  const std::map<std::string, QuantizedLayer>* layers = nullptr;
};

struct ExportResult {
  std::vector<WrittenFile> files;  // Relative to the output prefix; manifest excluded.
  std::string manifest_sha256;
};

// Files copied from the model folder when present (tokenizer and generation settings).
const std::vector<std::string>& CopiedModelFiles();

// Writes the checkpoint under `out_prefix` of `out`. The manifest goes last, so a folder
// without it is incomplete. FailedPrecondition when the format cannot hold a layer in the map.
absl::StatusOr<ExportResult> ExportCheckpoint(const ExportSource& source, const ExportSpec& spec,
                                              ObjectStore& out, std::string_view out_prefix);

}  // namespace sr2
