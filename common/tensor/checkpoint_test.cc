#include "common/tensor/checkpoint.h"

#include "common/util/sha256.h"
#include "common/util/test_dir.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/store/local_object_store.h"
#include "common/util/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace sr2 {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kModelDir[] = "../shared/models/stories260K";

template <typename T>
std::string RawBytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::FreshTestDir("sr2_ckpt");
    store_ = LocalObjectStore::Create(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Writes a safetensors file holding float tensors of the given names (4 floats each).
  void WriteShard(const std::string& key, const std::vector<std::string>& names) {
    static const std::string kBytes = RawBytes(std::vector<float>{1, 2, 3, 4});
    std::vector<TensorRef> refs;
    for (const std::string& name : names) refs.push_back({name, DType::kF32, {4}, kBytes});
    ASSERT_TRUE(store_->Write(key, *SerializeSafetensors(refs)).ok());
  }

  void WriteIndex(const nlohmann::json& weight_map) {
    const nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}};
    ASSERT_TRUE(store_->Write("model.safetensors.index.json", index.dump()).ok());
  }

  absl::Status OpenStatus() { return CheckpointReader::Open(store_).status(); }

  std::string root_;
  std::shared_ptr<LocalObjectStore> store_;
};

TEST(CheckpointReaderTest, OpensRealStories260K) {
  absl::StatusOr<std::unique_ptr<CheckpointReader>> reader =
      CheckpointReader::Open(LocalObjectStore::Create(kModelDir));
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_THAT((*reader)->files(), ElementsAre("model.safetensors"));
  const std::vector<std::string> names = (*reader)->TensorNames();
  EXPECT_EQ(names.size(), 48u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  absl::StatusOr<std::vector<float>> embed = (*reader)->ReadFloat("model.embed_tokens.weight");
  ASSERT_TRUE(embed.ok()) << embed.status();
  EXPECT_EQ(embed->size(), 512u * 64);
  // tie_word_embeddings: lm_head is stored equal to the embedding.
  EXPECT_EQ(*embed, *(*reader)->ReadFloat("lm_head.weight"));
  EXPECT_EQ((*reader)->Bytes("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*reader)->Find("nope"), nullptr);
}

TEST_F(CheckpointTest, ShardedWriteReadsBackEqual) {
  auto source = *CheckpointReader::Open(LocalObjectStore::Create(kModelDir));
  std::vector<OwnedTensor> tensors;
  uint64_t total = 0;
  for (const std::string& name : source->TensorNames()) {
    const TensorInfo& info = *source->Find(name);
    tensors.push_back({name, info.dtype, info.shape, std::string(*source->Bytes(name))});
    total += tensors.back().bytes.size();
  }
  CheckpointWriteOptions options;
  options.max_shard_bytes = 300'000;
  absl::StatusOr<std::vector<WrittenFile>> files =
      WriteCheckpoint(*store_, "out", tensors, options);
  ASSERT_TRUE(files.ok()) << files.status();
  std::vector<std::string> keys_list;
  for (const WrittenFile& f : *files) {
    keys_list.push_back(f.key);
    // What the writer reports is what the store holds.
    const BlobPtr written = *store_->Read("out/" + f.key);
    EXPECT_EQ(f.bytes, written->size()) << f.key;
    EXPECT_EQ(f.sha256, Sha256Hex(written->view())) << f.key;
  }
  const std::vector<std::string>* keys = &keys_list;
  // 1.18 MB of data in shards of at most 300,000 bytes: at least four shards, index last.
  const size_t shards = keys->size() - 1;
  ASSERT_GE(shards, 4u);
  for (size_t i = 0; i < shards; ++i) {
    char expected[64];
    std::snprintf(expected, sizeof(expected), "model-%05zu-of-%05zu.safetensors", i + 1, shards);
    EXPECT_EQ((*keys)[i], expected);
    // The data section stays within the limit; the rest is the JSON header.
    EXPECT_LE(*store_->Size("out/" + (*keys)[i]), options.max_shard_bytes + 8192);
  }
  EXPECT_EQ(keys->back(), "model.safetensors.index.json");

  const nlohmann::json index = nlohmann::json::parse(
      std::string((*store_->Read("out/model.safetensors.index.json"))->view()));
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), total);
  EXPECT_EQ(index["weight_map"].size(), 48u);

  absl::StatusOr<std::unique_ptr<CheckpointReader>> reader =
      CheckpointReader::Open(LocalObjectStore::Create(root_ + "/out"));
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->files(), *keys);
  EXPECT_EQ((*reader)->TensorNames(), source->TensorNames());
  for (const OwnedTensor& tensor : tensors) {
    EXPECT_EQ(*(*reader)->Bytes(tensor.name), tensor.bytes) << tensor.name;
    EXPECT_EQ((*reader)->Find(tensor.name)->shape, tensor.shape);
  }
}

