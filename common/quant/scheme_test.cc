#include "common/quant/scheme.h"

#include "gtest/gtest.h"

namespace sr2 {
namespace {

TEST(SchemeTest, ParsesNames) {
  absl::StatusOr<Scheme> s = ParseScheme("W4G128", true);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->bits, 4);
  EXPECT_EQ(s->group_size, 128);
  EXPECT_TRUE(s->sym);
  EXPECT_EQ(SchemeName(*s), "W4G128");

  s = ParseScheme("w2g-1", false);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->bits, 2);
  EXPECT_EQ(s->group_size, -1);
  EXPECT_FALSE(s->sym);
  EXPECT_EQ(SchemeName(*s), "W2G-1");
}

TEST(SchemeTest, RejectsBadNames) {
  for (const char* bad : {"W5G32", "W4", "X4G32", "W4G0", "W4G-2", "", "WG32", "W4Gx"}) {
    absl::StatusOr<Scheme> s = ParseScheme(bad, true);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.status().message().find("W<bits>G<group>"), absl::string_view::npos) << bad;
  }
}

TEST(SchemeTest, Accessors) {
  const Scheme s{3, 64, true};
  EXPECT_EQ(s.n(), 4);
  EXPECT_EQ(s.qmax(), 7);
  EXPECT_TRUE(ValidateScheme(s).ok());
  EXPECT_FALSE(ValidateScheme(Scheme{16, 128, true}).ok());
}

TEST(SchemeTest, EffectiveGroupFallsBackToRow) {
  const Scheme g128{4, 128, true};
  EXPECT_EQ(EffectiveGroupSize(g128, 4096), 128);
  EXPECT_EQ(EffectiveGroupSize(g128, 64), 64);  // in < G: one group per row.
  EXPECT_EQ(EffectiveGroupSize(Scheme{4, -1, true}, 4096), 4096);
  EXPECT_EQ(GroupsPerRow(g128, 4096), 32);
  EXPECT_EQ(GroupsPerRow(g128, 64), 1);
  EXPECT_EQ(GroupsPerRow(Scheme{4, 32, true}, 172), 6);  // Last group short.
}

TEST(SchemeTest, LayerBitsMatchAlgorithmExamples) {
  const int64_t out = 4096, in = 4096;
  const double numel = static_cast<double>(out * in);
  EXPECT_DOUBLE_EQ(LayerBits(Scheme{4, 128, true}, out, in, false) / numel, 4.15625);
  EXPECT_DOUBLE_EQ(LayerBits(Scheme{2, 128, true}, out, in, false) / numel, 2.140625);
  EXPECT_EQ(LayerBits(Scheme{4, 128, false}, out, in, true), 4 * out * in);
  // G = -1: one group per row.
  EXPECT_EQ(LayerBits(Scheme{3, -1, true}, 10, 100, false), 3 * 1000 + 10 * (16 + 3));
  EXPECT_EQ(LayerBits(Scheme{16, 128, true}, 10, 100, false), 16 * 1000);
}

}  // namespace
}  // namespace sr2
