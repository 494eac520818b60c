#include "server/task_requirements.h"

#include <gtest/gtest.h>

namespace sr2::server {
namespace {

ModelLayout Layout(int hidden, int blocks) {
  ModelLayout layout;
  layout.config.hidden_size = hidden;
  layout.config.intermediate_size = 4 * hidden;
  layout.config.num_attention_heads = 8;
  layout.config.vocab_size = 32000;
  for (int b = 0; b < blocks; ++b) {
    std::vector<LinearLayer>& linears = layout.blocks.emplace_back();
    for (int i = 0; i < 4; ++i) linears.push_back({"", "", b, hidden, hidden, false});
    for (int i = 0; i < 3; ++i) linears.push_back({"", "", b, 4 * hidden, hidden, false});
  }
  layout.total_params = int64_t{blocks} * 16 * hidden * hidden + 2LL * 32000 * hidden;
  return layout;
}

v1::JobSpec Spec(int nsamples) {
  v1::JobSpec spec;
  spec.set_nsamples(nsamples);
  spec.set_seqlen(2048);
  spec.set_batch_size(8);
  spec.set_eval_seqlen(2048);
  spec.set_profile_nsamples(16);
  spec.set_profile_seqlen(256);
  spec.set_profile_batch_size(8);
  spec.set_profile_blocks_per_task(4);
  return spec;
}

TEST(TaskRequirementsTest, GrowWithTheModelAndTheCalibrationSet) {
  const auto small = EstimateTaskRequirements(Layout(1024, 8), Spec(128));
  const auto wide = EstimateTaskRequirements(Layout(4096, 8), Spec(128));
  const auto more_samples = EstimateTaskRequirements(Layout(1024, 8), Spec(512));
  for (int kind : {v1::TASK_KIND_CALIBRATE, v1::TASK_KIND_QUANTIZE_BLOCK, v1::TASK_KIND_PROFILE,
                   v1::TASK_KIND_EVALUATE}) {
    ASSERT_TRUE(small.count(kind)) << kind;
    EXPECT_GT(wide.at(kind).memory_bytes(), small.at(kind).memory_bytes()) << kind;
  }
  EXPECT_GT(more_samples.at(v1::TASK_KIND_QUANTIZE_BLOCK).memory_bytes(),
            small.at(v1::TASK_KIND_QUANTIZE_BLOCK).memory_bytes());
  // A 4096-wide block tuned on 128 x 2048 tokens holds 4 chains of 4 GiB each at least.
  EXPECT_GT(wide.at(v1::TASK_KIND_QUANTIZE_BLOCK).memory_bytes(), 16LL << 30);
}

TEST(TaskRequirementsTest, CarryTheJobsDevice) {
  v1::JobSpec spec = Spec(16);
  spec.set_device("cuda");
  for (const auto& [kind, needs] : EstimateTaskRequirements(Layout(256, 2), spec)) {
    EXPECT_EQ(needs.device(), "cuda") << kind;
  }
}

}  // namespace
}  // namespace sr2::server
