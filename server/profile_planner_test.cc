#include "server/profile_planner.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"

namespace sr2::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::JobSpec Spec(int nsamples, int batch, int blocks_per_task) {
  v1::JobSpec spec;
  for (int bits : {2, 4}) {
    v1::QuantScheme* c = spec.add_candidates();
    c->set_bits(bits);
    c->set_group_size(32);
  }
  spec.set_profile_nsamples(nsamples);
  spec.set_profile_batch_size(batch);
  spec.set_profile_blocks_per_task(blocks_per_task);
  return spec;
}

// Two Linears in each of the given blocks.
std::vector<LinearLayer> Layers(const std::vector<int>& blocks) {
  std::vector<LinearLayer> layers;
  for (int b : blocks) {
    for (const char* s : {"self_attn.q_proj", "mlp.down_proj"}) {
      layers.push_back({BlockPrefix(b) + s, s, b, 8, 8, false});
    }
  }
  return layers;
}

// Phase and range of each task of one (candidate, batch) chain, in plan order.
std::vector<std::string> Chain(const std::vector<ProfileTask>& tasks, int c, int k) {
  std::vector<std::string> chain;
  for (const ProfileTask& t : tasks) {
    if (t.task.candidate_index() != c || t.task.batch_index() != k) continue;
    chain.push_back(absl::StrCat(v1::ProfilePhase_Name(t.task.profile_phase()).substr(14), " ",
                                 t.task.block_index(), "-", t.task.block_end()));
  }
  return chain;
}

TEST(ProfilePlannerTest, ForwardHeadBackwardChainPerCandidateAndBatch) {
  const v1::JobSpec spec = Spec(16, 8, 2);
  absl::StatusOr<std::vector<ProfileTask>> tasks =
      PlanProfileTasks(spec, Layers({0, 1, 2, 3, 4}), 5);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_EQ(tasks->size(), 2u * 2u * 7u);  // candidates x batches x (3 fwd + head + 3 bwd)
  for (int c = 0; c < 2; ++c) {
    for (int k = 0; k < 2; ++k) {
      EXPECT_THAT(Chain(*tasks, c, k),
                  ElementsAre("FORWARD 0-2", "FORWARD 2-4", "FORWARD 4-5", "HEAD 5-5",
                              "BACKWARD 4-5", "BACKWARD 2-4", "BACKWARD 0-2"));
    }
  }
  // Names are unique; each task waits for exactly the previous task of its chain, which the
  // plan lists earlier; chains do not depend on one another.
  std::map<std::string, const ProfileTask*> seen;
  for (const ProfileTask& t : *tasks) {
    EXPECT_EQ(t.task.kind(), v1::TASK_KIND_PROFILE);
    for (const std::string& d : t.deps) {
      ASSERT_TRUE(seen.count(d)) << t.name << " waits for " << d << ", not planned before it";
      EXPECT_EQ(seen[d]->task.candidate_index(), t.task.candidate_index());
      EXPECT_EQ(seen[d]->task.batch_index(), t.task.batch_index());
    }
    const bool chain_start =
        t.task.profile_phase() == v1::PROFILE_PHASE_FORWARD && t.task.block_index() == 0;
    EXPECT_EQ(t.deps.size(), chain_start ? 0u : 1u) << t.name;
    EXPECT_TRUE(seen.emplace(t.name, &t).second) << "duplicate " << t.name;
    // Each range task carries its blocks' layers, under its candidate.
    for (const v1::LayerAssignment& a : t.task.layers()) {
      EXPECT_EQ(a.scheme().bits(), spec.candidates(t.task.candidate_index()).bits());
      const int block = *BlockOfTensor(a.name());
      EXPECT_TRUE(block >= t.task.block_index() && block < t.task.block_end()) << t.name;
    }
    const int expected_layers = t.task.profile_phase() == v1::PROFILE_PHASE_HEAD
                                    ? 0
                                    : 2 * (t.task.block_end() - t.task.block_index());
    EXPECT_EQ(t.task.layers_size(), expected_layers) << t.name;
  }
}

TEST(ProfilePlannerTest, NoBackwardBelowTheFirstTargetAndOneRangeForLargeStages) {
  absl::StatusOr<std::vector<ProfileTask>> tasks =
      PlanProfileTasks(Spec(5, 2, 2), Layers({3}), 6);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  EXPECT_EQ(ProfileBatchCount(Spec(5, 2, 2)), 3);
  EXPECT_THAT(Chain(*tasks, 1, 2), ElementsAre("FORWARD 0-2", "FORWARD 2-4", "FORWARD 4-6",
                                               "HEAD 6-6", "BACKWARD 4-6", "BACKWARD 2-4"));
  tasks = PlanProfileTasks(Spec(16, 16, 8), Layers({0, 4}), 5);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  EXPECT_THAT(Chain(*tasks, 0, 0), ElementsAre("FORWARD 0-5", "HEAD 5-5", "BACKWARD 0-5"));
  EXPECT_EQ(tasks->size(), 6u);
}

