// `sr2ctl logs`: a job's log entries, one at a time so that --follow can stream them.
#pragma once

#include <string>

#include "client/cli_args.h"
#include "nlohmann/json.hpp"
#include "sr2/v1/job_service.pb.h"

namespace sr2 {

// seq, time (ISO-8601 UTC), kind ("task_granted", ...), stage, task_id, worker_id, attempt,
// duration_seconds, will_retry, message; every key always present.
nlohmann::ordered_json LogEntryToJson(const v1::JobLogEntry& entry);

// table: "2024-05-01T12:00:03Z  task block-00003 granted to worker w-1 (attempt 1)";
// json: one compact object per line (JSON Lines); yaml: one item of a top-level sequence.
std::string RenderLogEntry(const v1::JobLogEntry& entry, OutputStyle style);

}  // namespace sr2
