#include "worker/quant/block_tuner.h"

#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/model/model_layout.h"
#include "gtest/gtest.h"
#include "worker/quant/scale_search.h"
#include "worker/quant/weight_quantizer.h"

namespace sr2::worker {
namespace {

LlamaConfig TinyConfig() {
  LlamaConfig c;
  c.model_type = "llama";
  c.hidden_size = 16;
  c.intermediate_size = 40;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 8;
  c.vocab_size = 32;
  c.max_position_embeddings = 64;
  c.rms_norm_eps = 1e-5;
  return c;
}

BlockWeights RandomBlock(const LlamaConfig& c) {
  torch::manual_seed(7);
  BlockWeights b;
  const int64_t h = c.hidden_size, i = c.intermediate_size, hd = c.head_dim;
  b.input_norm = 1 + 0.1 * torch::randn({h});
  b.post_attention_norm = 1 + 0.1 * torch::randn({h});
  b.q_proj = 0.3 * torch::randn({c.num_attention_heads * hd, h});
  b.k_proj = 0.3 * torch::randn({c.num_key_value_heads * hd, h});
  b.v_proj = 0.3 * torch::randn({c.num_key_value_heads * hd, h});
  b.o_proj = 0.3 * torch::randn({h, c.num_attention_heads * hd});
  b.gate_proj = 0.3 * torch::randn({i, h});
  b.up_proj = 0.3 * torch::randn({i, h});
  b.down_proj = 0.2 * torch::randn({h, i});
  return b;
}

std::vector<LayerToTune> AllLayers(const Scheme& scheme) {
  std::vector<LayerToTune> layers;
  for (const std::string& name : LlamaBlockLinears()) {
    layers.push_back({name, BlockPrefix(0) + name, scheme});
  }
  return layers;
}

double Mse(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).pow(2).mean().item<double>();
}

class BlockTunerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    at::set_num_threads(1);
    torch::manual_seed(11);
    x_ = torch::randn({16, 12, config_.hidden_size});
  }

  BlockTuneResult Tune(const TuneOptions& options, const Scheme& scheme = {2, 8, true}) {
    absl::StatusOr<BlockTuneResult> r =
        TuneBlock(config_, block_, x_, x_, AllLayers(scheme), options, nullptr, nullptr);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : BlockTuneResult();
  }

  static TuneOptions Options(int iters, bool v2) {
    TuneOptions o;
    o.iters = iters;
    o.batch_size = 4;
    o.v2 = v2;
    o.filter_outliers = v2;  // The default scheme of Tune() is 2-bit sym.
    return o;
  }

  LlamaConfig config_ = TinyConfig();
  BlockWeights block_ = RandomBlock(config_);
  torch::Tensor x_;
};

void ExpectSameLayers(const BlockTuneResult& a, const BlockTuneResult& b) {
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    EXPECT_EQ(a.layers[i].codes, b.layers[i].codes) << a.layers[i].name;
    EXPECT_EQ(a.layers[i].scales, b.layers[i].scales) << a.layers[i].name;
    EXPECT_EQ(a.layers[i].zeros, b.layers[i].zeros) << a.layers[i].name;
  }
}

TEST_F(BlockTunerTest, TuningReducesTheBlockOutputError) {
  for (bool v2 : {false, true}) {
    BlockTuneResult rtn = Tune(Options(0, v2));
    BlockTuneResult tuned = Tune(Options(60, v2));
    ASSERT_EQ(tuned.layers.size(), 7u);
    EXPECT_TRUE(torch::equal(rtn.y_fp, tuned.y_fp));
    // x_q = x_fp here, so x_q_next vs y_fp is the whole-data block error.
    EXPECT_LT(Mse(tuned.x_q_next, tuned.y_fp), 0.9 * Mse(rtn.x_q_next, rtn.y_fp)) << "v2 " << v2;
    EXPECT_LE(tuned.best_loss, tuned.initial_loss);
    EXPECT_GE(tuned.best_iter, 0);
  }
}

TEST_F(BlockTunerTest, SingleIterationKeepsTheInitialParameters) {
  for (bool v2 : {false, true}) {
    BlockTuneResult rtn = Tune(Options(0, v2));
    BlockTuneResult one = Tune(Options(1, v2));
    EXPECT_EQ(one.best_iter, 0);
    EXPECT_EQ(one.best_loss, one.initial_loss);
    ExpectSameLayers(rtn, one);
    EXPECT_TRUE(torch::equal(rtn.x_q_next, one.x_q_next));
  }
}

TEST_F(BlockTunerTest, SameSeedGivesBitwiseSameResult) {
  TuneOptions options = Options(20, /*v2=*/true);
  BlockTuneResult a = Tune(options);
  BlockTuneResult b = Tune(options);
  ExpectSameLayers(a, b);
  EXPECT_TRUE(torch::equal(a.x_q_next, b.x_q_next));
  EXPECT_EQ(a.best_loss, b.best_loss);
}

