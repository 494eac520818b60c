#include "client/job_format.h"

#include "client/golden_file.h"
#include "client/yaml_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kCreated = 1714564800000;  // 2024-05-01T12:00:00Z

v1::Job SucceededJob() {
  v1::Job job;
  job.set_id("job-7");
  job.set_state(v1::JOB_STATE_SUCCEEDED);
  job.set_stage(v1::STAGE_EVALUATE);
  job.set_progress(1.0);
  job.set_eta_seconds(0);
  job.set_create_time_ms(kCreated);
  job.set_start_time_ms(kCreated + 1500);
  job.set_end_time_ms(kCreated + 1500 + 125000);
  v1::JobSpec* spec = job.mutable_spec();
  spec->set_model_uri("/models/stories260K");
  spec->set_out_uri("/out/q");
  spec->set_calib_uri("/data/calib.tokens.i32");
  spec->set_eval_uri("/data/eval.tokens.i32");
  spec->mutable_scheme()->set_bits(4);
  spec->mutable_scheme()->set_group_size(32);
  spec->mutable_scheme()->set_sym(true);
  spec->set_algorithm(v1::ALGORITHM_SIGNROUNDV2);
  spec->set_format(v1::FORMAT_AUTO_ROUND);
  spec->set_input_mode(v1::INPUT_MODE_QUANTIZED);
  spec->set_nsamples(128);
  spec->set_seqlen(256);
  spec->set_iters(200);
  spec->set_seed(42);
  v1::StageProgress* quantize = job.add_stages();
  quantize->set_stage(v1::STAGE_QUANTIZE);
  quantize->set_done(5);
  quantize->set_total(5);
  quantize->set_elapsed_seconds(90.5);
  v1::StageProgress* evaluate = job.add_stages();
  evaluate->set_stage(v1::STAGE_EVALUATE);
  evaluate->set_done(1);
  evaluate->set_total(1);
  evaluate->set_elapsed_seconds(3);
  v1::JobResult* result = job.mutable_result();
  result->set_output_uri("/out/q");
  result->set_perplexity(3.7123);
  result->set_eval_targets(4096);
  result->set_avg_bits(4.5);
  result->add_unquantized_layers("lm_head");
  v1::LayerResult* q = result->add_layers();
  q->set_name("model.layers.0.self_attn.q_proj");
  q->set_quantized(true);
  q->mutable_scheme()->set_bits(4);
  q->mutable_scheme()->set_group_size(32);
  q->mutable_scheme()->set_sym(true);
  q->set_loss(0.25);
  v1::LayerResult* kept = result->add_layers();
  kept->set_name("model.layers.0.mlp.down_proj");
  kept->set_quantized(false);
  kept->set_reason("in_features not divisible by 32");
  return job;
}

v1::Job FailedJob() {
  v1::Job job;
  job.set_id("job-8");
  job.set_state(v1::JOB_STATE_FAILED);
  job.set_stage(v1::STAGE_INSPECT);
  job.set_error("model_uri /m: config.json not found");
  job.set_eta_seconds(-1);
  job.set_create_time_ms(kCreated);
  job.mutable_spec()->set_model_uri("/m");
  return job;
}

// The goldens of `status` and `list` in each output style (yaml: the json data as YAML).
TEST(JobFormatTest, StatusMatchesGoldens) {
  ExpectMatchesGolden(JobTable(SucceededJob()), "status_succeeded.txt");
  ExpectMatchesGolden(JobToJson(SucceededJob()).dump(2) + "\n", "status_succeeded.json");
  ExpectMatchesGolden(ToYaml(JobToJson(SucceededJob())), "status_succeeded.yaml");
}

TEST(JobFormatTest, ListMatchesGoldens) {
  std::vector<v1::Job> jobs = {SucceededJob(), FailedJob()};
  ExpectMatchesGolden(JobListTable(jobs, kCreated + 3 * 3600 * 1000), "list.txt");
  nlohmann::ordered_json array = nlohmann::ordered_json::array();
  for (const v1::Job& job : jobs) array.push_back(JobToJson(job));
  ExpectMatchesGolden(array.dump(2) + "\n", "list.json");
  ExpectMatchesGolden(ToYaml(array), "list.yaml");
}