TEST_F(CheckpointTest, SmallCheckpointIsOneFileAndReadFloatConverts) {
  std::vector<OwnedTensor> tensors = {
      {"f16", DType::kF16, {2}, RawBytes(std::vector<uint16_t>{0x3c00, 0xc000})},
      {"bf16", DType::kBF16, {2}, RawBytes(std::vector<uint16_t>{0x3fc0, 0x0000})},
      {"f64", DType::kF64, {1, 2}, RawBytes(std::vector<double>{0.25, -8})},
      {"i32", DType::kI32, {1}, RawBytes(std::vector<int32_t>{7})},
  };
  absl::StatusOr<std::vector<WrittenFile>> files =
      WriteCheckpoint(*store_, "", tensors, CheckpointWriteOptions{});
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].key, "model.safetensors");
  absl::StatusOr<std::unique_ptr<CheckpointReader>> reader = CheckpointReader::Open(store_);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_THAT(*(*reader)->ReadFloat("f16"), ElementsAre(1.0f, -2.0f));
  EXPECT_THAT(*(*reader)->ReadFloat("bf16"), ElementsAre(1.5f, 0.0f));
  EXPECT_THAT(*(*reader)->ReadFloat("f64"), ElementsAre(0.25f, -8.0f));
  absl::Status status = (*reader)->ReadFloat("i32").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("\"i32\" has dtype I32"));
  EXPECT_EQ((*reader)->ReadFloat("absent").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CheckpointTest, WriteRejectsDuplicateNames) {
  const std::string bytes(4, '\0');
  absl::Status status =
      WriteCheckpoint(*store_, "", {{"a", DType::kF32, {1}, bytes}, {"a", DType::kF32, {1}, bytes}},
                      CheckpointWriteOptions{})
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("\"a\" appears twice"));
}

TEST_F(CheckpointTest, EmptyFolderIsNotFound) {
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("model.safetensors.index.json"));
  EXPECT_THAT(status.message(), HasSubstr(root_));
}

TEST_F(CheckpointTest, IndexNamingMissingShardIsAnError) {
  WriteShard("model-00001-of-00002.safetensors", {"a"});
  WriteIndex(
      {{"a", "model-00001-of-00002.safetensors"}, {"b", "model-00002-of-00002.safetensors"}});
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("names shard model-00002-of-00002.safetensors, which does not exist"));
}

TEST_F(CheckpointTest, IndexNamingTensorAbsentFromShardIsAnError) {
  WriteShard("s1.safetensors", {"a"});
  WriteShard("s2.safetensors", {"b"});
  WriteIndex({{"a", "s1.safetensors"}, {"b", "s1.safetensors"}});
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("tensor \"b\" in s1.safetensors"));
}

TEST_F(CheckpointTest, TensorInTwoShardsIsAnError) {
  WriteShard("s1.safetensors", {"a", "dup"});
  WriteShard("s2.safetensors", {"b", "dup"});
  WriteIndex({{"a", "s1.safetensors"}, {"b", "s2.safetensors"}, {"dup", "s1.safetensors"}});
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("tensor \"dup\" is in both"));
}

TEST_F(CheckpointTest, ShardKeysMayNotEscapeTheFolder) {
  WriteIndex({{"a", "../x.safetensors"}});
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("../x.safetensors"));
}

TEST_F(CheckpointTest, MalformedIndexIsAnError) {
  ASSERT_TRUE(store_->Write("model.safetensors.index.json", "[1]").ok());
  EXPECT_THAT(OpenStatus().message(), HasSubstr("index.json: not a JSON object"));
  ASSERT_TRUE(store_->Write("model.safetensors.index.json", R"({"weight_map": 3})").ok());
  EXPECT_THAT(OpenStatus().message(), HasSubstr("\"weight_map\" is missing or not an object"));
  ASSERT_TRUE(store_->Write("model.safetensors.index.json", R"({"weight_map": {"a": 1}})").ok());
  EXPECT_THAT(OpenStatus().message(), HasSubstr("entry for \"a\" is not a string"));
}

}  // namespace
}  // namespace sr2
