// The DeltaLoss pipeline run task by task in this process: the coordinator's plan (block ranges
// of 1, 2 and all blocks; 2 calibration batches), the worker's PROFILE tasks with their
// activations and gradients going through a local work store, and the coordinator's sum, against
// the single-process ComputeDeltaLoss on stories260K.
#include "worker/tasks/profile_tasks.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/data/token_file.h"
#include "common/model/model_layout.h"
#include "common/store/local_object_store.h"
#include "common/store/work_keys.h"
#include "common/util/test_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/profile_planner.h"
#include "worker/quant/delta_loss.h"
#include "worker/tasks/task_runner.h"

namespace sr2::worker {
namespace {

using ::testing::HasSubstr;

constexpr char kModelDir[] = "../shared/models/stories260K";
constexpr char kCalib[] = "../shared/data/tinystories/calib.tokens.i32";

class ProfileTasksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    at::set_num_threads(1);
    work_ = sr2::testing::FreshTestDir("sr2_profile_tasks");
    spec_.set_model_uri(kModelDir);
    spec_.set_calib_uri(kCalib);
    for (int bits : {2, 4}) {
      v1::QuantScheme* c = spec_.add_candidates();
      c->set_bits(bits);
      c->set_group_size(32);
      c->set_sym(true);
    }
    // algorithm.md §3.1: 16 windows of 256 tokens, batches of 8.
    spec_.set_profile_nsamples(16);
    spec_.set_profile_seqlen(256);
    spec_.set_profile_batch_size(8);
    for (int b = 0; b < kBlocks; ++b) {
      for (const std::string& s : LlamaBlockLinears()) {
        layers_.push_back({BlockPrefix(b) + s, s, b, 0, 0, false});
      }
    }
  }
  void TearDown() override { std::filesystem::remove_all(work_); }

  v1::Task ToTask(const server::ProfileTask& p) const {
    v1::Task t = p.task;
    t.set_task_id(p.name);
    t.set_job_id("job");
    *t.mutable_spec() = spec_;
    t.set_work_uri(work_);
    t.set_num_blocks(kBlocks);
    return t;
  }

  // Runs every planned task in plan order (dependencies first) and sums the scores.
  std::map<std::string, std::vector<double>> RunPipeline(int blocks_per_task) {
    spec_.set_profile_blocks_per_task(blocks_per_task);
    absl::StatusOr<std::vector<server::ProfileTask>> plan =
        server::PlanProfileTasks(spec_, layers_, kBlocks);
    EXPECT_TRUE(plan.ok()) << plan.status();
    std::vector<std::pair<v1::Task, v1::TaskOutput>> done;
    for (const server::ProfileTask& p : *plan) {
      v1::Task task = ToTask(p);
      absl::StatusOr<v1::TaskOutput> output = RunTask(task, TaskContext{});
      EXPECT_TRUE(output.ok()) << output.status();
      if (!output.ok()) return {};
      done.emplace_back(std::move(task), *std::move(output));
    }
    std::vector<server::FinishedTask> view;
    for (const auto& [task, output] : done) view.emplace_back(&task, &output);
    absl::StatusOr<std::map<std::string, std::vector<double>>> scores =
        server::SumProfileScores(spec_, layers_, view);
    EXPECT_TRUE(scores.ok()) << scores.status();
    return scores.ok() ? *scores : std::map<std::string, std::vector<double>>{};
  }

  static constexpr int kBlocks = 5;
  std::string work_;
  v1::JobSpec spec_;
  std::vector<LinearLayer> layers_;
};

TEST_F(ProfileTasksTest, BlockRangePipelineMatchesSingleProcessDeltaLoss) {
  absl::StatusOr<LlamaModel> model =
      LoadLlamaModel(LocalObjectStore::Create(kModelDir), torch::kCPU);
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_EQ(model->num_blocks(), kBlocks);
  absl::StatusOr<std::vector<int32_t>> tokens = ReadTokenFile(kCalib, model->config().vocab_size);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  absl::StatusOr<std::vector<std::vector<int32_t>>> windows =
      TakeWindows(*tokens, 16, 256, kCalib);
  ASSERT_TRUE(windows.ok()) << windows.status();
  std::vector<std::string> names;
  for (const LinearLayer& l : layers_) names.push_back(l.name);
  const absl::StatusOr<std::map<std::string, std::vector<double>>> expected =
      ComputeDeltaLoss(*model, *windows, names, {{2, 32, true}, {4, 32, true}}, {8}, nullptr);
  ASSERT_TRUE(expected.ok()) << expected.status();

  for (int blocks_per_task : {1, 2, kBlocks}) {
    const std::map<std::string, std::vector<double>> scores = RunPipeline(blocks_per_task);
    ASSERT_EQ(scores.size(), names.size()) << blocks_per_task << " blocks per task";
    double worst = 0;
    for (const std::string& name : names) {
      for (size_t c = 0; c < 2; ++c) {
        const double want = expected->at(name)[c];
        ASSERT_GT(want, 0) << name;
        worst = std::max(worst, std::abs(scores.at(name)[c] - want) / want);
      }
    }
    EXPECT_LE(worst, 1e-5) << blocks_per_task << " blocks per task";
    RecordProperty(absl::StrCat("max_rel_diff_", blocks_per_task),
                   absl::StrFormat("%.3g", worst));
  }
}

TEST_F(ProfileTasksTest, RejectsBadTasksAndMissingInputs) {
  spec_.set_profile_blocks_per_task(2);
  absl::StatusOr<std::vector<server::ProfileTask>> plan =
      server::PlanProfileTasks(spec_, layers_, kBlocks);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const server::ProfileTask* backward = nullptr;
  const server::ProfileTask* forward = nullptr;
  for (const server::ProfileTask& p : *plan) {
    if (p.task.profile_phase() == v1::PROFILE_PHASE_BACKWARD && !backward) backward = &p;
    if (p.task.profile_phase() == v1::PROFILE_PHASE_FORWARD && p.task.block_index() == 2) {
      forward = &p;
    }
  }
  ASSERT_TRUE(backward && forward);
  // Inputs of a later stage that never ran: NotFound, not a crash.
  EXPECT_EQ(RunTask(ToTask(*backward), TaskContext{}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(RunTask(ToTask(*forward), TaskContext{}).status().code(),
            absl::StatusCode::kNotFound);

  auto status_with = [&](const std::function<void(v1::Task*)>& change) {
    v1::Task t = ToTask(*forward);
    change(&t);
    return RunTask(t, TaskContext{}).status();
  };
  EXPECT_THAT(status_with([](v1::Task* t) { t->set_block_end(9); }).message(),
              HasSubstr("outside the model's 5 blocks"));
  EXPECT_THAT(status_with([](v1::Task* t) { t->set_candidate_index(2); }).message(),
              HasSubstr("candidate index 2"));
  EXPECT_THAT(status_with([](v1::Task* t) { t->set_batch_index(2); }).message(),
              HasSubstr("batch 2"));
  EXPECT_THAT(status_with([](v1::Task* t) {
                t->mutable_layers(0)->set_name(BlockPrefix(0) + "mlp.up_proj");
              }).message(),
              HasSubstr("outside the task's range"));
  const absl::Status no_phase =
      status_with([](v1::Task* t) { t->set_profile_phase(v1::PROFILE_PHASE_UNSPECIFIED); });
  EXPECT_EQ(no_phase.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_phase.message(), HasSubstr("unknown phase"));
}

}  // namespace
}  // namespace sr2::worker
