#include "common/model/model_layout.h"

#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "common/store/local_object_store.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

constexpr char kModelDir[] = "../shared/models/stories260K";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ModelLayoutTest : public testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<CheckpointReader>> reader =
        CheckpointReader::Open(LocalObjectStore::Create(kModelDir));
    ASSERT_TRUE(reader.ok()) << reader.status();
    real_ = std::move(*reader);
    absl::StatusOr<LlamaConfig> config =
        LlamaConfig::FromJson(ReadFile(std::string(kModelDir) + "/config.json"));
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
  }

  // The real checkpoint rewritten into a temp folder after `edit` changed its tensor list.
  std::unique_ptr<CheckpointReader> Rewritten(
      const std::function<void(std::vector<TensorRef>*)>& edit) {
    std::vector<TensorRef> tensors;
    for (const std::string& name : real_->TensorNames()) {
      const TensorInfo* info = real_->Find(name);
      tensors.push_back({name, info->dtype, info->shape, *real_->Bytes(name)});
    }
    edit(&tensors);
    absl::StatusOr<std::string> image = SerializeSafetensors(tensors);
    EXPECT_TRUE(image.ok()) << image.status();
    std::string dir = testing::TempDir() + "/model_layout_XXXXXX";
    EXPECT_NE(mkdtemp(dir.data()), nullptr);
    auto store = LocalObjectStore::Create(dir);
    EXPECT_TRUE(store->Write("model.safetensors", *image).ok());
    absl::StatusOr<std::unique_ptr<CheckpointReader>> reader = CheckpointReader::Open(store);
    EXPECT_TRUE(reader.ok()) << reader.status();
    return reader.ok() ? std::move(*reader) : nullptr;
  }

  void ExpectInvalid(const LlamaConfig& config, const CheckpointReader& checkpoint,
                     const std::string& message) {
    absl::StatusOr<ModelLayout> layout = ModelLayout::Inspect(config, checkpoint);
    EXPECT_EQ(layout.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(layout.status().message(), message);
  }

  std::unique_ptr<CheckpointReader> real_;
  LlamaConfig config_;
};

