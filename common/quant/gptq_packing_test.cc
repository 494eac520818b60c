#include "common/quant/gptq_packing.h"

#include <random>

#include "common/quant/random_layer_testutil.h"
#include "common/tensor/dtype.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

std::vector<uint32_t> RandomValues(int64_t n, int bits, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<uint32_t> dist(0, (1u << bits) - 1);
  std::vector<uint32_t> v(n);
  for (uint32_t& x : v) x = dist(rng);
  return v;
}

class PackRowsTest : public testing::TestWithParam<int> {};

TEST_P(PackRowsTest, RoundTrips) {
  const int bits = GetParam();
  const int64_t rows = 96, cols = 5;
  const std::vector<uint32_t> values = RandomValues(rows * cols, bits, 7 + bits);
  const std::vector<int32_t> packed = PackRows(values, rows, cols, bits);
  EXPECT_EQ(static_cast<int64_t>(packed.size()), rows * bits / 32 * cols);
  EXPECT_EQ(UnpackRows(packed, rows, cols, bits), values);
}

INSTANTIATE_TEST_SUITE_P(Bits, PackRowsTest, testing::Values(2, 3, 4, 8));

TEST(PackRowsTest, FourBitNibblesAreLittleEndFirst) {
  // One column, rows 0..7 hold 0..7, rows 8..15 hold 8..15 (word 0 and 1 of §4.3).
  std::vector<uint32_t> values(32);
  for (int r = 0; r < 32; ++r) values[r] = r % 16;
  const std::vector<int32_t> packed = PackRows(values, 32, 1, 4);
  ASSERT_EQ(packed.size(), 4u);
  EXPECT_EQ(static_cast<uint32_t>(packed[0]), 0x76543210u);
  EXPECT_EQ(static_cast<uint32_t>(packed[1]), 0xFEDCBA98u);
}

TEST(PackRowsTest, ThreeBitLayoutMatchesSpec) {
  // v10 = 0b101 and v21 = 0b110 straddle word boundaries.
  std::vector<uint32_t> v(32);
  for (int j = 0; j < 32; ++j) v[j] = (j * 5 + 3) % 8;
  v[10] = 5;
  v[21] = 6;
  uint32_t w0 = 0, w1 = 0, w2 = 0;
  for (int j = 0; j < 10; ++j) w0 |= v[j] << (3 * j);
  w0 |= (v[10] & 3u) << 30;
  w1 |= v[10] >> 2;
  for (int j = 11; j <= 20; ++j) w1 |= v[j] << (1 + 3 * (j - 11));
  w1 |= (v[21] & 1u) << 31;
  w2 |= v[21] >> 1;
  for (int j = 22; j < 32; ++j) w2 |= v[j] << (2 + 3 * (j - 22));

  const std::vector<int32_t> packed = PackRows(v, 32, 1, 3);
  ASSERT_EQ(packed.size(), 3u);
  EXPECT_EQ(static_cast<uint32_t>(packed[0]), w0);
  EXPECT_EQ(static_cast<uint32_t>(packed[1]), w1);
  EXPECT_EQ(static_cast<uint32_t>(packed[2]), w2);
  // Spot checks written out by hand: bits 30-31 of word0 are v10's low bits (01), bit 0 of
  // word1 is v10's bit 2 (1), bit 31 of word1 is v21's bit 0 (0), bits 0-1 of word2 are v21's
  // bits 1-2 (11).
  EXPECT_EQ(static_cast<uint32_t>(packed[0]) >> 30, 1u);
  EXPECT_EQ(static_cast<uint32_t>(packed[1]) & 1u, 1u);
  EXPECT_EQ(static_cast<uint32_t>(packed[1]) >> 31, 0u);
  EXPECT_EQ(static_cast<uint32_t>(packed[2]) & 3u, 3u);
  EXPECT_EQ(UnpackRows(packed, 32, 1, 3), v);
}

struct GptqCase {
  int bits;
  int group;
  bool sym;
  ZeroStorage zeros;
};

class GptqTest : public testing::TestWithParam<GptqCase> {};

