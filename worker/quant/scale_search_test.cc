#include "worker/quant/scale_search.h"

#include <cmath>
#include <vector>

#include <torch/torch.h>

#include "gtest/gtest.h"

namespace sr2::worker {
namespace {

Scheme Sym(int bits, int group_size) { return Scheme{bits, group_size, /*sym=*/true}; }

// The importance-weighted error of one candidate of one group, evaluated with the search's
// fp32 formulas but summed in double.
struct BruteCandidate {
  float scale = 0;
  double error = 0;
};

BruteCandidate EvaluateCandidate(const std::vector<float>& x, const std::vector<float>& w,
                                 float inv_peak, double divisor, int bits) {
  const float n = static_cast<float>(1 << (bits - 1));
  const float inv_scale = inv_peak * static_cast<float>(-divisor);
  BruteCandidate c;
  c.scale = inv_scale == 0 ? 0.0f : 1.0f / inv_scale;
  for (size_t j = 0; j < x.size(); ++j) {
    const float level = std::min(std::max(std::nearbyint(inv_scale * x[j]), -n), n - 1);
    const double d = static_cast<double>(c.scale * level - x[j]);
    c.error += static_cast<double>(w[j]) * d * d;
  }
  return c;
}

// Brute force over the grid in the documented order (k = 0, then -K..K, strict improvement).
// Returns every candidate so near-ties can be told apart from real disagreements.
std::vector<BruteCandidate> AllCandidates(const std::vector<float>& x,
                                          const std::vector<float>& w, int bits) {
  size_t peak = 0;
  for (size_t j = 1; j < x.size(); ++j) {
    if (std::fabs(x[j]) > std::fabs(x[peak])) peak = j;
  }
  const float inv_peak = x[peak] == 0 ? 0.0f : 1.0f / x[peak];
  const ScaleSearchGrid grid = SymScaleSearchGrid(bits);
  const double n = static_cast<double>(1 << (bits - 1));
  std::vector<BruteCandidate> all = {EvaluateCandidate(x, w, inv_peak, n, bits)};
  for (int k = -grid.max_k; k <= grid.max_k; ++k) {
    if (k != 0) all.push_back(EvaluateCandidate(x, w, inv_peak, n - grid.step * k, bits));
  }
  return all;
}

void ExpectMatchesBruteForce(int bits, int64_t out, int64_t in, int group, bool with_imatrix) {
  torch::manual_seed(bits * 100 + in);
  torch::Tensor w = torch::randn({out, in});
  torch::Tensor imatrix = with_imatrix ? torch::rand({in}) * 10 : torch::Tensor();
  const Scheme scheme = Sym(bits, group);
  torch::Tensor scales = SearchSymScales(w, scheme, imatrix);
  const int64_t groups = GroupsPerRow(scheme, in);
  ASSERT_EQ(scales.sizes(), (std::vector<int64_t>{out, groups}));

  for (int64_t o = 0; o < out; ++o) {
    for (int64_t g = 0; g < groups; ++g) {
      std::vector<float> x(group, 0.0f), weights(group, 1e-5f);
      for (int64_t j = 0; j < group && g * group + j < in; ++j) {
        x[j] = w[o][g * group + j].item<float>();
        weights[j] = with_imatrix ? imatrix[g * group + j].item<float>() : 1.0f;
      }
      std::vector<BruteCandidate> all = AllCandidates(x, weights, bits);
      size_t best = 0;
      for (size_t i = 1; i < all.size(); ++i) {
        if (all[i].error < all[best].error) best = i;
      }
      const float got = scales[o][g].item<float>();
      if (got == all[best].scale) continue;
      // A different pick is only acceptable as a summation-order near-tie.
      bool found = false;
      for (const BruteCandidate& c : all) {
        if (c.scale != got) continue;
        found = true;
        EXPECT_LE(c.error, all[best].error * (1 + 1e-5) + 1e-12) << "row " << o << " group " << g;
      }
      EXPECT_TRUE(found) << "scale " << got << " is not on the grid (row " << o << " group " << g
                         << ")";
    }
  }
}

TEST(SymScaleSearchGridTest, MatchesTheReferenceGrids) {
  EXPECT_DOUBLE_EQ(SymScaleSearchGrid(2).step, 0.01);
  EXPECT_EQ(SymScaleSearchGrid(2).max_k, 90);
  EXPECT_NEAR(SymScaleSearchGrid(3).step, 0.03, 1e-15);
  EXPECT_EQ(SymScaleSearchGrid(3).max_k, 100);
  EXPECT_NEAR(SymScaleSearchGrid(4).step, 0.06, 1e-15);
  EXPECT_EQ(SymScaleSearchGrid(4).max_k, 100);
}

TEST(SearchSymScalesTest, TwoBitEqualsBruteForceWithImatrixAndPadding) {
  ExpectMatchesBruteForce(/*bits=*/2, /*out=*/6, /*in=*/70, /*group=*/32, /*with_imatrix=*/true);
}

TEST(SearchSymScalesTest, FourBitEqualsBruteForceWithImatrix) {
  ExpectMatchesBruteForce(/*bits=*/4, /*out=*/6, /*in=*/64, /*group=*/16, /*with_imatrix=*/true);
}

TEST(SearchSymScalesTest, ThreeBitEqualsBruteForceWithoutImatrix) {
  ExpectMatchesBruteForce(/*bits=*/3, /*out=*/5, /*in=*/40, /*group=*/8, /*with_imatrix=*/false);
}

TEST(SearchSymScalesTest, TiesKeepTheBaselineScale) {
  // Zero importance makes every candidate's error 0: only strict improvement keeps k = 0.
  torch::manual_seed(3);
  torch::Tensor w = torch::randn({4, 16});
  torch::Tensor scales = SearchSymScales(w, Sym(4, 8), torch::zeros({16}));
  for (int64_t o = 0; o < 4; ++o) {
    for (int64_t g = 0; g < 2; ++g) {
      torch::Tensor group = w[o].narrow(0, g * 8, 8);
      const float peak = group[group.abs().argmax().item<int64_t>()].item<float>();
      const float baseline = 1.0f / ((1.0f / peak) * -8.0f);
      EXPECT_EQ(scales[o][g].item<float>(), baseline);
    }
  }
}

TEST(SearchSymScalesTest, SignFollowsThePeakAndThresholdKeepsIt) {
  torch::Tensor w = torch::tensor({{0.5f, -0.2f, 0.1f, 0.0f},      // positive peak
                                   {-0.5f, 0.2f, 0.1f, 0.0f},      // negative peak
                                   {0.4f, -0.4f, 0.1f, 0.0f},      // tie: the first one wins
                                   {1e-9f, -5e-10f, 0.0f, 0.0f},   // tiny positive peak
                                   {-1e-9f, 5e-10f, 0.0f, 0.0f},   // tiny negative peak
                                   {0.0f, 0.0f, 0.0f, 0.0f}});     // all zero
  torch::Tensor s = SearchSymScales(w, Sym(2, 4), torch::Tensor());
  EXPECT_LT(s[0][0].item<float>(), 0);
  EXPECT_GT(s[1][0].item<float>(), 0);
  EXPECT_LT(s[2][0].item<float>(), 0);
  EXPECT_EQ(s[3][0].item<float>(), -1e-5f);
  EXPECT_EQ(s[4][0].item<float>(), 1e-5f);
  EXPECT_EQ(s[5][0].item<float>(), 1e-5f);
}

}  // namespace
}  // namespace sr2::worker
