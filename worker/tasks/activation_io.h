// Activations and gradients between tasks: one F32 tensor "x" [n, seq, hidden] per object in
// the job's work store (work_keys.h names them). Written whole, so a retried task rewrites the
// same key with the same bytes.
#pragma once

#include <string>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/store/object_store.h"

namespace sr2::worker {

absl::Status SaveActivation(ObjectStore& store, const std::string& key, const torch::Tensor& x);

// DataLoss when the object holds no F32 [n, seq, hidden] "x".
absl::StatusOr<torch::Tensor> LoadActivation(ObjectStore& store, const std::string& key,
                                             torch::Device device);

}  // namespace sr2::worker
