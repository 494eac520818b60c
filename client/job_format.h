// Renders sr2.v1 jobs for people (tables, progress lines, summaries) and for scripts (JSON).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "sr2/v1/job_service.pb.h"

namespace sr2 {

// SUCCEEDED, FAILED or CANCELLED: the job will not change any more.
bool IsTerminal(v1::JobState state);

// One JSON object per job (the `status -o json` contract): id, state, stage, error,
// output_uri, perplexity (null when absent), progress, eta_seconds (null when unknown),
// stages, spec, result and ISO-8601 UTC times (null when unset); then, for a mixed-precision
// job with an allocation, "allocation" (AllocationToJson).
nlohmann::ordered_json JobToJson(const v1::Job& job);

// `status -o table`: a readable multi-line summary.
std::string JobTable(const v1::Job& job);

// `list -o table`: one row per job (ID, STATE, STAGE, PROGRESS, MODEL, AGE), ages against
// `now_unix_ms`.
std::string JobListTable(const std::vector<v1::Job>& jobs, int64_t now_unix_ms);

// One line of live progress: "<id>  RUNNING  quantize 3/8  42%  ETA 1m05s".
std::string ProgressLine(const v1::Job& job);

// Final lines after following a job: state, total time, output, perplexity, error.
std::string JobSummary(const v1::Job& job);

// "45s", "12m05s", "3h07m"; "unknown" for negative (unknown) durations.
std::string FormatDuration(double seconds);

// "2024-05-01T12:00:00Z".
std::string FormatUnixMs(int64_t unix_ms);

}  // namespace sr2
