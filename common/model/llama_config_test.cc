#include "common/model/llama_config.h"

#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace sr2 {
namespace {

using nlohmann::json;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json Minimal() {
  return json{{"model_type", "llama"},  {"architectures", {"LlamaForCausalLM"}},
              {"hidden_size", 64},      {"intermediate_size", 128},
              {"num_hidden_layers", 2}, {"num_attention_heads", 4},
              {"vocab_size", 100}};
}

void ExpectError(const json& j, absl::StatusCode code, const std::string& needle) {
  absl::StatusOr<LlamaConfig> c = LlamaConfig::FromJson(j.dump());
  EXPECT_EQ(c.status().code(), code) << j.dump();
  EXPECT_NE(c.status().message().find(needle), absl::string_view::npos)
      << c.status() << " should mention " << needle;
}

TEST(LlamaConfigTest, ParsesStories260K) {
  absl::StatusOr<LlamaConfig> c =
      LlamaConfig::FromJson(ReadFile("../shared/models/stories260K/config.json"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "llama");
  EXPECT_EQ(c->hidden_size, 64);
  EXPECT_EQ(c->intermediate_size, 172);
  EXPECT_EQ(c->num_hidden_layers, 5);
  EXPECT_EQ(c->num_attention_heads, 8);
  EXPECT_EQ(c->num_key_value_heads, 4);
  EXPECT_EQ(c->head_dim, 8);
  EXPECT_EQ(c->vocab_size, 512);
  EXPECT_EQ(c->max_position_embeddings, 512);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c->rope_theta, 10000.0);
  EXPECT_FALSE(c->attention_bias);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_EQ(c->torch_dtype, "float32");
}

TEST(LlamaConfigTest, AppliesDefaults) {
  absl::StatusOr<LlamaConfig> c = LlamaConfig::FromJson(Minimal().dump());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->head_dim, 16);
  EXPECT_EQ(c->num_key_value_heads, 4);
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c->rope_theta, 10000.0);
}

TEST(LlamaConfigTest, AcceptsMistralAndQwen2) {
  json j = Minimal();
  j["model_type"] = "mistral";
  j["architectures"] = {"MistralForCausalLM"};
  j["num_key_value_heads"] = 2;
  ASSERT_TRUE(LlamaConfig::FromJson(j.dump()).ok());

  j["model_type"] = "qwen2";
  j["architectures"] = {"Qwen2ForCausalLM"};
  absl::StatusOr<LlamaConfig> c = LlamaConfig::FromJson(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->attention_bias);  // Qwen2 always biases q/k/v.

  j.erase("model_type");  // Derived from the architecture.
  c = LlamaConfig::FromJson(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "qwen2");
}

TEST(LlamaConfigTest, RejectsOtherArchitectures) {
  json j = Minimal();
  j["model_type"] = "gpt2";
  ExpectError(j, absl::StatusCode::kUnimplemented, "unsupported architecture 'gpt2'");
  j = Minimal();
  j["architectures"] = {"MixtralForCausalLM"};
  ExpectError(j, absl::StatusCode::kUnimplemented, "'MixtralForCausalLM': sr2 quantizes");
  j = Minimal();
  j.erase("model_type");
  j.erase("architectures");
  ExpectError(j, absl::StatusCode::kInvalidArgument, "model_type");
}

TEST(LlamaConfigTest, RejectsUnsupportedFeatures) {
  json j = Minimal();
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  ExpectError(j, absl::StatusCode::kUnimplemented, "rope_scaling");
  j = Minimal();
  j["rope_scaling"] = nullptr;
  EXPECT_TRUE(LlamaConfig::FromJson(j.dump()).ok());
  j = Minimal();
  j["hidden_act"] = "gelu";
  ExpectError(j, absl::StatusCode::kUnimplemented, "hidden_act");
}

TEST(LlamaConfigTest, RejectsBadFields) {
  for (const char* field : {"hidden_size", "intermediate_size", "num_hidden_layers",
                            "num_attention_heads", "vocab_size"}) {
    json j = Minimal();
    j.erase(field);
    ExpectError(j, absl::StatusCode::kInvalidArgument, field);
    j[field] = 0;
    ExpectError(j, absl::StatusCode::kInvalidArgument, field);
    j[field] = "64";
    ExpectError(j, absl::StatusCode::kInvalidArgument, field);
  }
  json j = Minimal();
  j["num_key_value_heads"] = 3;
  ExpectError(j, absl::StatusCode::kInvalidArgument, "num_key_value_heads");
  j = Minimal();
  j["num_attention_heads"] = 5;  // 64 / 5 without head_dim.
  ExpectError(j, absl::StatusCode::kInvalidArgument, "head_dim");
  j["head_dim"] = 16;
  EXPECT_TRUE(LlamaConfig::FromJson(j.dump()).ok());
  j = Minimal();
  j["tie_word_embeddings"] = "yes";
  ExpectError(j, absl::StatusCode::kInvalidArgument, "tie_word_embeddings");
  ExpectError(json::array(), absl::StatusCode::kInvalidArgument, "object");
  EXPECT_EQ(LlamaConfig::FromJson("{\"hidden_size\": ").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sr2
