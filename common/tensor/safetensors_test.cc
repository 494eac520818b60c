#include "common/tensor/safetensors.h"

#include <cstring>
#include <string>
#include <vector>

#include "common/store/local_object_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kModelDir[] = "../shared/models/stories260K";

template <typename T>
std::string RawBytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// A safetensors image with the given header text and `data_size` zero bytes of data.
std::string Image(const std::string& header, size_t data_size) {
  std::string out(8, '\0');
  const uint64_t length = header.size();
  std::memcpy(out.data(), &length, sizeof(length));
  return out + header + std::string(data_size, '\0');
}

absl::Status ParseStatus(std::string image) {
  return SafetensorsFile::Parse(MakeStringBlob(std::move(image)), "bad.safetensors").status();
}

TEST(SafetensorsTest, SerializeThenParseRoundTrips) {
  const std::string weights = RawBytes(std::vector<float>{1, 2, 3, 4, 5, 6});
  const std::string bias = RawBytes(std::vector<uint16_t>{0x3f80, 0xbf80, 0x0000});
  const std::string step = RawBytes(std::vector<int64_t>{42});
  absl::StatusOr<std::string> image = SerializeSafetensors({{"w", DType::kF32, {2, 3}, weights},
                                                            {"b", DType::kBF16, {3}, bias},
                                                            {"step", DType::kI64, {}, step},
                                                            {"empty", DType::kF32, {0, 4}, ""}},
                                                           {{"format", "pt"}});
  ASSERT_TRUE(image.ok()) << image.status();
  uint64_t header_size;
  std::memcpy(&header_size, image->data(), 8);
  EXPECT_EQ(header_size % 8, 0u);
  EXPECT_EQ(image->size(), 8 + header_size + weights.size() + bias.size() + step.size());

  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Parse(MakeStringBlob(*image), "rt");
  ASSERT_TRUE(file.ok()) << file.status();
  std::vector<std::string> names;
  for (const TensorInfo& info : file->tensors()) names.push_back(info.name);
  EXPECT_THAT(names, ElementsAre("b", "empty", "step", "w"));
  EXPECT_EQ(file->metadata().at("format"), "pt");

  const TensorInfo* w = file->Find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, DType::kF32);
  EXPECT_THAT(w->shape, ElementsAre(2, 3));
  EXPECT_EQ(w->numel(), 6);
  EXPECT_EQ(file->Bytes(*w), weights);
  EXPECT_EQ(file->Bytes(*file->Find("b")), bias);
  EXPECT_EQ(file->Find("step")->numel(), 1);
  EXPECT_EQ(file->Bytes(*file->Find("step")), step);
  EXPECT_EQ(file->Find("empty")->numel(), 0);
  EXPECT_EQ(file->Find("missing"), nullptr);
  // Data is laid out contiguously in name order.
  EXPECT_EQ(file->Find("b")->begin, 0u);
  EXPECT_EQ(file->Find("step")->begin, bias.size());
  EXPECT_EQ(file->Find("w")->begin, bias.size() + step.size());
}

TEST(SafetensorsTest, SerializeRejectsSizeMismatchAndDuplicates) {
  const std::string four_floats(16, '\0');
  absl::Status status = SerializeSafetensors({{"x", DType::kF32, {3}, four_floats}}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("\"x\""));
  status = SerializeSafetensors(
               {{"x", DType::kF32, {4}, four_floats}, {"x", DType::kF32, {4}, four_floats}})
               .status();
  EXPECT_THAT(status.message(), HasSubstr("appears twice"));
  status = SerializeSafetensors({{"y", DType::kF32, {-4}, four_floats}}).status();
  EXPECT_THAT(status.message(), HasSubstr("negative"));
}

