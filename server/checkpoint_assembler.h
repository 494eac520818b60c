// The assemble stage: gathers every block's quantized layers from the work store and writes
// the output checkpoint to a staging location next to --out. Publishing (the atomic move into
// place) is a separate step so the staged output can be evaluated first.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/model_layout.h"
#include "common/quant/checkpoint_export.h"
#include "sr2/v1/common.pb.h"

namespace sr2::server {

struct AssembleResult {
  std::string staging_uri;  // Where the complete checkpoint was written.
  ExportResult export_result;
  double avg_bits = 0;      // Over quantized layers, §3.2 accounting.
};

// Where a job's output is staged before it is published: a sibling of out_uri.
std::string StagingUri(const std::string& out_uri, const std::string& job_id);

// `quantized` lists the layers the block tasks reported; their tensors are read from
// BlockResultKey(block) under `work_uri`.
absl::StatusOr<AssembleResult> AssembleCheckpoint(const v1::JobSpec& spec,
                                                  const std::string& job_id,
                                                  const std::string& work_uri,
                                                  const std::vector<v1::LayerResult>& quantized);

// Moves the staged checkpoint to out_uri (atomic for local stores). When the staging folder is
// gone but out_uri already holds the manifest with `manifest_sha256`, an earlier attempt (e.g.
// before a coordinator restart) published it, and that counts as success.
absl::Status PublishCheckpoint(const std::string& out_uri, const std::string& job_id,
                               const std::string& manifest_sha256);

// Removes a staged checkpoint (job failed or cancelled). Missing staging is not an error.
absl::Status DiscardStaging(const std::string& out_uri, const std::string& job_id);

}  // namespace sr2::server
