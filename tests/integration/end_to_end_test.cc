// A real model quantized end to end by a coordinator and two workers over gRPC, checked
// against the published RTN perplexity and by loading the output as a plain model.
#include <filesystem>
#include <set>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/data/token_file.h"
#include "common/quant/float_weights.h"
#include "common/store/local_object_store.h"
#include "common/tensor/checkpoint.h"
#include "common/util/sha256.h"
#include "tests/integration/test_cluster.h"
#include "worker/model/llama_model.h"

namespace sr2::testing {
namespace {
namespace fs = std::filesystem;

// shared/data/tinystories/README.md: RTN asym W4G32 over all block Linears.
constexpr double kRtnW4G32Ppl = 3.9235;

struct LoadedOutput {
  std::string config_json;
  std::map<std::string, FloatTensor> weights;
};

LoadedOutput LoadOutput(const std::string& dir) {
  auto store = LocalObjectStore::Create(dir);
  auto checkpoint = CheckpointReader::Open(store);
  EXPECT_TRUE(checkpoint.ok()) << checkpoint.status();
  LoadedOutput out;
  out.config_json = ReadFile(dir + "/config.json");
  auto weights = LoadFloatWeights(**checkpoint, out.config_json);
  EXPECT_TRUE(weights.ok()) << weights.status();
  out.weights = *std::move(weights);
  return out;
}

// Perplexity of a checkpoint folder evaluated in this process, as any Llama loader would.
double PlainPerplexity(const LoadedOutput& model) {
  at::set_num_threads(2);
  auto config = LlamaConfig::FromJson(model.config_json);
  EXPECT_TRUE(config.ok());
  auto llama = worker::LlamaModel::Create(*config, model.weights, torch::kCPU);
  EXPECT_TRUE(llama.ok()) << llama.status();
  auto tokens = ParseTokenFile(ReadFile(kEvalTokens), config->vocab_size, kEvalTokens);
  auto windows = AllWindows(*tokens, 256, kEvalTokens);
  return worker::EvaluatePerplexity(*llama, *windows, 8).perplexity();
}

std::vector<std::string> SubmitArgs(const std::string& out, const std::string& format,
                                    const std::string& sym) {
  return {"submit", kStoriesModel, "--out", out, "--calib", kCalibTokens, "--eval", kEvalTokens,
          "--scheme", "W4G32", sym, "--algorithm", "rtn", "--format", format,
          "--nsamples", "16", "--seqlen", "256", "--wait"};
}

TEST(EndToEndTest, RtnW4G32AsymFakeMatchesPublishedPerplexity) {
  TestCluster cluster(2);
  const std::string out = cluster.dir() + "/stories-w4g32-fake";
  CommandResult r = cluster.Sr2ctl(SubmitArgs(out, "fake", "--asym"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string job = JobIdOf(r);
  nlohmann::json status = cluster.Status(job);
  EXPECT_EQ(status["state"], "SUCCEEDED");
  EXPECT_EQ(status["output_uri"], fs::absolute(out).lexically_normal().string());
  const double ppl = status["perplexity"].get<double>();
  EXPECT_NEAR(ppl, kRtnW4G32Ppl, kRtnW4G32Ppl * 0.005);

  // All seven Linears of every block are quantized.
  int quantized = 0;
  for (const auto& layer : status["result"]["layers"]) quantized += layer["quantized"].get<bool>();
  EXPECT_EQ(quantized, 5 * 7);

  // The output loads as a plain fp32 model and gives the same perplexity.
  LoadedOutput loaded = LoadOutput(out);
  EXPECT_NEAR(PlainPerplexity(loaded), ppl, 1e-6);

  // down_proj has 172 inputs: 5 groups of 32 and a short group of 12, each with at most
  // 2^4 distinct values per row.
  const FloatTensor& down = loaded.weights.at("model.layers.2.mlp.down_proj.weight");
  ASSERT_EQ(down.shape, (std::vector<int64_t>{64, 172}));
  for (int64_t row = 0; row < 64; ++row) {
    for (int64_t start = 0; start < 172; start += 32) {
      std::set<float> distinct;
      for (int64_t i = start; i < std::min<int64_t>(start + 32, 172); ++i) {
        distinct.insert(down.values[row * 172 + i]);
      }
      EXPECT_LE(distinct.size(), 16u);
    }
  }

  // The manifest is there and its hashes match the files.
  auto manifest = nlohmann::json::parse(ReadFile(out + "/sr2_manifest.json"));
  ASSERT_FALSE(manifest["files"].empty());
  for (const auto& f : manifest["files"]) {
    EXPECT_EQ(Sha256Hex(ReadFile(out + "/" + f["key"].get<std::string>())), f["sha256"]);
  }
  EXPECT_TRUE(fs::exists(out + "/tok512.bin"));
  // Nothing but the output is left next to it (no staging folder).
  int siblings = 0;
  for (const auto& e : fs::directory_iterator(cluster.dir())) {
    siblings += e.path().filename().string().find("stories") != std::string::npos;
  }
  EXPECT_EQ(siblings, 1);
}

TEST(EndToEndTest, AutoRoundPackedLayersDequantizeToTheFakeWeights) {
  TestCluster cluster(2);
  const std::string fake = cluster.dir() + "/fake", packed = cluster.dir() + "/packed";
  CommandResult a = cluster.Sr2ctl(SubmitArgs(fake, "fake", "--sym"));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  CommandResult b = cluster.Sr2ctl(SubmitArgs(packed, "auto_round", "--sym"));
  ASSERT_EQ(b.exit_code, 0) << b.err;

  LoadedOutput f = LoadOutput(fake), p = LoadOutput(packed);
  auto original = LoadFloatWeights(
      **CheckpointReader::Open(LocalObjectStore::Create(kStoriesModel)), "{}");
  ASSERT_TRUE(original.ok());
  for (int block = 0; block < 5; ++block) {
    for (const char* name : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                    "self_attn.o_proj"}) {
      const std::string w = "model.layers." + std::to_string(block) + "." + name + ".weight";
      EXPECT_EQ(p.weights.at(w).values, f.weights.at(w).values) << w;
      EXPECT_NE(p.weights.at(w).values, original->at(w).values) << w;
    }
    // 172 is not a multiple of 32: these stay unquantized in the packed format.
    for (const char* name : {"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"}) {
      const std::string w = "model.layers." + std::to_string(block) + "." + name + ".weight";
      EXPECT_EQ(p.weights.at(w).values, original->at(w).values) << w;
    }
  }
  nlohmann::json status = cluster.Status(JobIdOf(b));
  EXPECT_EQ(status["result"]["unquantized_layers"].size(), 15u);
  auto config = nlohmann::json::parse(p.config_json);
  const auto& q = config["quantization_config"];
  EXPECT_EQ(q["packing_format"], "auto_round:auto_gptq");
  EXPECT_EQ(q["bits"], 4);
  EXPECT_EQ(q["group_size"], 32);
  EXPECT_EQ(q["sym"], true);
  EXPECT_EQ(q["extra_config"]["model.layers.0.mlp.down_proj"]["bits"], 16);
  // The evaluation ran on the packed checkpoint; it must agree with an in-process load.
  EXPECT_NEAR(status["perplexity"].get<double>(), PlainPerplexity(p), 1e-6);
}

}  // namespace
}  // namespace sr2::testing
