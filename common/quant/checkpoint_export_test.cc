#include "common/quant/checkpoint_export.h"

#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "common/quant/float_weights.h"
#include "common/quant/random_layer_testutil.h"
#include "common/store/local_object_store.h"
#include "common/tensor/dtype.h"
#include "common/util/sha256.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace sr2 {
namespace {

using nlohmann::json;

constexpr char kModelDir[] = "../shared/models/stories260K";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string MakeTempDir() {
  std::string dir = testing::TempDir() + "/export_XXXXXX";
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  return dir;
}

// A LocalObjectStore that remembers the order in which objects were completed.
class RecordingStore : public ObjectStore {
 public:
  explicit RecordingStore(std::string root) : inner_(LocalObjectStore::Create(std::move(root))) {}
  std::string uri() const override { return inner_->uri(); }
  absl::StatusOr<BlobPtr> Read(std::string_view key) override { return inner_->Read(key); }
  absl::StatusOr<std::string> ReadRange(std::string_view key, uint64_t offset,
                                        uint64_t length) override {
    return inner_->ReadRange(key, offset, length);
  }
  absl::StatusOr<uint64_t> Size(std::string_view key) override { return inner_->Size(key); }
  absl::Status Write(std::string_view key, std::string_view data) override {
    written.emplace_back(key);
    return inner_->Write(key, data);
  }
  absl::StatusOr<std::unique_ptr<ObjectWriter>> NewWriter(std::string_view key) override {
    written.emplace_back(key);
    return inner_->NewWriter(key);
  }
  absl::StatusOr<std::vector<std::string>> List(std::string_view prefix) override {
    return inner_->List(prefix);
  }
  absl::Status Delete(std::string_view key) override { return inner_->Delete(key); }
  absl::Status DeletePrefix(std::string_view prefix) override {
    return inner_->DeletePrefix(prefix);
  }
  absl::Status Publish(std::string_view from, std::string_view to) override {
    return inner_->Publish(from, to);
  }

  std::vector<std::string> written;

 private:
  std::shared_ptr<LocalObjectStore> inner_;
};

class CheckpointExportTest : public testing::Test {
 protected:
  void SetUp() override { Load(kModelDir); }

  void Load(const std::string& dir) {
    model_store_ = LocalObjectStore::Create(dir);
    absl::StatusOr<std::unique_ptr<CheckpointReader>> reader = CheckpointReader::Open(model_store_);
    ASSERT_TRUE(reader.ok()) << reader.status();
    checkpoint_ = std::move(*reader);
    config_json_ = ReadFile(std::string(kModelDir) + "/config.json");
    absl::StatusOr<LlamaConfig> config = LlamaConfig::FromJson(config_json_);
    ASSERT_TRUE(config.ok()) << config.status();
    absl::StatusOr<ModelLayout> layout = ModelLayout::Inspect(*config, *checkpoint_);
    ASSERT_TRUE(layout.ok()) << layout.status();
    layout_ = *layout;
  }

  // Random layers for every Linear whose short name passes `keep`, each with scheme_of(name).
  void AddLayers(const std::function<bool(const LinearLayer&)>& keep,
                 const std::function<Scheme(const LinearLayer&)>& scheme_of, int min_zero) {
    uint32_t seed = 1;
    for (const auto& block : layout_.blocks) {
      for (const LinearLayer& l : block) {
        if (!keep(l)) continue;
        layers_[l.name] =
            RandomLayer(l.name, scheme_of(l), l.out_features, l.in_features, seed++, min_zero);
      }
    }
  }
  void AddAttentionLayers(const Scheme& scheme, int min_zero = 0) {
    AddLayers([](const LinearLayer& l) { return l.short_name.rfind("self_attn.", 0) == 0; },
              [&](const LinearLayer&) { return scheme; }, min_zero);
  }

