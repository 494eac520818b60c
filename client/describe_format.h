// `sr2ctl describe`: everything known about one job, for people and for scripts.
#pragma once

#include <string>

#include "nlohmann/json.hpp"
#include "sr2/v1/job_service.pb.h"

namespace sr2 {

// JobTable (state, times, per-stage timings), then "Config:" (every JobSpec field, preset and
// mixed-precision ones included), "Layers:" (scheme or "16-bit (reason)" and loss per layer)
// and, for a job with an allocation, "Allocation:" (AllocationTable).
std::string DescribeTable(const v1::Job& job);

// JobToJson with "allocation" always present: null when the job has none.
nlohmann::ordered_json DescribeJson(const v1::Job& job);

}  // namespace sr2
