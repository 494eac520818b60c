#include "common/model/synthetic_llama.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/model/model_layout.h"
#include "common/store/local_object_store.h"
#include "common/tensor/checkpoint.h"

namespace sr2 {
namespace {

TEST(SyntheticLlamaTest, WritesAValidDeterministicModel) {
  const std::string dir = ::testing::TempDir() + "/synthetic_llama_test";
  std::filesystem::remove_all(dir);
  auto model = LocalObjectStore::Create(dir + "/a/model");
  auto data = LocalObjectStore::Create(dir + "/a/data");
  ASSERT_TRUE(WriteSyntheticLlama(SyntheticLlamaOptions{}, *model, *data).ok());

  auto config = LlamaConfig::FromJson((*model->Read("config.json"))->view());
  ASSERT_TRUE(config.ok()) << config.status();
  auto checkpoint = CheckpointReader::Open(model);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  auto layout = ModelLayout::Inspect(*config, **checkpoint);
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->num_blocks(), 4);
  EXPECT_EQ(*data->Size("calib.tokens.i32"), 65536u * 4);

  auto model_b = LocalObjectStore::Create(dir + "/b/model");
  auto data_b = LocalObjectStore::Create(dir + "/b/data");
  ASSERT_TRUE(WriteSyntheticLlama(SyntheticLlamaOptions{}, *model_b, *data_b).ok());
  EXPECT_EQ((*model->Read("model.safetensors"))->view(),
            (*model_b->Read("model.safetensors"))->view());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sr2
