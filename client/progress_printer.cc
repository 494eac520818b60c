#include "client/progress_printer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "client/job_format.h"
#include "client/spec_names.h"
#include "client/text_columns.h"

namespace sr2 {
namespace {

constexpr int kBarWidth = 24;

std::string Bar(int done, int total) {
  const double frac = total > 0 ? std::clamp(static_cast<double>(done) / total, 0.0, 1.0) : 0;
  const int filled = static_cast<int>(std::floor(frac * kBarWidth));
  return absl::StrCat("[", std::string(filled, '#'), std::string(kBarWidth - filled, '.'), "]");
}

}  // namespace

std::string StageProgressBars(const v1::Job& job) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::StageProgress& s : job.stages()) {
    std::vector<std::string> row = {StageName(s.stage()), Bar(s.done(), s.total()),
                                    absl::StrCat(s.done(), "/", s.total()),
                                    FormatDuration(s.elapsed_seconds())};
    const bool in_progress = job.state() == v1::JOB_STATE_RUNNING && s.stage() == job.stage() &&
                             s.done() < s.total();
    if (in_progress && s.done() > 0) {
      row.push_back(absl::StrCat(
          "ETA ", FormatDuration(s.elapsed_seconds() * (s.total() - s.done()) / s.done())));
    }
    rows.push_back(std::move(row));
  }
  return RenderColumns(rows, 2);
}

void ProgressPrinter::Update(const v1::Job& job) {
  if (tty_) {
    std::string block = absl::StrCat(ProgressLine(job), "\n", StageProgressBars(job));
    if (block == last_block_) return;
    // Back to the block's first line ("\033[nF") and clear to the end of the screen.
    if (block_lines_ > 0) out_ << "\033[" << block_lines_ << "F\033[J";
    out_ << block << std::flush;
    block_lines_ = static_cast<int>(std::count(block.begin(), block.end(), '\n'));
    last_block_ = std::move(block);
    return;
  }
  int done = 0;
  for (const v1::StageProgress& s : job.stages()) {
    if (s.stage() == job.stage()) done = s.done();
  }
  auto step = std::make_tuple(job.state(), job.stage(), done);
  if (last_step_ == step) return;
  last_step_ = step;
  out_ << ProgressLine(job) << '\n' << std::flush;
}

void ProgressPrinter::Finish() {
  // The block ends with a newline already; forgetting it keeps it on screen.
  block_lines_ = 0;
  last_block_.clear();
}

}  // namespace sr2