TEST(ModelLayoutNamesTest, BlockLinearsAndPrefix) {
  EXPECT_EQ(LlamaBlockLinears(),
            (std::vector<std::string>{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                      "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                                      "mlp.down_proj"}));
  EXPECT_EQ(BlockPrefix(12), "model.layers.12.");
  EXPECT_EQ(BlockOfTensor("model.layers.12.mlp.up_proj.weight"), 12);
  EXPECT_EQ(BlockOfTensor("model.layers.0.input_layernorm.weight"), 0);
  for (const char* other : {"model.norm.weight", "model.layers.07.mlp.up_proj.weight",
                            "model.layers.x.mlp", "model.layers.3", "model.layers.-1.mlp",
                            "lm_head.weight"}) {
    EXPECT_EQ(BlockOfTensor(other), std::nullopt) << other;
  }
}

TEST_F(ModelLayoutTest, InspectsStories260K) {
  absl::StatusOr<ModelLayout> layout = ModelLayout::Inspect(config_, *real_);
  ASSERT_TRUE(layout.ok()) << layout.status();
  ASSERT_EQ(layout->num_blocks(), 5);
  for (int b = 0; b < 5; ++b) {
    ASSERT_EQ(layout->blocks[b].size(), 7u);
    for (size_t k = 0; k < 7; ++k) {
      const LinearLayer& l = layout->blocks[b][k];
      EXPECT_EQ(l.block, b);
      EXPECT_EQ(l.short_name, LlamaBlockLinears()[k]);
      EXPECT_EQ(l.name, BlockPrefix(b) + l.short_name);
      EXPECT_FALSE(l.has_bias);
    }
  }
  const LinearLayer& down = layout->blocks[3][6];
  EXPECT_EQ(down.name, "model.layers.3.mlp.down_proj");
  EXPECT_EQ(down.out_features, 64);
  EXPECT_EQ(down.in_features, 172);
  const LinearLayer& k_proj = layout->blocks[0][1];
  EXPECT_EQ(k_proj.out_features, 32);
  EXPECT_EQ(k_proj.in_features, 64);
  EXPECT_EQ(layout->blocks[0][4].numel(), 172 * 64);
  EXPECT_EQ(layout->total_params, 260032);  // README: lm_head counted once.

  LlamaConfig untied = config_;
  untied.tie_word_embeddings = false;
  layout = ModelLayout::Inspect(untied, *real_);
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->total_params, 260032 + 512 * 64);
}

TEST_F(ModelLayoutTest, RejectsConfigThatDoesNotMatch) {
  LlamaConfig c = config_;
  c.intermediate_size = 128;
  ExpectInvalid(c, *real_,
                "tensor model.layers.0.mlp.gate_proj.weight has shape [172,64], expected [128,64]");
  c = config_;
  c.num_hidden_layers = 6;
  ExpectInvalid(c, *real_, "missing tensor model.layers.5.input_layernorm.weight");
  c = config_;
  c.attention_bias = true;
  ExpectInvalid(c, *real_, "missing tensor model.layers.0.self_attn.q_proj.bias");
  c = config_;
  c.num_key_value_heads = 8;
  ExpectInvalid(
      c, *real_,
      "tensor model.layers.0.self_attn.k_proj.weight has shape [32,64], expected [64,64]");
}

TEST_F(ModelLayoutTest, RejectsMissingTensor) {
  std::unique_ptr<CheckpointReader> broken = Rewritten([](std::vector<TensorRef>* t) {
    t->erase(std::remove_if(t->begin(), t->end(),
                            [](const TensorRef& r) {
                              return r.name == "model.layers.3.mlp.down_proj.weight";
                            }),
             t->end());
  });
  ASSERT_NE(broken, nullptr);
  ExpectInvalid(config_, *broken, "missing tensor model.layers.3.mlp.down_proj.weight");
}

TEST_F(ModelLayoutTest, RejectsNonFloatDtypeAndBadTiedHead) {
  const std::string ints(64 * 4, '\0');
  std::unique_ptr<CheckpointReader> broken = Rewritten([&](std::vector<TensorRef>* t) {
    for (TensorRef& r : *t) {
      if (r.name == "model.norm.weight") r = {r.name, DType::kI32, {64}, ints};
    }
  });
  ASSERT_NE(broken, nullptr);
  ExpectInvalid(config_, *broken,
                "tensor model.norm.weight has dtype I32, expected F32, F16 or BF16");

  broken = Rewritten([](std::vector<TensorRef>* t) {
    for (TensorRef& r : *t) {
      if (r.name == "lm_head.weight") {
        r.shape = {256, 64};
        r.bytes = r.bytes.substr(0, 256 * 64 * 4);
      }
    }
  });
  ASSERT_NE(broken, nullptr);
  ExpectInvalid(config_, *broken, "tensor lm_head.weight has shape [256,64], expected [512,64]");
}

TEST_F(ModelLayoutTest, AcceptsBiasesWhenConfigured) {
  std::vector<std::string> zeros;
  zeros.reserve(5 * 3);
  std::unique_ptr<CheckpointReader> with_bias = Rewritten([&](std::vector<TensorRef>* t) {
    for (int b = 0; b < 5; ++b) {
      for (const auto& [proj, out] :
           {std::pair<std::string, int64_t>{"q_proj", 64}, {"k_proj", 32}, {"v_proj", 32}}) {
        zeros.emplace_back(out * 4, '\0');
        t->push_back(
            {BlockPrefix(b) + "self_attn." + proj + ".bias", DType::kF32, {out}, zeros.back()});
      }
    }
  });
  ASSERT_NE(with_bias, nullptr);
  LlamaConfig c = config_;
  c.attention_bias = true;
  absl::StatusOr<ModelLayout> layout = ModelLayout::Inspect(c, *with_bias);
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_TRUE(layout->blocks[2][0].has_bias);
  EXPECT_TRUE(layout->blocks[2][2].has_bias);
  EXPECT_FALSE(layout->blocks[2][3].has_bias);  // o_proj
  EXPECT_EQ(layout->total_params, 260032 + 5 * (64 + 32 + 32));
}

}  // namespace
}  // namespace sr2