  absl::StatusOr<ExportResult> Export(ExportFormat format, const Scheme& scheme,
                                      std::map<std::string, std::string> tuning = {}) {
    ExportSource source;
    source.model_store = model_store_;
    source.checkpoint = checkpoint_.get();
    source.layout = &layout_;
    source.config_json = config_json_;
    source.layers = &layers_;
    ExportSpec spec;
    spec.format = format;
    spec.scheme = scheme;
    spec.tuning = std::move(tuning);
    out_dir_ = MakeTempDir();
    out_ = std::make_unique<RecordingStore>(out_dir_);
    return ExportCheckpoint(source, spec, *out_, "out");
  }

  std::unique_ptr<CheckpointReader> OpenOutput() {
    absl::StatusOr<std::unique_ptr<CheckpointReader>> reader =
        CheckpointReader::Open(LocalObjectStore::Create(out_dir_ + "/out"));
    EXPECT_TRUE(reader.ok()) << reader.status();
    return reader.ok() ? std::move(*reader) : nullptr;
  }
  std::string OutputFile(const std::string& key) { return ReadFile(out_dir_ + "/out/" + key); }
  json OutputQuantConfig() { return json::parse(OutputFile("config.json"))["quantization_config"]; }

  // LoadFloatWeights on the output gives Dequantize() for every quantized layer and the source
  // values for everything else.
  void ExpectFloatWeightsMatch() {
    std::unique_ptr<CheckpointReader> output = OpenOutput();
    ASSERT_NE(output, nullptr);
    absl::StatusOr<std::map<std::string, FloatTensor>> weights =
        LoadFloatWeights(*output, OutputFile("config.json"));
    ASSERT_TRUE(weights.ok()) << weights.status();
    EXPECT_EQ(weights->size(), checkpoint_->TensorNames().size());
    for (const std::string& name : checkpoint_->TensorNames()) {
      auto it = weights->find(name);
      ASSERT_NE(it, weights->end()) << name;
      EXPECT_EQ(it->second.shape, checkpoint_->Find(name)->shape) << name;
      const std::string layer = name.substr(0, name.size() - std::string(".weight").size());
      if (layers_.count(layer) != 0) {
        EXPECT_EQ(it->second.values, layers_.at(layer).Dequantize()) << name;
      } else {
        EXPECT_EQ(it->second.values, *checkpoint_->ReadFloat(name)) << name;
      }
    }
  }