TEST(JobFormatTest, JsonOfSucceededJob) {
  nlohmann::ordered_json j = JobToJson(SucceededJob());
  EXPECT_EQ(j["id"], "job-7");
  EXPECT_EQ(j["state"], "SUCCEEDED");
  EXPECT_EQ(j["stage"], "evaluate");
  EXPECT_EQ(j["error"], "");
  EXPECT_EQ(j["output_uri"], "/out/q");
  EXPECT_DOUBLE_EQ(j["perplexity"].get<double>(), 3.7123);
  EXPECT_DOUBLE_EQ(j["progress"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["eta_seconds"].get<double>(), 0.0);
  ASSERT_EQ(j["stages"].size(), 2u);
  EXPECT_EQ(j["stages"][0]["stage"], "quantize");
  EXPECT_EQ(j["stages"][0]["done"], 5);
  EXPECT_EQ(j["stages"][0]["total"], 5);
  EXPECT_DOUBLE_EQ(j["stages"][0]["elapsed_seconds"].get<double>(), 90.5);
  const nlohmann::ordered_json& spec = j["spec"];
  EXPECT_EQ(spec["model_uri"], "/models/stories260K");
  EXPECT_EQ(spec["out_uri"], "/out/q");
  EXPECT_EQ(spec["calib_uri"], "/data/calib.tokens.i32");
  EXPECT_EQ(spec["eval_uri"], "/data/eval.tokens.i32");
  EXPECT_EQ(spec["scheme"], "W4G32");
  EXPECT_EQ(spec["sym"], true);
  EXPECT_EQ(spec["algorithm"], "signroundv2");
  EXPECT_EQ(spec["format"], "auto_round");
  EXPECT_EQ(spec["input_mode"], "quantized");
  EXPECT_EQ(spec["nsamples"], 128);
  EXPECT_EQ(spec["seqlen"], 256);
  EXPECT_EQ(spec["iters"], 200);
  EXPECT_EQ(spec["seed"], 42);
  const nlohmann::ordered_json& result = j["result"];
  EXPECT_DOUBLE_EQ(result["avg_bits"].get<double>(), 4.5);
  EXPECT_EQ(result["eval_targets"], 4096);
  EXPECT_EQ(result["unquantized_layers"], nlohmann::ordered_json::array({"lm_head"}));
  ASSERT_EQ(result["layers"].size(), 2u);
  EXPECT_EQ(result["layers"][0]["name"], "model.layers.0.self_attn.q_proj");
  EXPECT_EQ(result["layers"][0]["quantized"], true);
  EXPECT_EQ(result["layers"][0]["scheme"], "W4G32");
  EXPECT_DOUBLE_EQ(result["layers"][0]["loss"].get<double>(), 0.25);
  EXPECT_EQ(result["layers"][1]["quantized"], false);
  EXPECT_EQ(result["layers"][1]["scheme"], "");
  EXPECT_EQ(result["layers"][1]["reason"], "in_features not divisible by 32");
  EXPECT_EQ(j["create_time"], "2024-05-01T12:00:00Z");
  EXPECT_EQ(j["start_time"], "2024-05-01T12:00:01Z");
  EXPECT_EQ(j["end_time"], "2024-05-01T12:02:06Z");
}

TEST(JobFormatTest, JsonOfFailedJob) {
  nlohmann::ordered_json j = JobToJson(FailedJob());
  EXPECT_EQ(j["state"], "FAILED");
  EXPECT_EQ(j["stage"], "inspect");
  EXPECT_EQ(j["error"], "model_uri /m: config.json not found");
  EXPECT_TRUE(j["perplexity"].is_null());
  EXPECT_TRUE(j["eta_seconds"].is_null());
  EXPECT_TRUE(j["start_time"].is_null());
  EXPECT_TRUE(j["end_time"].is_null());
  EXPECT_EQ(j["spec"]["scheme"], "");
  EXPECT_EQ(j["spec"]["algorithm"], "");
  EXPECT_TRUE(j["stages"].is_array());
  EXPECT_TRUE(j["result"]["layers"].is_array());
  // Round-trips through text as one object.
  EXPECT_EQ(nlohmann::ordered_json::parse(j.dump()), j);
}

TEST(JobFormatTest, TableOfSucceededJob) {
  std::string table = JobTable(SucceededJob());
  EXPECT_THAT(table, HasSubstr("job-7"));
  EXPECT_THAT(table, HasSubstr("SUCCEEDED (evaluate 1/1)"));
  EXPECT_THAT(table, HasSubstr("W4G32 sym, algorithm signroundv2, format auto_round"));
  EXPECT_THAT(table, HasSubstr("Perplexity:"));
  EXPECT_THAT(table, HasSubstr("3.7123 (4096 tokens)"));
  EXPECT_THAT(table, HasSubstr("1 quantized, 1 kept"));
  EXPECT_THAT(table, HasSubstr("Unquantized:  lm_head"));
  EXPECT_THAT(table, HasSubstr("(ran 2m05s)"));
  EXPECT_THAT(table, HasSubstr("quantize  5/5   1m30s"));
  EXPECT_THAT(table, Not(HasSubstr("Error:")));
  EXPECT_THAT(table, Not(HasSubstr("ETA")));
}

TEST(JobFormatTest, TableOfFailedJobShowsTheError) {
  std::string table = JobTable(FailedJob());
  EXPECT_THAT(table, HasSubstr("FAILED (inspect)"));
  EXPECT_THAT(table, HasSubstr("Error:"));
  EXPECT_THAT(table, HasSubstr("config.json not found"));
  EXPECT_THAT(table, Not(HasSubstr("Perplexity")));
}

TEST(JobFormatTest, ListTableAlignsColumns) {
  v1::Job running = FailedJob();
  running.set_id("a");
  running.set_state(v1::JOB_STATE_RUNNING);
  running.set_stage(v1::STAGE_QUANTIZE);
  running.set_progress(0.4267);
  v1::StageProgress* s = running.add_stages();
  s->set_stage(v1::STAGE_QUANTIZE);
  s->set_done(3);
  s->set_total(8);
  std::string table = JobListTable({SucceededJob(), running}, kCreated + 3 * 3600 * 1000 + 5);
  EXPECT_EQ(table,
            "ID     STATE      STAGE         PROGRESS  MODEL                AGE\n"
            "job-7  SUCCEEDED  evaluate 1/1  100%      /models/stories260K  3h\n"
            "a      RUNNING    quantize 3/8  42%       /m                   3h\n");
}

TEST(JobFormatTest, ProgressLine) {
  v1::Job job;
  job.set_id("j");
  job.set_state(v1::JOB_STATE_PENDING);
  EXPECT_EQ(ProgressLine(job), "j  PENDING");
  job.set_state(v1::JOB_STATE_RUNNING);
  job.set_stage(v1::STAGE_QUANTIZE);
  job.set_progress(0.5);
  job.set_eta_seconds(65.4);
  EXPECT_EQ(ProgressLine(job), "j  RUNNING  quantize  50%  ETA 1m05s");
  v1::StageProgress* s = job.add_stages();
  s->set_stage(v1::STAGE_QUANTIZE);
  s->set_done(3);
  s->set_total(8);
  job.set_eta_seconds(-1);
  EXPECT_EQ(ProgressLine(job), "j  RUNNING  quantize 3/8  50%  ETA unknown");
}

TEST(JobFormatTest, FormatDuration) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(59.4), "59s");
  EXPECT_EQ(FormatDuration(59.6), "1m00s");
  EXPECT_EQ(FormatDuration(725), "12m05s");
  EXPECT_EQ(FormatDuration(3 * 3600 + 7 * 60 + 59), "3h07m");
  EXPECT_EQ(FormatDuration(-1), "unknown");
}

TEST(JobFormatTest, SummaryNamesOutcome) {
  std::string ok = JobSummary(SucceededJob());
  EXPECT_THAT(ok, HasSubstr("job job-7 SUCCEEDED in 2m05s"));
  EXPECT_THAT(ok, HasSubstr("output:     /out/q"));
  EXPECT_THAT(ok, HasSubstr("perplexity: 3.7123"));
  std::string failed = JobSummary(FailedJob());
  EXPECT_THAT(failed, HasSubstr("job job-8 FAILED"));
  EXPECT_THAT(failed, HasSubstr("error:      model_uri /m: config.json not found"));
}

}  // namespace
}  // namespace sr2
