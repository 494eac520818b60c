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
  v1::StageProgress* calibrate = job.add_stages();
  calibrate->set_stage(v1::STAGE_CALIBRATE);
  calibrate->set_done(1);
  calibrate->set_total(1);
  calibrate->set_elapsed_seconds(3);
  v1::StageProgress* s = job.add_stages();
  s->set_stage(v1::STAGE_QUANTIZE);
  s->set_done(done);
  s->set_total(4);
  s->set_elapsed_seconds(10.0 * done);
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

TEST(ProgressPrinterTest, StageBarsWithTheRunningStagesEta) {
  // quantize: 1 of 4 blocks in 10 s, so 30 s to go at that pace.
  EXPECT_EQ(StageProgressBars(Running(1, 30)),
            "  calibrate  [########################]  1/1  3s\n"
            "  quantize   [######..................]  1/4  10s  ETA 30s\n");
  // No pace yet before the first block: no stage ETA.
  EXPECT_EQ(StageProgressBars(Running(0, -1)),
            "  calibrate  [########################]  1/1  3s\n"
            "  quantize   [........................]  0/4  0s\n");
  v1::Job done = Running(4, 0);
  done.set_state(v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(StageProgressBars(done).find("ETA"), std::string::npos);
}

TEST(ProgressPrinterTest, TerminalBlockIsRedrawnInPlace) {
  std::ostringstream out;
  ProgressPrinter printer(out, /*tty=*/true);
  printer.Update(Running(1, 30));
  printer.Update(Running(1, 30));  // Same text: nothing written.
  printer.Update(Running(2, 20));
  printer.Finish();
  printer.Update(Running(3, 10));  // After Finish: a new block below, nothing overwritten.
  const std::string block1 = "j  RUNNING  quantize 1/4  25%  ETA 30s\n" +
                             StageProgressBars(Running(1, 30));
  const std::string block2 = "j  RUNNING  quantize 2/4  50%  ETA 20s\n" +
                             StageProgressBars(Running(2, 20));
  const std::string block3 = "j  RUNNING  quantize 3/4  75%  ETA 10s\n" +
                             StageProgressBars(Running(3, 10));
  EXPECT_EQ(out.str(), block1 + "\033[3F\033[J" + block2 + block3);
}

}  // namespace
}  // namespace sr2
