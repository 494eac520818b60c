#include "worker/quant/delta_loss.h"

#include <cmath>
#include <random>
#include <utility>

#include <torch/torch.h>

#include "common/data/token_file.h"
#include "common/model/model_layout.h"
#include "common/store/blob.h"
#include "common/store/local_object_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/quant/weight_quantizer.h"

namespace sr2::worker {
namespace {

using ::testing::HasSubstr;

constexpr char kModelDir[] = "../shared/models/stories260K";
constexpr char kCalibDir[] = "../shared/data/tinystories";

LlamaConfig ToyConfig() {
  LlamaConfig c;
  c.model_type = "llama";
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 4;
  c.vocab_size = 32;
  c.max_position_embeddings = 64;
  c.rms_norm_eps = 1e-5;
  return c;
}

FloatTensor RandomTensor(std::vector<int64_t> shape, float stddev, float mean, std::mt19937& rng) {
  std::normal_distribution<float> dist(mean, stddev);
  FloatTensor t{std::move(shape), {}};
  int64_t numel = 1;
  for (int64_t d : t.shape) numel *= d;
  for (int64_t i = 0; i < numel; ++i) t.values.push_back(dist(rng));
  return t;
}

LlamaModel ToyModel(uint32_t seed) {
  const LlamaConfig c = ToyConfig();
  std::mt19937 rng(seed);
  std::map<std::string, FloatTensor> w;
  w["model.embed_tokens.weight"] = RandomTensor({c.vocab_size, c.hidden_size}, 1.0f, 0, rng);
  w["model.norm.weight"] = RandomTensor({c.hidden_size}, 0.1f, 1.0f, rng);
  w["lm_head.weight"] = RandomTensor({c.vocab_size, c.hidden_size}, 0.3f, 0, rng);
  const int64_t h = c.hidden_size, i = c.intermediate_size, q = 16, kv = 8;
  const std::vector<std::vector<int64_t>> shapes = {{q, h}, {kv, h}, {kv, h}, {h, q},
                                                    {i, h}, {i, h}, {h, i}};
  for (int b = 0; b < c.num_hidden_layers; ++b) {
    const std::string p = BlockPrefix(b);
    w[p + "input_layernorm.weight"] = RandomTensor({h}, 0.1f, 1.0f, rng);
    w[p + "post_attention_layernorm.weight"] = RandomTensor({h}, 0.1f, 1.0f, rng);
    for (size_t j = 0; j < shapes.size(); ++j) {
      w[p + LlamaBlockLinears()[j] + ".weight"] = RandomTensor(shapes[j], 0.3f, 0, rng);
    }
  }
  absl::StatusOr<LlamaModel> model = LlamaModel::Create(c, w, torch::kCPU);
  TORCH_CHECK(model.ok(), model.status().ToString());
  return *std::move(model);
}

std::vector<std::vector<int32_t>> RandomWindows(int count, int len, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<int32_t>> windows(count);
  for (auto& w : windows) {
    for (int t = 0; t < len; ++t) w.push_back(static_cast<int32_t>(rng() % vocab));
  }
  return windows;
}

std::vector<std::string> AllLinears(int num_blocks) {
  std::vector<std::string> names;
  for (int b = 0; b < num_blocks; ++b) {
    for (const std::string& s : LlamaBlockLinears()) names.push_back(BlockPrefix(b) + s);
  }
  return names;
}

// The reference: one autograd graph through the whole model, gradients at every qdq weight.
std::map<std::string, std::vector<double>> FullGraphScores(
    const LlamaModel& model, const std::vector<std::vector<int32_t>>& windows, int batch_size,
    const std::vector<std::string>& layer_names, const std::vector<Scheme>& options) {
  std::map<std::string, std::vector<double>> scores;
  for (const std::string& n : layer_names) scores[n].assign(options.size(), 0.0);
  const int64_t seq = static_cast<int64_t>(windows[0].size());
  const RopeTables rope = MakeRopeTables(model.config(), seq, torch::kCPU);
  torch::AutoGradMode grad_mode(true);
  for (size_t o = 0; o < options.size(); ++o) {
    std::vector<BlockWeights> blocks;
    std::vector<torch::Tensor> leaves;
    std::vector<std::pair<int, std::string>> leaf_layers;  // (block, short name)
    for (int b = 0; b < model.num_blocks(); ++b) {
      blocks.push_back(model.block(b));
      for (const std::string& s : LlamaBlockLinears()) {
        if (scores.count(BlockPrefix(b) + s) == 0) continue;
        blocks[b].Linear(s) =
            QuantDequant(model.block(b).Linear(s), options[o], {}).detach().requires_grad_(true);
        leaves.push_back(blocks[b].Linear(s));
        leaf_layers.emplace_back(b, s);
      }
    }
    for (size_t begin = 0; begin < windows.size(); begin += batch_size) {
      const size_t end = std::min(windows.size(), begin + batch_size);
      torch::Tensor tokens = torch::empty({static_cast<int64_t>(end - begin), seq}, torch::kInt64);
      for (size_t i = begin; i < end; ++i) tokens[i - begin].copy_(torch::tensor(windows[i]));
      torch::Tensor h = model.Embed(tokens);
      for (const BlockWeights& b : blocks) h = BlockForward(model.config(), b, rope, h);
      torch::Tensor logits = model.Head(h).narrow(1, 0, seq - 1);
      torch::Tensor loss = torch::nn::functional::cross_entropy(
          logits.reshape({-1, logits.size(-1)}), tokens.narrow(1, 1, seq - 1).reshape({-1}));
      std::vector<torch::Tensor> grads = torch::autograd::grad({loss}, leaves);
      for (size_t l = 0; l < leaves.size(); ++l) {
        const auto& [block, short_name] = leaf_layers[l];
        scores[BlockPrefix(block) + short_name][o] +=
            DeltaLossScore(grads[l], model.block(block).Linear(short_name), leaves[l]);
      }
    }
  }
  return scores;
}

TEST(DeltaLossTest, BlockReplayMatchesFullGraphBackward) {
  at::set_num_threads(2);
  const LlamaModel model = ToyModel(11);
  const auto windows = RandomWindows(5, 12, 32, 5);  // Batches of 2, 2 and 1.
  const std::vector<Scheme> options = {{2, 8, true}, {4, -1, false}};
  // Block 0 only partly targeted: the replay still has to pass through block 1.
  const std::vector<std::string> layers = {
      "model.layers.0.self_attn.k_proj", "model.layers.0.mlp.down_proj",
      "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.o_proj",
      "model.layers.1.mlp.up_proj"};
  DeltaLossOptions opts;
  opts.batch_size = 2;
  absl::StatusOr<std::map<std::string, std::vector<double>>> scores =
      ComputeDeltaLoss(model, windows, layers, options, opts, nullptr);
  ASSERT_TRUE(scores.ok()) << scores.status();
  const auto expected = FullGraphScores(model, windows, 2, layers, options);
  ASSERT_EQ(scores->size(), layers.size());
  for (const std::string& name : layers) {
    ASSERT_EQ(scores->at(name).size(), 2u);
    for (size_t o = 0; o < 2; ++o) {
      EXPECT_GT(expected.at(name)[o], 0.0) << name;
      EXPECT_NEAR(scores->at(name)[o], expected.at(name)[o], 1e-5 * expected.at(name)[o])
          << name << " option " << o;
    }
  }
}

// L(Ŵ, x) = <Block(x; Ŵ), R>, so dL/dŴ and dL/dx are exactly what BlockBackward returns for
// grad_output = R; compared with central differences in double precision.
TEST(DeltaLossTest, BlockGradientsMatchFiniteDifferences) {
  const LlamaModel model = ToyModel(12);
  const LlamaConfig& config = model.config();
  BlockWeights w = model.block(1);
  for (torch::Tensor* t : {&w.input_norm, &w.post_attention_norm, &w.q_proj, &w.k_proj,
                           &w.v_proj, &w.o_proj, &w.gate_proj, &w.up_proj, &w.down_proj}) {
    *t = t->to(torch::kFloat64);
  }
  RopeTables rope = MakeRopeTables(config, 6, torch::kCPU);
  rope.cos = rope.cos.to(torch::kFloat64);
  rope.sin = rope.sin.to(torch::kFloat64);
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({2, 6, 16}, torch::kFloat64);
  const torch::Tensor r = torch::randn({2, 6, 16}, torch::kFloat64);
  const std::vector<std::string> targets = {"self_attn.q_proj", "self_attn.v_proj",
                                            "mlp.down_proj"};
  const BlockGradients g = BlockBackward(config, w, targets, rope, x, r);

  torch::NoGradGuard no_grad;
  auto loss = [&](const BlockWeights& bw, const torch::Tensor& xin) {
    return (BlockForward(config, bw, rope, xin) * r).sum().item<double>();
  };
  constexpr double kEps = 1e-6;
  for (const std::string& t : targets) {
    for (int64_t flat : {int64_t{0}, int64_t{37}, int64_t{101}}) {
      BlockWeights plus = w, minus = w;
      plus.Linear(t) = w.Linear(t).clone();
      minus.Linear(t) = w.Linear(t).clone();
      plus.Linear(t).view({-1})[flat] += kEps;
      minus.Linear(t).view({-1})[flat] -= kEps;
      const double fd = (loss(plus, x) - loss(minus, x)) / (2 * kEps);
      const double analytic = g.weight_grads.at(t).view({-1})[flat].item<double>();
      EXPECT_NEAR(analytic, fd, 1e-7 + 1e-6 * std::abs(fd)) << t << "[" << flat << "]";
    }
  }
  for (int64_t flat : {int64_t{3}, int64_t{150}}) {
    torch::Tensor plus = x.clone(), minus = x.clone();
    plus.view({-1})[flat] += kEps;
    minus.view({-1})[flat] -= kEps;
    const double fd = (loss(w, plus) - loss(w, minus)) / (2 * kEps);
    EXPECT_NEAR(g.grad_input.view({-1})[flat].item<double>(), fd, 1e-7 + 1e-6 * std::abs(fd));
  }
}

TEST(DeltaLossTest, LosslessOptionScoresZero) {
  LlamaModel model = ToyModel(13);
  // Per-row 4-bit sym grid: codes in [-8, 7] times 1/16, each row reaching -8 (so the scale is
  // exactly 1/16 and fp16-representable).
  std::mt19937 rng(2);
  const std::vector<std::string> layers = AllLinears(model.num_blocks());
  for (int b = 0; b < model.num_blocks(); ++b) {
    for (const std::string& s : LlamaBlockLinears()) {
      torch::Tensor& w = model.block(b).Linear(s);
      torch::Tensor codes = torch::randint(-8, 8, w.sizes(), torch::kFloat32);
      codes.select(1, 0).fill_(-8);
      w = codes / 16.0;
    }
  }
  const std::vector<Scheme> options = {{4, -1, true}, {2, -1, true}};
  absl::StatusOr<std::map<std::string, std::vector<double>>> scores =
      ComputeDeltaLoss(model, RandomWindows(2, 10, 32, 1), layers, options, {}, nullptr);
  ASSERT_TRUE(scores.ok()) << scores.status();
  for (const std::string& name : layers) {
    EXPECT_EQ(scores->at(name)[0], 0.0) << name;
    EXPECT_GT(scores->at(name)[1], 0.0) << name;
  }
}

TEST(DeltaLossTest, RejectsBadInputAndHonoursCancellation) {
  const LlamaModel model = ToyModel(14);
  const auto windows = RandomWindows(2, 8, 32, 1);
  const std::vector<Scheme> options = {{4, -1, true}};
  for (const char* bad :
       {"model.layers.2.mlp.up_proj", "model.layers.0.mlp.fc1", "layers.0.mlp.up_proj",
        "model.layers.x.mlp.up_proj", "model.layers.00.mlp.up_proj"}) {
    auto r = ComputeDeltaLoss(model, windows, {std::string(bad)}, options, {}, nullptr);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr(bad));
  }
  const std::string up = "model.layers.0.mlp.up_proj";
  EXPECT_THAT(ComputeDeltaLoss(model, windows, {up, up}, options, {}, nullptr).status().message(),
              HasSubstr("twice"));
  EXPECT_EQ(ComputeDeltaLoss(model, windows, {up}, {}, {}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputeDeltaLoss(model, windows, {up}, {{5, 32, true}}, {}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputeDeltaLoss(model, windows, {up}, options, {0}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto bad_windows = windows;
  bad_windows[1][3] = 32;
  EXPECT_THAT(ComputeDeltaLoss(model, bad_windows, {up}, options, {}, nullptr).status().message(),
              HasSubstr("token id 32"));
  bad_windows = windows;
  bad_windows[1].pop_back();
  EXPECT_EQ(ComputeDeltaLoss(model, bad_windows, {up}, options, {}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputeDeltaLoss(model, {}, {up}, options, {}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);

  auto r = ComputeDeltaLoss(model, windows, {up}, options, {}, [] { return true; });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
}

TEST(DeltaLossTest, TwoBitScoresExceedFourBitOnStories260K) {
  at::set_num_threads(2);
  absl::StatusOr<LlamaModel> model = LoadLlamaModel(LocalObjectStore::Create(kModelDir), torch::kCPU);
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<BlobPtr> bytes = LocalObjectStore::Create(kCalibDir)->Read("calib.tokens.i32");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<std::vector<int32_t>> tokens =
      ParseTokenFile((*bytes)->view(), model->config().vocab_size, "calib.tokens.i32");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  absl::StatusOr<std::vector<std::vector<int32_t>>> windows =
      TakeWindows(*tokens, 2, 64, "calib.tokens.i32");
  ASSERT_TRUE(windows.ok()) << windows.status();

  const std::vector<std::string> layers = AllLinears(model->num_blocks());
  ASSERT_EQ(layers.size(), 35u);
  absl::StatusOr<std::map<std::string, std::vector<double>>> scores = ComputeDeltaLoss(
      *model, *windows, layers, {{2, 32, true}, {4, 32, true}}, {}, nullptr);
  ASSERT_TRUE(scores.ok()) << scores.status();
  for (const std::string& name : layers) {
    const std::vector<double>& s = scores->at(name);
    EXPECT_TRUE(std::isfinite(s[0]) && s[1] > 0) << name;
    EXPECT_GT(s[0], s[1]) << name;
  }
}

}  // namespace
}  // namespace sr2::worker