  ObjectStorePtr model_store_;
  std::unique_ptr<CheckpointReader> checkpoint_;
  std::string config_json_;
  ModelLayout layout_;
  std::map<std::string, QuantizedLayer> layers_;
  std::string out_dir_;
  std::unique_ptr<RecordingStore> out_;
};

TEST(ExportFormatTest, ParsesNames) {
  for (ExportFormat f : {ExportFormat::kFake, ExportFormat::kAutoRound, ExportFormat::kAutoGptq}) {
    absl::StatusOr<ExportFormat> parsed = ParseExportFormat(ExportFormatName(f));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, f);
  }
  EXPECT_EQ(ParseExportFormat("gguf").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CheckpointExportTest, RejectsBadTuningSettings) {
  const Scheme scheme{4, 32, true};
  AddAttentionLayers(scheme);
  EXPECT_EQ(Export(ExportFormat::kAutoRound, scheme, {{"iters", "two hundred"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Export(ExportFormat::kAutoRound, scheme, {{"bits", "8"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(out_->written.empty());
}

TEST_F(CheckpointExportTest, FakeWritesDequantizedWeightsAndUnchangedConfig) {
  const Scheme scheme{4, 32, true};
  AddLayers([](const LinearLayer&) { return true; },  // fake holds the 172-wide layers too.
            [&](const LinearLayer&) { return scheme; }, 0);
  absl::StatusOr<ExportResult> result = Export(ExportFormat::kFake, scheme);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(OutputFile("config.json"), config_json_);
  EXPECT_EQ(out_->written.back(), "out/sr2_manifest.json");
  std::unique_ptr<CheckpointReader> output = OpenOutput();
  ASSERT_NE(output, nullptr);
  EXPECT_EQ(output->TensorNames(), checkpoint_->TensorNames());
  EXPECT_EQ(output->Find("model.layers.4.mlp.down_proj.weight")->dtype, DType::kF32);
  ExpectFloatWeightsMatch();
}

TEST_F(CheckpointExportTest, FakeKeepsSourceDtype) {
  const std::string dir = MakeTempDir();
  auto store = LocalObjectStore::Create(dir);
  ASSERT_TRUE(
      store
          ->Write("model.safetensors", ReadFile(std::string(kModelDir) + "/model.bf16.safetensors"))
          .ok());
  Load(dir);
  const Scheme scheme{2, 32, false};
  AddAttentionLayers(scheme);
  absl::StatusOr<ExportResult> result = Export(ExportFormat::kFake, scheme);
  ASSERT_TRUE(result.ok()) << result.status();
  std::unique_ptr<CheckpointReader> output = OpenOutput();
  ASSERT_NE(output, nullptr);
  const std::string name = "model.layers.1.self_attn.v_proj.weight";
  EXPECT_EQ(output->Find(name)->dtype, DType::kBF16);
  absl::StatusOr<std::vector<float>> values = output->ReadFloat(name);
  ASSERT_TRUE(values.ok());
  const std::vector<float> expected = layers_.at("model.layers.1.self_attn.v_proj").Dequantize();
  ASSERT_EQ(values->size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*values)[i], BFloat16ToFloat(FloatToBFloat16(expected[i])));
  }
}

TEST_F(CheckpointExportTest, AutoRoundSymmetric) {
  const Scheme scheme{4, 32, true};
  AddAttentionLayers(scheme);
  absl::StatusOr<ExportResult> result =
      Export(ExportFormat::kAutoRound, scheme, {{"iters", "0"}, {"dataset", "\"tinystories\""}});
  ASSERT_TRUE(result.ok()) << result.status();

  std::unique_ptr<CheckpointReader> output = OpenOutput();
  ASSERT_NE(output, nullptr);
  const std::string q = "model.layers.2.self_attn.q_proj";
  EXPECT_EQ(output->Find(q + ".weight"), nullptr);
  ASSERT_NE(output->Find(q + ".qweight"), nullptr);
  EXPECT_EQ(output->Find(q + ".qweight")->dtype, DType::kI32);
  EXPECT_EQ(output->Find(q + ".qweight")->shape, (std::vector<int64_t>{8, 64}));
  EXPECT_EQ(output->Find(q + ".qzeros")->shape, (std::vector<int64_t>{2, 8}));
  EXPECT_EQ(output->Find(q + ".scales")->dtype, DType::kF16);
  EXPECT_EQ(output->Find(q + ".scales")->shape, (std::vector<int64_t>{2, 64}));
  EXPECT_EQ(output->Find(q + ".g_idx"), nullptr);
  EXPECT_EQ(output->Find("model.layers.1.self_attn.k_proj.qweight")->shape,
            (std::vector<int64_t>{8, 32}));
  absl::StatusOr<std::string_view> zeros = output->Bytes(q + ".qzeros");
  ASSERT_TRUE(zeros.ok());
  for (size_t i = 0; i < zeros->size(); i += 4) {
    EXPECT_EQ(zeros->substr(i, 4), std::string(4, '\x77'));
  }

  const json config = json::parse(OutputFile("config.json"));
  EXPECT_EQ(config["hidden_size"], 64);
  EXPECT_EQ(config["architectures"][0], "LlamaForCausalLM");
  const json& qc = config["quantization_config"];
  EXPECT_EQ(qc["bits"], 4);
  EXPECT_EQ(qc["group_size"], 32);
  EXPECT_EQ(qc["sym"], true);
  EXPECT_EQ(qc["data_type"], "int");
  EXPECT_EQ(qc["quant_method"], "auto-round");
  EXPECT_EQ(qc["packing_format"], "auto_round:auto_gptq");
  EXPECT_EQ(qc["autoround_version"], "0.15.0");
  EXPECT_EQ(qc["block_name_to_quantize"], "model.layers");
  EXPECT_EQ(qc["iters"], 0);
  EXPECT_EQ(qc["dataset"], "tinystories");
  // The MLP Linears (172 wide) stay unquantized; attention layers match the global scheme.
  ASSERT_EQ(qc["extra_config"].size(), 15u);
  EXPECT_EQ(qc["extra_config"]["model.layers.0.mlp.down_proj"],
            (json{{"bits", 16}, {"data_type", "fp"}}));
  EXPECT_FALSE(qc["extra_config"].contains(q));
  EXPECT_EQ(json::parse(OutputFile("quantization_config.json")), qc);
  ExpectFloatWeightsMatch();
}

TEST_F(CheckpointExportTest, AutoRoundAsymmetricStoresZerosAsIs) {
  const Scheme scheme{4, 32, false};
  AddAttentionLayers(scheme, /*min_zero=*/0);
  layers_.at("model.layers.0.self_attn.o_proj").zeros[0] = 0;
  absl::StatusOr<ExportResult> result = Export(ExportFormat::kAutoRound, scheme);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(OutputQuantConfig()["packing_format"], "auto_round");
  EXPECT_EQ(OutputQuantConfig()["sym"], false);
  ExpectFloatWeightsMatch();
}

TEST_F(CheckpointExportTest, AutoRoundMixedBits) {
  const Scheme global{4, 32, true};
  AddLayers([](const LinearLayer& l) { return l.short_name.rfind("self_attn.", 0) == 0; },
            [&](const LinearLayer& l) {
              if (l.short_name == "self_attn.k_proj") return Scheme{2, 32, true};
              if (l.name == "model.layers.3.self_attn.o_proj") return Scheme{4, 64, true};
              return global;
            },
            0);
  absl::StatusOr<ExportResult> result = Export(ExportFormat::kAutoRound, global);
  ASSERT_TRUE(result.ok()) << result.status();
  const json qc = OutputQuantConfig();
  EXPECT_EQ(qc["extra_config"]["model.layers.4.self_attn.k_proj"], (json{{"bits", 2}}));
  EXPECT_EQ(qc["extra_config"]["model.layers.3.self_attn.o_proj"], (json{{"group_size", 64}}));
  EXPECT_FALSE(qc["extra_config"].contains("model.layers.3.self_attn.q_proj"));
  std::unique_ptr<CheckpointReader> output = OpenOutput();
  ASSERT_NE(output, nullptr);
  EXPECT_EQ(output->Find("model.layers.4.self_attn.k_proj.qweight")->shape,
            (std::vector<int64_t>{4, 32}));
  ExpectFloatWeightsMatch();
}

TEST_F(CheckpointExportTest, AutoGptqWritesGIdxAndDynamic) {
  const Scheme global{4, 32, true};
  AddLayers([](const LinearLayer& l) { return l.short_name.rfind("self_attn.", 0) == 0; },
            [&](const LinearLayer& l) {
              return l.short_name == "self_attn.v_proj" ? Scheme{3, 32, true} : global;
            },
            0);
  absl::StatusOr<ExportResult> result = Export(ExportFormat::kAutoGptq, global);
  ASSERT_TRUE(result.ok()) << result.status();
  std::unique_ptr<CheckpointReader> output = OpenOutput();
  ASSERT_NE(output, nullptr);
  const TensorInfo* g_idx = output->Find("model.layers.0.self_attn.o_proj.g_idx");
  ASSERT_NE(g_idx, nullptr);
  EXPECT_EQ(g_idx->dtype, DType::kI32);
  EXPECT_EQ(g_idx->shape, (std::vector<int64_t>{64}));

  const json qc = OutputQuantConfig();
  EXPECT_EQ(qc["quant_method"], "gptq");
  EXPECT_EQ(qc["bits"], 4);
  EXPECT_EQ(qc["desc_act"], false);
  EXPECT_EQ(qc["true_sequential"], false);
  EXPECT_EQ(qc["damp_percent"], 0.01);
  EXPECT_EQ(qc["provider"], "auto-round");
  EXPECT_EQ(qc["lm_head"], false);
  EXPECT_EQ(qc["dynamic"][R"(+:.*model\.layers\.2\.self_attn\.v_proj.*)"],
            (json{{"bits", 3}, {"group_size", 32}, {"sym", true}}));
  EXPECT_EQ(qc["dynamic"][R"(-:.*model\.layers\.2\.mlp\.up_proj.*)"], json::object());
  EXPECT_EQ(qc["dynamic"].size(), 5u + 15u);
  EXPECT_EQ(json::parse(OutputFile("quantization_config.json")), qc);
  ExpectFloatWeightsMatch();
}

TEST_F(CheckpointExportTest, ManifestHashesEveryFileAndComesLast) {
  const Scheme scheme{4, 32, true};
  AddAttentionLayers(scheme);
  absl::StatusOr<ExportResult> result = Export(ExportFormat::kAutoRound, scheme);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_FALSE(out_->written.empty());
  EXPECT_EQ(out_->written.back(), "out/sr2_manifest.json");

  const std::string manifest_text = OutputFile("sr2_manifest.json");
  EXPECT_EQ(Sha256Hex(manifest_text), result->manifest_sha256);
  const json manifest = json::parse(manifest_text);
  EXPECT_EQ(manifest["format"], "auto_round");
  EXPECT_EQ(manifest["created_by"], "sr2");
  std::vector<std::string> keys;
  for (const json& f : manifest["files"]) {
    const std::string key = f["key"];
    const std::string data = OutputFile(key);
    EXPECT_EQ(f["bytes"], data.size()) << key;
    EXPECT_EQ(f["sha256"], Sha256Hex(data)) << key;
    keys.push_back(key);
  }
  ASSERT_EQ(result->files.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(result->files[i].key, keys[i]);
  // Every written file is listed, and the tokenizer files were copied unchanged.
  absl::StatusOr<std::vector<std::string>> listed = out_->List("out/");
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> expected;
  for (const std::string& k : keys) expected.push_back("out/" + k);
  expected.push_back("out/sr2_manifest.json");
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(*listed, expected);
  EXPECT_EQ(OutputFile("tok512.bin"), ReadFile(std::string(kModelDir) + "/tok512.bin"));
  EXPECT_NE(std::find(keys.begin(), keys.end(), "tok512.json"), keys.end());
}

TEST_F(CheckpointExportTest, PackedFormatsRejectLayersTheyCannotHold) {
  const Scheme scheme{4, 32, true};
  AddAttentionLayers(scheme);
  const LinearLayer& down = layout_.blocks[1][6];
  layers_[down.name] = RandomLayer(down.name, scheme, down.out_features, down.in_features, 99);
  for (ExportFormat format : {ExportFormat::kAutoRound, ExportFormat::kAutoGptq}) {
    absl::StatusOr<ExportResult> result = Export(format, scheme);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(result.status().message().find("model.layers.1.mlp.down_proj"),
              absl::string_view::npos)
        << result.status();
    EXPECT_TRUE(out_->written.empty());
  }
}

TEST_F(CheckpointExportTest, RejectsLayersThatDoNotMatchTheModel) {
  const Scheme scheme{4, 32, true};
  layers_["model.layers.0.self_attn.q_proj"] =
      RandomLayer("model.layers.0.self_attn.q_proj", scheme, 32, 64, 1);
  EXPECT_EQ(Export(ExportFormat::kFake, scheme).status().code(),
            absl::StatusCode::kInvalidArgument);
  layers_.clear();
  layers_["lm_head"] = RandomLayer("lm_head", scheme, 512, 64, 1);
  EXPECT_EQ(Export(ExportFormat::kFake, scheme).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CheckpointExportTest, LoadFloatWeightsReadsUnquantizedModels) {
  absl::StatusOr<std::map<std::string, FloatTensor>> weights =
      LoadFloatWeights(*checkpoint_, config_json_);
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_EQ(weights->size(), 48u);
  EXPECT_EQ(weights->at("model.norm.weight").values, *checkpoint_->ReadFloat("model.norm.weight"));
  json awq = json::parse(config_json_);
  awq["quantization_config"] = {{"quant_method", "awq"}, {"bits", 4}, {"group_size", 128}};
  EXPECT_EQ(LoadFloatWeights(*checkpoint_, awq.dump()).status().code(),
            absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace sr2
