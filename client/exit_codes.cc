#include "client/exit_codes.h"

namespace sr2 {

int ExitCodeForStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitUsage;
    case absl::StatusCode::kUnavailable:
      return kExitUnreachable;
    default:
      return kExitFailed;
  }
}

int ExitCodeForJobState(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED ? kExitOk : kExitFailed;
}

}  // namespace sr2
