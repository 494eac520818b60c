#include "client/progress_printer.h"

#include "client/job_format.h"

namespace sr2 {

void ProgressPrinter::Update(const v1::Job& job) {
  std::string line = ProgressLine(job);
  if (tty_) {
    if (line == last_line_) return;
    // \033[K clears what a longer previous line left behind.
    out_ << '\r' << line << "\033[K" << std::flush;
    line_open_ = true;
    last_line_ = std::move(line);
    return;
  }
  int done = 0;
  for (const v1::StageProgress& s : job.stages()) {
    if (s.stage() == job.stage()) done = s.done();
  }
  auto step = std::make_tuple(job.state(), job.stage(), done);
  if (last_step_ == step) return;
  last_step_ = step;
  out_ << line << '\n' << std::flush;
}

void ProgressPrinter::Finish() {
  if (!line_open_) return;
  out_ << '\n' << std::flush;
  line_open_ = false;
}

}  // namespace sr2
