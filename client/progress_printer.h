// Live progress of a followed job on stderr: one line rewritten in place on a terminal,
// plain lines (only when the state, stage or done count changes) otherwise.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <tuple>

#include "sr2/v1/job_service.pb.h"

namespace sr2 {

class ProgressPrinter {
 public:
  ProgressPrinter(std::ostream& out, bool tty) : out_(out), tty_(tty) {}

  void Update(const v1::Job& job);
  // Ends the line being rewritten, so that what follows starts on a fresh line.
  void Finish();

 private:
  std::ostream& out_;
  const bool tty_;
  bool line_open_ = false;
  std::string last_line_;
  std::optional<std::tuple<v1::JobState, v1::Stage, int>> last_step_;
};

}  // namespace sr2
