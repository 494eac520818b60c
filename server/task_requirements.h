// Estimated peak memory of each kind of task of a job, from the model's shape and the job's
// sizes, so that the scheduler never hands a task to a worker that cannot hold it
// (docs/scheduling.md). Estimates are deliberately generous: an over-estimate only narrows
// the choice of workers, an under-estimate crashes one.
#pragma once

#include <map>

#include "common/model/model_layout.h"
#include "sr2/v1/common.pb.h"
#include "sr2/v1/worker_service.pb.h"

namespace sr2::server {

// Requirements by task kind (v1::TaskKind) for `spec` on a model of `layout`.
std::map<int, v1::TaskRequirements> EstimateTaskRequirements(const ModelLayout& layout,
                                                             const v1::JobSpec& spec);

}  // namespace sr2::server
