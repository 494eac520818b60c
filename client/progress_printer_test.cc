#include "client/progress_printer.h"

#include <sstream>

#include "gtest/gtest.h"

namespace sr2 {
namespace {

v1::Job Running(int done, double eta) {
  v1::Job job;
  job.set_id("j");
  job.set_state(v1::JOB_STATE_RUNNING);
  job.set_stage(v1::STAGE_QUANTIZE);
  job.set_progress(done / 4.0);
  job.set_eta_seconds(eta);
  v1::StageProgress* s = job.add_stages();
  s->set_stage(v1::STAGE_QUANTIZE);
  s->set_done(done);
  s->set_total(4);
  return job;
}

TEST(ProgressPrinterTest, PlainLinesOnlyWhenTheStepChanges) {
  std::ostringstream out;
  ProgressPrinter printer(out, /*tty=*/false);
  printer.Update(Running(1, 30));
  printer.Update(Running(1, 20));  // Only the ETA moved: no new line.
  printer.Update(Running(2, 10));
  printer.Finish();
  EXPECT_EQ(out.str(),
            "j  RUNNING  quantize 1/4  25%  ETA 30s\n"
            "j  RUNNING  quantize 2/4  50%  ETA 10s\n");
}

TEST(ProgressPrinterTest, TerminalLineIsRewrittenInPlace) {
  std::ostringstream out;
  ProgressPrinter printer(out, /*tty=*/true);
  printer.Update(Running(1, 30));
  printer.Update(Running(1, 30));  // Same text: nothing written.
  printer.Update(Running(1, 20));
  printer.Finish();
  printer.Finish();  // A second Finish adds nothing.
  EXPECT_EQ(out.str(),
            "\rj  RUNNING  quantize 1/4  25%  ETA 30s\033[K"
            "\rj  RUNNING  quantize 1/4  25%  ETA 20s\033[K\n");
}

}  // namespace
}  // namespace sr2
