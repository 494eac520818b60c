// The defaults a submitted JobSpec gets, and the checks it must pass before a job exists.
#pragma once

#include "absl/status/status.h"
#include "sr2/v1/common.pb.h"

namespace sr2::server {

// Fills every unset field (0 / UNSPECIFIED / empty) with sr2's default (the table in
// docs/cli.md). Fields the user set are kept. seqlen stays 0: it depends on the model and is
// resolved by ResolveSeqlen at inspect time.
void FillJobSpecDefaults(v1::JobSpec* spec);

// auto-round calibrates with 2048-token windows; models with a shorter context get their
// context length instead.
void ResolveSeqlen(v1::JobSpec* spec, int max_position_embeddings);

// InvalidArgument naming the field for anything out of range (missing model/out/calib URI,
// bits not in {2,3,4,8}, group < -1 or 0, nsamples/seqlen/iters out of range, ...).
absl::Status ValidateJobSpec(const v1::JobSpec& spec);

}  // namespace sr2::server
