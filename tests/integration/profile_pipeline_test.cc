// The DeltaLoss profile stage as a distributed pipeline (issue 4): a coordinator and three
// workers run the forward/head/backward block-range tasks of a mixed-precision job; the DeltaLoss
// table the job reports equals the single-process ComputeDeltaLoss within 1e-5 relative, and the
// bit allocation equals the one planned from the single-process scores.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "absl/strings/str_format.h"
#include "common/data/token_file.h"
#include "common/store/local_object_store.h"
#include "server/bit_planner.h"
#include "server/job_planner.h"
#include "server/job_spec_defaults.h"
#include "tests/integration/test_cluster.h"
#include "worker/model/llama_model.h"
#include "worker/quant/delta_loss.h"

namespace sr2::testing {
namespace {

TEST(ProfilePipelineTest, DistributedDeltaLossMatchesSingleProcess) {
  TestCluster cluster(3, /*threads=*/1);
  const std::string out = cluster.dir() + "/stories-mixed";
  CommandResult r = cluster.Sr2ctl(
      {"submit", kStoriesModel, "--out", out, "--calib", kCalibTokens, "--avg-bits", "3",
       "--candidates", "W2G32,W4G32", "--sym", "--algorithm", "rtn", "--ignore-scale-zp-bits",
       "--profile-blocks-per-task", "2", "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string job = JobIdOf(r);
  nlohmann::json status = cluster.Status(job);
  ASSERT_EQ(status["state"], "SUCCEEDED") << status.dump(2);
  const nlohmann::json& table = status["allocation"]["layers"];

  // The same job's spec and layers, scored in this process.
  v1::JobSpec spec;
  spec.set_model_uri(kStoriesModel);
  spec.set_out_uri(out + "-unused");  // PlanJob refuses an existing --out.
  spec.set_calib_uri(kCalibTokens);
  spec.set_algorithm(v1::ALGORITHM_RTN);
  spec.set_avg_bits(3);
  spec.set_ignore_scale_zp_bits(true);
  for (int bits : {2, 4}) {
    v1::QuantScheme* c = spec.add_candidates();
    c->set_bits(bits);
    c->set_group_size(32);
    c->set_sym(true);
  }
  server::FillJobSpecDefaults(&spec);
  absl::StatusOr<server::JobPlan> plan = server::PlanJob(&spec);
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<std::string> names;
  for (const LinearLayer& l : plan->quantizable) names.push_back(l.name);

  at::set_num_threads(1);  // As the workers.
  absl::StatusOr<worker::LlamaModel> model =
      worker::LoadLlamaModel(LocalObjectStore::Create(kStoriesModel), torch::kCPU);
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<std::vector<int32_t>> tokens =
      ReadTokenFile(kCalibTokens, model->config().vocab_size);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  absl::StatusOr<std::vector<std::vector<int32_t>>> windows =
      TakeWindows(*tokens, spec.profile_nsamples(), spec.profile_seqlen(), kCalibTokens);
  ASSERT_TRUE(windows.ok()) << windows.status();
  absl::StatusOr<std::map<std::string, std::vector<double>>> expected = worker::ComputeDeltaLoss(
      *model, *windows, names, {{2, 32, true}, {4, 32, true}}, {spec.profile_batch_size()},
      nullptr);
  ASSERT_TRUE(expected.ok()) << expected.status();

  ASSERT_EQ(table.size(), names.size());
  double worst = 0;
  for (const nlohmann::json& layer : table) {
    const std::vector<double>& want = expected->at(layer["name"].get<std::string>());
    ASSERT_EQ(layer["scores"].size(), 2u);
    for (size_t c = 0; c < 2; ++c) {
      ASSERT_GT(want[c], 0);
      worst = std::max(worst, std::abs(layer["scores"][c].get<double>() - want[c]) / want[c]);
    }
  }
  EXPECT_LE(worst, 1e-5);
  RecordProperty("max_rel_diff", absl::StrFormat("%.3g", worst));

  absl::StatusOr<v1::Allocation> allocation =
      server::PlanAllocation(spec, plan->quantizable, *expected, spec.avg_bits());
  ASSERT_TRUE(allocation.ok()) << allocation.status();
  ASSERT_EQ(allocation->layers_size(), static_cast<int>(table.size()));
  int w2 = 0;
  for (int i = 0; i < allocation->layers_size(); ++i) {
    EXPECT_EQ(table[i]["name"], allocation->layers(i).name());
    EXPECT_EQ(table[i]["chosen"].get<int>(), allocation->layers(i).chosen())
        << allocation->layers(i).name();
    w2 += allocation->layers(i).chosen() == 0;
  }
  // A real mix, so the comparison says something.
  EXPECT_GT(w2, 0);
  EXPECT_LT(w2, allocation->layers_size());
  EXPECT_EQ(status["allocation"]["allocated_bits"].get<int64_t>(), allocation->allocated_bits());
}

}  // namespace
}  // namespace sr2::testing
