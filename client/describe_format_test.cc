#include "client/describe_format.h"

#include "client/golden_file.h"
#include "client/yaml_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kCreated = 1714564800000;  // 2024-05-01T12:00:00Z

void SetScheme(v1::QuantScheme* s, int bits, int group_size) {
  s->set_bits(bits);
  s->set_group_size(group_size);
  s->set_sym(true);
}

void AddLayerResult(v1::JobResult* result, const std::string& name, int bits, double loss,
                    int64_t numel) {
  v1::LayerResult* layer = result->add_layers();
  layer->set_name(name);
  layer->set_quantized(true);
  SetScheme(layer->mutable_scheme(), bits, 32);
  layer->set_loss(loss);
  layer->set_numel(numel);
}

void AddSensitivity(v1::Allocation* allocation, const std::string& name, int64_t numel,
                    double score2, double score4, int chosen) {
  v1::LayerSensitivity* layer = allocation->add_layers();
  layer->set_name(name);
  layer->set_numel(numel);
  layer->add_scores(score2);
  layer->add_scores(score4);
  // LayerBits: b*numel + groups*(16+b), 32-column groups.
  layer->add_bits(2 * numel + numel / 32 * 18);
  layer->add_bits(4 * numel + numel / 32 * 20);
  layer->set_chosen(chosen);
}

// A finished mixed-precision job: W2G32/W4G32 at 3.25 average bits with the best preset.
v1::Job MixedJob() {
  v1::Job job;
  job.set_id("job-mixed");
  job.set_state(v1::JOB_STATE_SUCCEEDED);
  job.set_stage(v1::STAGE_EVALUATE);
  job.set_progress(1.0);
  job.set_create_time_ms(kCreated);
  job.set_start_time_ms(kCreated + 2000);
  job.set_end_time_ms(kCreated + 2000 + 754000);
  v1::JobSpec* spec = job.mutable_spec();
  spec->set_model_uri("/models/stories260K");
  spec->set_out_uri("/out/mixed");
  spec->set_calib_uri("/data/calib.tokens.i32");
  spec->set_eval_uri("/data/eval.tokens.i32");
  SetScheme(spec->mutable_scheme(), 2, 32);
  spec->set_algorithm(v1::ALGORITHM_SIGNROUNDV2);
  spec->set_format(v1::FORMAT_AUTO_ROUND);
  spec->set_input_mode(v1::INPUT_MODE_QUANTIZED);
  spec->set_preset("best");
  spec->set_nsamples(512);
  spec->set_seqlen(256);
  spec->set_iters(1000);
  spec->set_batch_size(8);
  spec->set_eval_seqlen(256);
  spec->set_seed(42);
  spec->set_avg_bits(3.25);
  SetScheme(spec->add_candidates(), 2, 32);
  SetScheme(spec->add_candidates(), 4, 32);
  spec->set_share_fused_layers(true);
  spec->set_profile_nsamples(16);
  spec->set_profile_seqlen(256);
  spec->set_profile_batch_size(8);
  spec->set_profile_blocks_per_task(4);
  const std::pair<v1::Stage, double> stages[] = {
      {v1::STAGE_INSPECT, 0.4},  {v1::STAGE_CALIBRATE, 3.2},  {v1::STAGE_PROFILE, 61},
      {v1::STAGE_ALLOCATE, 0.1}, {v1::STAGE_QUANTIZE, 640.5}, {v1::STAGE_ASSEMBLE, 2.5},
      {v1::STAGE_EVALUATE, 45}};
  for (const auto& [stage, seconds] : stages) {
    v1::StageProgress* s = job.add_stages();
    s->set_stage(stage);
    s->set_done(1);
    s->set_total(1);
    s->set_elapsed_seconds(seconds);
  }
  v1::JobResult* result = job.mutable_result();
  result->set_output_uri("/out/mixed");
  result->set_perplexity(4.1234);
  result->set_eval_targets(16320);
  result->set_avg_bits(3.1218);
  result->set_manifest_sha256("ab12");
  AddLayerResult(result, "model.layers.0.self_attn.q_proj", 4, 1.25e-3, 4096);
  AddLayerResult(result, "model.layers.0.mlp.down_proj", 2, 3.5e-2, 11008);
  v1::LayerResult* kept = result->add_layers();
  kept->set_name("model.layers.0.mlp.odd_proj");
  kept->set_reason("in_features 33 not divisible by 32");
  kept->set_numel(33);
  result->add_unquantized_layers("model.layers.0.mlp.odd_proj");
  v1::Allocation* allocation = result->mutable_allocation();
  AddSensitivity(allocation, "model.layers.0.self_attn.q_proj", 4096, 4.5e-2, 1.25e-3, 1);
  AddSensitivity(allocation, "model.layers.0.mlp.down_proj", 11008, 3.5e-2, 8.0e-4, 0);
  allocation->set_budget_bits(49088);  // floor(3.25 * 15104)
  allocation->set_allocated_bits(allocation->layers(0).bits(1) + allocation->layers(1).bits(0));
  allocation->set_avg_bits(static_cast<double>(allocation->allocated_bits()) / (4096 + 11008));
  allocation->set_predicted_score(1.25e-3 + 3.5e-2);
  return job;
}

