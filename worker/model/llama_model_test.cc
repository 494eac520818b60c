#include "worker/model/llama_model.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include <torch/torch.h>

#include "common/data/token_file.h"
#include "common/store/local_object_store.h"
#include "common/tensor/checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace sr2::worker {
namespace {

constexpr char kModelDir[] = "../shared/models/stories260K";
constexpr char kEvalTokens[] = "../shared/data/tinystories/eval.tokens.i32";
constexpr int32_t kBos = 1;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<int64_t> JsonTokens(const std::string& path, const std::string& key) {
  return nlohmann::json::parse(ReadFile(path))[key].get<std::vector<int64_t>>();
}

class LlamaModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    at::set_num_threads(2);
    absl::StatusOr<LlamaModel> model =
        LoadLlamaModel(LocalObjectStore::Create(kModelDir), torch::kCPU);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = new LlamaModel(*std::move(model));
  }
  void SetUp() override { ASSERT_NE(model_, nullptr); }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  static LlamaModel* model_;
};
LlamaModel* LlamaModelTest::model_ = nullptr;

TEST_F(LlamaModelTest, LogitsMatchReference) {
  std::vector<int64_t> input =
      JsonTokens(std::string(kModelDir) + "/ref_logits_eval64.json", "input_tokens");
  ASSERT_EQ(input.size(), 64u);
  std::string ref_bytes = ReadFile(std::string(kModelDir) + "/ref_logits_eval64.f32");
  ASSERT_EQ(ref_bytes.size(), 64u * 512u * sizeof(float));
  std::vector<float> ref(64 * 512);
  std::memcpy(ref.data(), ref_bytes.data(), ref_bytes.size());

  torch::NoGradGuard no_grad;
  torch::Tensor logits = model_->Logits(torch::tensor(input).unsqueeze(0));
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{1, 64, 512}));
  torch::Tensor expected = torch::from_blob(ref.data(), {1, 64, 512}, torch::kFloat32);
  EXPECT_LE((logits - expected).abs().max().item<float>(), 1e-4f);
}

TEST_F(LlamaModelTest, GreedyFromBosMatchesReference) {
  std::vector<int64_t> expected =
      JsonTokens(std::string(kModelDir) + "/greedy_from_bos.json", "tokens");
  torch::NoGradGuard no_grad;
  std::vector<int64_t> tokens = {kBos};
  for (int step = 0; step < 256; ++step) {
    torch::Tensor logits = model_->Logits(torch::tensor(tokens).unsqueeze(0));
    int64_t next = logits[0][-1].argmax().item<int64_t>();
    if (next == kBos) break;
    tokens.push_back(next);
  }
  EXPECT_EQ(tokens, expected);
}

TEST_F(LlamaModelTest, PerplexityOnEvalTokens) {
  absl::StatusOr<std::vector<int32_t>> tokens = ParseTokenFile(ReadFile(kEvalTokens), 512, kEvalTokens);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  absl::StatusOr<std::vector<std::vector<int32_t>>> windows = AllWindows(*tokens, 256, kEvalTokens);
  ASSERT_TRUE(windows.ok()) << windows.status();
  ASSERT_EQ(windows->size(), 256u);

  PerplexityResult result = EvaluatePerplexity(*model_, *windows, 16);
  EXPECT_EQ(result.targets, 256 * 255);
  EXPECT_NEAR(result.perplexity(), 3.6025, 0.0005);
}

TEST_F(LlamaModelTest, PerplexityDoesNotDependOnBatching) {
  absl::StatusOr<std::vector<int32_t>> tokens = ParseTokenFile(ReadFile(kEvalTokens), 512, kEvalTokens);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  // Mixed lengths split batches; windows of one token have no targets.
  std::vector<std::vector<int32_t>> windows = {
      {tokens->begin(), tokens->begin() + 40},
      {tokens->begin() + 40, tokens->begin() + 80},
      {tokens->begin() + 80, tokens->begin() + 81},
      {tokens->begin() + 81, tokens->begin() + 111}};
  PerplexityResult batched = EvaluatePerplexity(*model_, windows, 8);
  double nll_sum = 0;
  for (const auto& w : windows) nll_sum += EvaluatePerplexity(*model_, {w}, 1).nll_sum;
  EXPECT_EQ(batched.targets, 39 + 39 + 29);
  EXPECT_NEAR(batched.nll_sum, nll_sum, 1e-3);
}

// A pipeline stage holds only its blocks, and the same weights as the whole model.
TEST_F(LlamaModelTest, PartsHoldOnlyTheirTensors) {
  ModelParts parts;
  parts.block_begin = 1;
  parts.block_end = 3;
  parts.embedding = false;
  parts.head = false;
  absl::StatusOr<LlamaModel> stage =
      LoadLlamaModel(LocalObjectStore::Create(kModelDir), torch::kCPU, parts);
  ASSERT_TRUE(stage.ok()) << stage.status();
  ASSERT_EQ(stage->num_blocks(), model_->num_blocks());
  for (int b = 0; b < stage->num_blocks(); ++b) {
    const bool held = b >= 1 && b < 3;
    EXPECT_EQ(stage->block(b).down_proj.defined(), held) << b;
    if (held) EXPECT_TRUE(torch::equal(stage->block(b).down_proj, model_->block(b).down_proj));
  }
  EXPECT_ANY_THROW(stage->Embed(torch::zeros({1, 2}, torch::kInt64)));

  parts.block_end = 9;
  stage = LoadLlamaModel(LocalObjectStore::Create(kModelDir), torch::kCPU, parts);
  EXPECT_EQ(stage.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LlamaModelCreateTest, MissingTensorIsInvalidArgument) {
  auto store = LocalObjectStore::Create(kModelDir);
  absl::StatusOr<BlobPtr> config_json = store->Read("config.json");
  ASSERT_TRUE(config_json.ok()) << config_json.status();
  absl::StatusOr<LlamaConfig> config = LlamaConfig::FromJson((*config_json)->view());
  ASSERT_TRUE(config.ok()) << config.status();
  auto checkpoint = CheckpointReader::Open(store);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  auto weights = LoadFloatWeights(**checkpoint, (*config_json)->view());
  ASSERT_TRUE(weights.ok()) << weights.status();

  std::map<std::string, FloatTensor> missing = *weights;
  missing.erase("model.layers.3.mlp.up_proj.weight");
  absl::StatusOr<LlamaModel> model = LlamaModel::Create(*config, missing, torch::kCPU);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(model.status().message(), ::testing::HasSubstr("model.layers.3.mlp.up_proj.weight"));

  std::map<std::string, FloatTensor> misshaped = *weights;
  misshaped["model.norm.weight"].shape = {32, 2};
  model = LlamaModel::Create(*config, misshaped, torch::kCPU);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(model.status().message(), ::testing::HasSubstr("model.norm.weight"));

  // Untied embeddings need lm_head.weight; tied ones fall back to the embedding.
  std::map<std::string, FloatTensor> no_head = *weights;
  no_head.erase("lm_head.weight");
  ASSERT_TRUE(LlamaModel::Create(*config, no_head, torch::kCPU).ok());
  LlamaConfig untied = *config;
  untied.tie_word_embeddings = false;
  model = LlamaModel::Create(untied, no_head, torch::kCPU);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(model.status().message(), ::testing::HasSubstr("lm_head.weight"));
}

}  // namespace
}  // namespace sr2::worker