TEST_P(GptqTest, RoundTripsLayer) {
  const GptqCase c = GetParam();
  const Scheme scheme{c.bits, c.group, c.sym};
  const int min_zero = c.zeros == ZeroStorage::kMinusOne ? 1 : 0;
  const QuantizedLayer layer =
      RandomLayer("model.layers.0.mlp.up_proj", scheme, 64, 96, 11 * c.bits + c.group, min_zero);
  absl::StatusOr<GptqTensors> packed = PackGptq(layer, c.zeros);
  ASSERT_TRUE(packed.ok()) << packed.status();
  const int64_t groups = layer.groups();
  EXPECT_EQ(static_cast<int64_t>(packed->qweight.size()), 96 * c.bits / 32 * 64);
  EXPECT_EQ(static_cast<int64_t>(packed->qzeros.size()), groups * 64 * c.bits / 32);
  ASSERT_EQ(static_cast<int64_t>(packed->scales.size()), groups * 64);
  ASSERT_EQ(packed->g_idx.size(), 96u);
  for (int64_t i = 0; i < 96; ++i) EXPECT_EQ(packed->g_idx[i], i / layer.group_size);
  // Scales are stored [groups, out].
  for (int64_t o = 0; o < 64; ++o) {
    for (int64_t g = 0; g < groups; ++g) {
      EXPECT_EQ(packed->scales[g * 64 + o], FloatToHalf(layer.scales[o * groups + g]));
    }
  }

  QuantizedLayer meta = layer;
  meta.codes.clear();
  meta.scales.clear();
  meta.zeros.clear();
  absl::StatusOr<QuantizedLayer> back = UnpackGptq(*packed, meta, c.zeros);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->codes, layer.codes);
  EXPECT_EQ(back->zeros, layer.zeros);
  EXPECT_EQ(back->scales, layer.scales);
  EXPECT_EQ(back->Dequantize(), layer.Dequantize());
}

INSTANTIATE_TEST_SUITE_P(Schemes, GptqTest,
                         testing::Values(GptqCase{2, 32, true, ZeroStorage::kMinusOne},
                                         GptqCase{3, 32, false, ZeroStorage::kMinusOne},
                                         GptqCase{4, 64, false,
                                                  ZeroStorage::kMinusOne},  // Short last group.
                                         GptqCase{8, -1, false, ZeroStorage::kMinusOne},
                                         GptqCase{4, 32, false, ZeroStorage::kAsIs},
                                         GptqCase{3, 128, true, ZeroStorage::kAsIs}));

TEST(GptqTest, SymmetricZeroWordsAreConstant) {
  for (const auto& [bits, word] : {std::pair<int, uint32_t>{4, 0x77777777u}, {2, 0x55555555u}}) {
    const QuantizedLayer layer = RandomLayer("l", Scheme{bits, 32, true}, 64, 64, bits);
    absl::StatusOr<GptqTensors> packed = PackGptq(layer);
    ASSERT_TRUE(packed.ok()) << packed.status();
    ASSERT_FALSE(packed->qzeros.empty());
    for (int32_t w : packed->qzeros) EXPECT_EQ(static_cast<uint32_t>(w), word) << bits;
  }
}

TEST(GptqTest, ZeroPointZeroNeedsAsIsStorage) {
  QuantizedLayer layer =
      RandomLayer("model.layers.1.mlp.up_proj", Scheme{4, 32, false}, 32, 32, 3, /*min_zero=*/1);
  layer.zeros[1] = 0;
  absl::StatusOr<GptqTensors> packed = PackGptq(layer, ZeroStorage::kMinusOne);
  EXPECT_EQ(packed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(packed.status().message().find("model.layers.1.mlp.up_proj"), absl::string_view::npos);
  packed = PackGptq(layer, ZeroStorage::kAsIs);
  ASSERT_TRUE(packed.ok()) << packed.status();
  QuantizedLayer meta = layer;
  absl::StatusOr<QuantizedLayer> back = UnpackGptq(*packed, meta, ZeroStorage::kAsIs);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->zeros, layer.zeros);
}

TEST(GptqTest, RejectsShapesThatAreNotMultiplesOf32) {
  EXPECT_TRUE(GptqCanHold(64, 64));
  EXPECT_FALSE(GptqCanHold(64, 172));
  EXPECT_FALSE(GptqCanHold(172, 64));
  const QuantizedLayer layer =
      RandomLayer("model.layers.0.mlp.down_proj", Scheme{4, 32, true}, 64, 172, 5);
  absl::StatusOr<GptqTensors> packed = PackGptq(layer);
  EXPECT_EQ(packed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(packed.status().message().find("model.layers.0.mlp.down_proj"),
            absl::string_view::npos);
}

TEST(GptqTest, UnpackRejectsMalformedTensors) {
  const QuantizedLayer layer = RandomLayer("l", Scheme{4, 32, true}, 32, 64, 9);
  absl::StatusOr<GptqTensors> packed = PackGptq(layer);
  ASSERT_TRUE(packed.ok());

  GptqTensors bad = *packed;
  bad.g_idx[40] = 0;  // Act-order permutation.
  EXPECT_EQ(UnpackGptq(bad, layer).status().code(), absl::StatusCode::kInvalidArgument);
  bad = *packed;
  bad.qweight.pop_back();
  EXPECT_EQ(UnpackGptq(bad, layer).status().code(), absl::StatusCode::kInvalidArgument);
  bad = *packed;
  bad.qzeros[0] = -1;  // Every field 15: zero point 16 does not fit 4 bits.
  EXPECT_EQ(UnpackGptq(bad, layer).status().code(), absl::StatusCode::kInvalidArgument);
  bad = *packed;
  bad.g_idx.clear();  // Optional.
  EXPECT_TRUE(UnpackGptq(bad, layer).ok());
}

}  // namespace
}  // namespace sr2
