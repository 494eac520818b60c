// sr2ctl's exit codes, a contract with scripts (documented in `sr2ctl help`).
#pragma once

#include "absl/status/status.h"
#include "sr2/v1/common.pb.h"

namespace sr2 {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;       // The job failed or was cancelled, or no such job.
inline constexpr int kExitUsage = 2;        // Bad command line, or a request rejected as invalid.
inline constexpr int kExitUnreachable = 3;  // The coordinator could not be reached.

// For a command that ended with `status` (OK included).
int ExitCodeForStatus(const absl::Status& status);

// For a followed job that reached `state`: 0 only for SUCCEEDED.
int ExitCodeForJobState(v1::JobState state);

}  // namespace sr2
