// Live progress of a followed job on stderr. On a terminal: the job's line and one progress
// bar per stage (with the running stage's ETA), redrawn in place. Otherwise: plain lines, one
// each time the state, stage or done count changes.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <tuple>

#include "sr2/v1/job_service.pb.h"

namespace sr2 {

// One line per stage the job has entered:
//   "  quantize   [#########...............]  3/8  1m20s  ETA 2m13s"
// The ETA (from the stage's own pace) only on the stage in progress of a running job.
std::string StageProgressBars(const v1::Job& job);

class ProgressPrinter {
 public:
  ProgressPrinter(std::ostream& out, bool tty) : out_(out), tty_(tty) {}

  void Update(const v1::Job& job);
  // Ends the block being redrawn, so that what follows is not overwritten by the next Update.
  void Finish();

 private:
  std::ostream& out_;
  const bool tty_;
  int block_lines_ = 0;  // Lines of the block on screen, to move back over it.
  std::string last_block_;
  std::optional<std::tuple<v1::JobState, v1::Stage, int>> last_step_;
};

}  // namespace sr2