TEST(ProfilePlannerTest, RejectsBadOptions) {
  EXPECT_EQ(PlanProfileTasks(Spec(16, 8, 0), Layers({0}), 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanProfileTasks(Spec(16, 0, 1), Layers({0}), 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(PlanProfileTasks(Spec(16, 8, 1), {}, 2).status().message(), HasSubstr("no layers"));
}

// A finished backward task of (candidate, batch) reporting `scores`.
struct Done {
  v1::Task task;
  v1::TaskOutput output;
};
Done Backward(int c, int k, const std::map<std::string, double>& scores) {
  Done d;
  d.task.set_task_id(absl::StrCat("bwd-", c, "-", k));
  d.task.set_kind(v1::TASK_KIND_PROFILE);
  d.task.set_profile_phase(v1::PROFILE_PHASE_BACKWARD);
  d.task.set_candidate_index(c);
  d.task.set_batch_index(k);
  for (const auto& [name, s] : scores) (*d.output.mutable_layer_scores())[name] = s;
  return d;
}

std::vector<FinishedTask> View(const std::vector<Done>& done) {
  std::vector<FinishedTask> view;
  for (const Done& d : done) view.emplace_back(&d.task, &d.output);
  return view;
}

TEST(ProfilePlannerTest, SumsBatchesInBatchOrderWhateverTheFinishOrder) {
  const v1::JobSpec spec = Spec(6, 2, 1);  // 3 batches
  const std::vector<LinearLayer> layers = Layers({0});
  const std::string q = layers[0].name, d = layers[1].name;
  // Floating-point addition is not associative: 1 + 1e-16 + 1e-16 == 1, but
  // 1e-16 + 1e-16 + 1 > 1. Batch order 0, 1, 2 gives the latter.
  const double s[3] = {1e-16, 1e-16, 1.0};
  std::vector<Done> done;
  for (int k : {2, 0, 1}) {
    for (int c : {1, 0}) done.push_back(Backward(c, k, {{q, s[k] * (c + 1)}, {d, 7.0 * k}}));
  }
  Done forward = Backward(0, 0, {{q, 100.0}});  // Forward and head tasks report nothing.
  forward.task.set_profile_phase(v1::PROFILE_PHASE_FORWARD);
  done.push_back(forward);

  absl::StatusOr<std::map<std::string, std::vector<double>>> scores =
      SumProfileScores(spec, layers, View(done));
  ASSERT_TRUE(scores.ok()) << scores.status();
  const double in_order = ((0.0 + s[0]) + s[1]) + s[2];
  ASSERT_GT(in_order, 1.0);
  EXPECT_THAT(scores->at(q), ElementsAre(in_order, ((0.0 + 2 * s[0]) + 2 * s[1]) + 2 * s[2]));
  EXPECT_THAT(scores->at(d), ElementsAre(21.0, 21.0));
}

TEST(ProfilePlannerTest, MissingOrRepeatedScoresAreErrors) {
  const v1::JobSpec spec = Spec(4, 2, 1);  // 2 batches
  const std::vector<LinearLayer> layers = Layers({0});
  std::map<std::string, double> all = {{layers[0].name, 1.0}, {layers[1].name, 2.0}};
  std::vector<Done> done = {Backward(0, 0, all), Backward(1, 0, all), Backward(0, 1, all)};
  EXPECT_THAT(SumProfileScores(spec, layers, View(done)).status().message(),
              HasSubstr("candidate 1, batch 1"));
  done.push_back(Backward(1, 1, all));
  EXPECT_TRUE(SumProfileScores(spec, layers, View(done)).ok());
  done.push_back(Backward(1, 1, {{layers[1].name, 2.0}}));
  EXPECT_EQ(SumProfileScores(spec, layers, View(done)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  done.pop_back();
  done.push_back(Backward(0, 0, {{"model.layers.9.mlp.up_proj", 2.0}}));
  EXPECT_THAT(SumProfileScores(spec, layers, View(done)).status().message(),
              HasSubstr("model.layers.9.mlp.up_proj"));
}

}  // namespace
}  // namespace sr2::server