TEST(DescribeFormatTest, MixedJobTableMatchesGolden) {
  ExpectMatchesGolden(DescribeTable(MixedJob()), "describe_mixed.txt");
}

TEST(DescribeFormatTest, MixedJobJsonMatchesGolden) {
  ExpectMatchesGolden(DescribeJson(MixedJob()).dump(2) + "\n", "describe_mixed.json");
}

TEST(DescribeFormatTest, MixedJobYamlMatchesGolden) {
  ExpectMatchesGolden(ToYaml(DescribeJson(MixedJob())), "describe_mixed.yaml");
}

TEST(DescribeFormatTest, TableHasEverySection) {
  std::string table = DescribeTable(MixedJob());
  EXPECT_THAT(table, HasSubstr("Stages:"));
  EXPECT_THAT(table, HasSubstr("quantize   1/1   10m40s"));  // 640.5 s rounds to even.
  EXPECT_THAT(table, HasSubstr("preset                best"));
  EXPECT_THAT(table, HasSubstr("lr                    1/iters (2/iters for <=3-bit layers)"));
  EXPECT_THAT(table, HasSubstr("candidates            W2G32 sym, W4G32 sym"));
  EXPECT_THAT(table, HasSubstr("16-bit (in_features 33 not divisible by 32)"));
  EXPECT_THAT(table, HasSubstr("4.500e-02   1.250e-03*"));
  EXPECT_THAT(table, HasSubstr("Predicted score:  3.625e-02"));
}

TEST(DescribeFormatTest, UniformJobHasNoAllocation) {
  v1::Job job = MixedJob();
  job.mutable_spec()->clear_avg_bits();
  job.mutable_spec()->clear_candidates();
  job.mutable_spec()->clear_preset();
  job.mutable_spec()->clear_iters();
  job.mutable_result()->clear_allocation();
  std::string table = DescribeTable(job);
  EXPECT_THAT(table, Not(HasSubstr("Allocation")));
  EXPECT_THAT(table, HasSubstr("avg_bits              off (one scheme for all layers)"));
  EXPECT_THAT(table, HasSubstr("candidates            -\n"));
  EXPECT_THAT(table, HasSubstr("iters                 -\n"));
  EXPECT_THAT(table, HasSubstr("lr                    1/iters\n"));
  nlohmann::ordered_json j = DescribeJson(job);
  ASSERT_TRUE(j.contains("allocation"));
  EXPECT_TRUE(j["allocation"].is_null());
  EXPECT_EQ(j["spec"]["candidates"], nlohmann::ordered_json::array());
}

}  // namespace
}  // namespace sr2