TEST_F(BlockTunerTest, V2PreTuneUsesTheImatrixSearchedScales) {
  // The imatrix of every Linear: sum over all tokens of its squared FP inputs.
  std::map<std::string, torch::Tensor> imatrix;
  BlockForward(config_, block_, MakeRopeTables(config_, x_.size(1), torch::kCPU), x_,
               [&](const std::string& name, const torch::Tensor& in) {
                 imatrix[name] = in.reshape({-1, in.size(-1)}).pow(2).sum(0);
               });
  const Scheme scheme{3, 8, true};
  BlockTuneResult r = Tune(Options(0, /*v2=*/true), scheme);
  ASSERT_EQ(r.layers.size(), 7u);
  for (const QuantizedLayer& layer : r.layers) {
    const std::string short_name = layer.name.substr(BlockPrefix(0).size());
    const torch::Tensor& w = block_.Linear(short_name);
    QuantParams params;
    params.init_scale = SearchSymScales(w, scheme, imatrix.at(short_name));
    QuantizedLayer expected = QuantizeToIntegers(layer.name, w, scheme, params);
    EXPECT_EQ(layer.scales, expected.scales) << layer.name;
    EXPECT_EQ(layer.codes, expected.codes) << layer.name;
  }
}

TEST_F(BlockTunerTest, OnlyTheListedLayersAreQuantized) {
  const Scheme scheme{4, 8, true};
  std::vector<LayerToTune> layers = {{"mlp.down_proj", "down", scheme},
                                     {"self_attn.q_proj", "q", scheme}};
  absl::StatusOr<BlockTuneResult> r =
      TuneBlock(config_, block_, x_, x_, layers, Options(0, false), nullptr, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->layers.size(), 2u);
  EXPECT_EQ(r->layers[0].name, "down");
  EXPECT_EQ(r->layers[1].name, "q");
  BlockWeights expected = block_;
  expected.down_proj = QuantDequant(block_.down_proj, scheme, {});
  expected.q_proj = QuantDequant(block_.q_proj, scheme, {});
  torch::Tensor y = BlockForward(config_, expected,
                                 MakeRopeTables(config_, x_.size(1), torch::kCPU), x_);
  EXPECT_TRUE(torch::allclose(r->x_q_next, y, 1e-6, 1e-6));
}

TEST_F(BlockTunerTest, CancellationStopsTuning) {
  int polls = 0, reports = 0;
  absl::StatusOr<BlockTuneResult> r = TuneBlock(
      config_, block_, x_, x_, AllLayers({4, 8, true}), Options(50, false),
      [&](double fraction, double) {
        ++reports;
        EXPECT_GT(fraction, 0);
      },
      [&] { return ++polls > 3; });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(reports, 3);
}

TEST_F(BlockTunerTest, RejectsBadInput) {
  std::vector<LayerToTune> unknown = {{"mlp.fc1", "model.layers.0.mlp.fc1", {4, 8, true}}};
  absl::StatusOr<BlockTuneResult> r =
      TuneBlock(config_, block_, x_, x_, unknown, Options(0, false), nullptr, nullptr);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("mlp.fc1"), absl::string_view::npos);

  r = TuneBlock(config_, block_, x_, x_.narrow(0, 0, 4), AllLayers({4, 8, true}),
                Options(0, false), nullptr, nullptr);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);

  r = TuneBlock(config_, block_, x_, x_, AllLayers({5, 8, true}), Options(0, false), nullptr,
                nullptr);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

BlockLossOptions Filtered() {
  BlockLossOptions options;
  options.filter_outliers = true;
  return options;
}

TEST(BlockLossTest, FilteringDropsExactlyTheTopTenthPercent) {
  torch::manual_seed(5);
  torch::Tensor target = torch::randn({5, 1000});
  torch::Tensor diff = torch::randn({5, 1000});
  torch::Tensor pred = (target + diff).requires_grad_(true);
  torch::Tensor loss = BlockLoss(pred, target, Filtered());
  loss.backward();

  const int64_t k = 5;  // 5000 / 1000
  torch::Tensor sorted = std::get<0>(diff.abs().reshape({-1}).sort(/*dim=*/0, /*descending=*/true));
  const double expected = sorted.narrow(0, k, 5000 - k).pow(2).sum().item<double>() / 5000;
  EXPECT_NEAR(loss.item<double>(), expected, 1e-6 * expected);
  EXPECT_EQ((pred.grad() == 0).sum().item<int64_t>(), k);

  torch::Tensor plain = BlockLoss(pred, target, {});
  EXPECT_NEAR(plain.item<double>(), diff.pow(2).mean().item<double>(), 1e-6);
}

TEST(BlockLossTest, FilteringDropsAtLeastOneElement) {
  torch::Tensor target = torch::zeros({10});
  torch::Tensor pred = torch::tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f, 9.f, 10.f});
  EXPECT_NEAR(BlockLoss(pred, target, Filtered()).item<double>(), 285.0 / 10, 1e-5);
}

TEST(BlockLossTest, SkippingTheLastPositionDropsItFromLossAndGradient) {
  torch::manual_seed(6);
  torch::Tensor target = torch::randn({2, 4, 3});
  torch::Tensor diff = torch::randn({2, 4, 3});
  torch::Tensor pred = (target + diff).requires_grad_(true);
  BlockLossOptions options;
  options.skip_last_position = true;
  torch::Tensor loss = BlockLoss(pred, target, options);
  loss.backward();

  const double expected = diff.narrow(1, 0, 3).pow(2).sum().item<double>() / diff.numel();
  EXPECT_NEAR(loss.item<double>(), expected, 1e-6 * expected);
  EXPECT_EQ((pred.grad().select(1, 3) == 0).sum().item<int64_t>(), 2 * 3);
  EXPECT_EQ((pred.grad().narrow(1, 0, 3) != 0).sum().item<int64_t>(), 2 * 3 * 3);
}

}  // namespace
}  // namespace sr2::worker
