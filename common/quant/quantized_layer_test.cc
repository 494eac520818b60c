#include "common/quant/quantized_layer.h"

#include <cmath>
#include <deque>

#include "common/quant/random_layer_testutil.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

QuantizedLayer SmallAsym() {
  QuantizedLayer l;
  l.name = "model.layers.0.mlp.up_proj";
  l.scheme = Scheme{2, 2, false};
  l.out_features = 1;
  l.in_features = 4;
  l.group_size = 2;
  l.codes = {0, 3, 1, 2};
  l.scales = {0.5f, -2.0f};
  l.zeros = {3, 1};
  return l;
}

TEST(QuantizedLayerTest, DequantizesPerGroup) {
  const QuantizedLayer l = SmallAsym();
  ASSERT_TRUE(l.Validate().ok()) << l.Validate();
  EXPECT_EQ(l.groups(), 2);
  EXPECT_EQ(l.Dequantize(), (std::vector<float>{-1.5f, 0.0f, 0.0f, -2.0f}));
}

TEST(QuantizedLayerTest, ValidateNamesTheProblem) {
  const auto expect_invalid = [](const QuantizedLayer& l, const std::string& needle) {
    const absl::Status s = l.Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << needle;
    EXPECT_NE(s.message().find("model.layers.0.mlp.up_proj"), absl::string_view::npos) << s;
    EXPECT_NE(s.message().find(needle), absl::string_view::npos) << s;
  };
  QuantizedLayer l = SmallAsym();
  l.codes[2] = 4;
  expect_invalid(l, "codes[2]");
  l = SmallAsym();
  l.zeros.pop_back();
  expect_invalid(l, "zeros has 1 values");
  l = SmallAsym();
  l.scales[1] = 0.1f;  // Not an fp16 value.
  expect_invalid(l, "scales[1]");
  l = SmallAsym();
  l.scales[0] = std::nanf("");
  expect_invalid(l, "scales[0]");
  l = SmallAsym();
  l.group_size = 4;
  expect_invalid(l, "group_size");
  l = SmallAsym();
  l.scheme.sym = true;  // Sym zero points must be N = 2.
  expect_invalid(l, "zeros[0] = 3");
  l = SmallAsym();
  l.scheme.bits = 5;
  expect_invalid(l, "bits");
}

TEST(QuantizedLayerTest, TensorsRoundTripThroughSafetensors) {
  const QuantizedLayer a =
      RandomLayer("model.layers.0.self_attn.q_proj", Scheme{4, 32, true}, 8, 80, 1);
  const QuantizedLayer b =
      RandomLayer("model.layers.0.mlp.down_proj", Scheme{3, 128, false}, 4, 40, 2);
  std::vector<TensorRef> refs;
  std::deque<std::string> scratch;
  AppendLayerTensors(a, &refs, &scratch);
  AppendLayerTensors(b, &refs, &scratch);
  ASSERT_EQ(refs.size(), 6u);
  EXPECT_EQ(refs[1].name, "model.layers.0.self_attn.q_proj.scales");
  EXPECT_EQ(refs[1].dtype, DType::kF16);
  EXPECT_EQ(refs[1].shape, (std::vector<int64_t>{8, 3}));
  absl::StatusOr<std::string> image = SerializeSafetensors(refs);
  ASSERT_TRUE(image.ok()) << image.status();
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Parse(MakeStringBlob(*image), "blk.st");
  ASSERT_TRUE(file.ok()) << file.status();

  for (const QuantizedLayer* want : {&a, &b}) {
    absl::StatusOr<QuantizedLayer> got = ReadLayerTensors(*file, want->name, want->scheme);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->out_features, want->out_features);
    EXPECT_EQ(got->in_features, want->in_features);
    EXPECT_EQ(got->group_size, want->group_size);
    EXPECT_EQ(got->codes, want->codes);
    EXPECT_EQ(got->scales, want->scales);
    EXPECT_EQ(got->zeros, want->zeros);
  }
  // A scheme whose groups do not fit the stored tensors, and a missing layer.
  absl::StatusOr<QuantizedLayer> wrong = ReadLayerTensors(*file, a.name, Scheme{4, 16, true});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("blk.st"), absl::string_view::npos);
  EXPECT_EQ(ReadLayerTensors(*file, "model.layers.9.mlp.up_proj", a.scheme).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sr2