TEST(SafetensorsTest, MalformedFilesNameTheProblem) {
  struct Case {
    std::string image;
    std::string expected;
  };
  std::string past_end = Image("{}", 0);
  past_end[0] = 100;
  const std::vector<Case> cases = {
      {"abc", "too short"},
      {past_end, "runs past the end of the file"},
      {Image("{not json", 0), "not valid JSON"},
      {Image("[1,2]", 0), "not a JSON object"},
      {Image(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4),
       "tensor \"t\": data_offsets [0,8] run past the end of the data section (4 bytes)"},
      {Image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
             12),
       "tensors \"a\" [0,8) and \"b\" [4,12) overlap"},
      {Image(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       "tensor \"t\": dtype F32 x shape [3] needs 12 bytes but data_offsets span 8"},
      {Image(R"({"t":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8),
       "tensor \"t\": unknown dtype \"Q4\""},
      {Image(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
       "tensor \"t\": \"shape\" entry -2 is not a non-negative integer"},
      {Image(R"({"t":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8),
       "not a non-negative integer"},
      {Image(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "reversed"},
      {Image(R"({"t":{"dtype":"F32","shape":[2]}})", 8), "\"data_offsets\" must be"},
      {Image(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", 8), "\"dtype\" is missing"},
      {Image(R"({"t":[1]})", 8), "tensor \"t\": entry is not a JSON object"},
      {Image(R"({"__metadata__":{"k":1}})", 0), "\"__metadata__\" value for \"k\""},
      {Image(R"({"t":{"dtype":"F32","shape":[4611686018427387904,8],"data_offsets":[0,8]}})", 8),
       "too large"},
  };
  for (const Case& c : cases) {
    absl::Status status = ParseStatus(c.image);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.expected;
    EXPECT_THAT(status.message(), HasSubstr("bad.safetensors: "));
    EXPECT_THAT(status.message(), HasSubstr(c.expected));
  }
}

// Claims a size it does not hold; Parse must reject the header length before reading past 8.
class OversizedBlob : public Blob {
 public:
  explicit OversizedBlob(uint64_t header_size) {
    std::memcpy(prefix_, &header_size, sizeof(prefix_));
  }
  const uint8_t* data() const override { return prefix_; }
  size_t size() const override { return 300'000'000; }

 private:
  uint8_t prefix_[8];
};

TEST(SafetensorsTest, HeaderOfOneHundredMegabytesIsRejected) {
  absl::Status status =
      SafetensorsFile::Parse(std::make_shared<OversizedBlob>(100'000'000), "big").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("big: header length 100000000 exceeds the limit"));
}

TEST(SafetensorsTest, TruncatedRealFileIsRejected) {
  BlobPtr blob = *LocalObjectStore::Create(kModelDir)->Read("model.safetensors");
  for (size_t keep : {size_t{0}, size_t{7}, size_t{100}, blob->size() - 1}) {
    absl::Status status = ParseStatus(std::string(blob->view().substr(0, keep)));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << keep;
  }
}

TEST(SafetensorsTest, ReadsRealStories260K) {
  auto store = LocalObjectStore::Create(kModelDir);
  absl::StatusOr<BlobPtr> blob = store->Read("model.safetensors");
  ASSERT_TRUE(blob.ok()) << blob.status();
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Parse(*blob, "model.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->tensors().size(), 48u);
  const TensorInfo* embed = file->Find("model.embed_tokens.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->dtype, DType::kF32);
  EXPECT_THAT(embed->shape, ElementsAre(512, 64));
  EXPECT_EQ(file->Bytes(*embed).size(), 512u * 64 * 4);
  const TensorInfo* down = file->Find("model.layers.4.mlp.down_proj.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_THAT(down->shape, ElementsAre(64, 172));

  // The bf16 file holds the same tensors, each element rounded to nearest even.
  absl::StatusOr<SafetensorsFile> bf16 =
      SafetensorsFile::Parse(*store->Read("model.bf16.safetensors"), "model.bf16.safetensors");
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  ASSERT_EQ(bf16->tensors().size(), 48u);
  for (const TensorInfo& info : file->tensors()) {
    const TensorInfo* half = bf16->Find(info.name);
    ASSERT_NE(half, nullptr) << info.name;
    EXPECT_EQ(half->dtype, DType::kBF16);
    EXPECT_EQ(half->shape, info.shape);
    std::vector<float> f32(info.numel());
    std::vector<uint16_t> b16(info.numel());
    std::memcpy(f32.data(), file->Bytes(info).data(), f32.size() * 4);
    std::memcpy(b16.data(), bf16->Bytes(*half).data(), b16.size() * 2);
    for (size_t i = 0; i < f32.size(); ++i) {
      ASSERT_EQ(FloatToBFloat16(f32[i]), b16[i]) << info.name << "[" << i << "]";
    }
  }
}

}  // namespace
}  // namespace sr2
