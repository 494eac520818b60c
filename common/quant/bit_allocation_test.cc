#include "common/quant/bit_allocation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

using ::testing::HasSubstr;

AllocationItem Item(std::vector<int64_t> bits, std::vector<double> scores, int64_t numel = 1) {
  return {{absl::StrCat("layer", bits.size())}, numel, std::move(bits), std::move(scores)};
}

struct BruteForce {
  double best_score = std::numeric_limits<double>::infinity();
  bool feasible = false;
};

// Every combination of options.
BruteForce Enumerate(const std::vector<AllocationItem>& items, int64_t budget) {
  BruteForce best;
  std::vector<size_t> pick(items.size(), 0);
  while (true) {
    int64_t bits = 0;
    double score = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      bits += items[i].bits[pick[i]];
      score += items[i].scores[pick[i]];
    }
    if (bits <= budget) {
      best.feasible = true;
      best.best_score = std::min(best.best_score, score);
    }
    size_t i = 0;
    while (i < items.size() && ++pick[i] == items[i].bits.size()) pick[i++] = 0;
    if (i == items.size()) return best;
  }
}

// The totals the result claims, recomputed from its choices.
void ExpectConsistent(const std::vector<AllocationItem>& items, const AllocationResult& r,
                      int64_t budget) {
  ASSERT_EQ(r.choice.size(), items.size());
  int64_t bits = 0;
  double score = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_GE(r.choice[i], 0);
    ASSERT_LT(static_cast<size_t>(r.choice[i]), items[i].bits.size());
    bits += items[i].bits[r.choice[i]];
    score += items[i].scores[r.choice[i]];
  }
  EXPECT_EQ(bits, r.total_bits);
  EXPECT_DOUBLE_EQ(score, r.total_score);
  EXPECT_LE(r.total_bits, budget);
}

TEST(AllocateBitsTest, MatchesBruteForceOnRandomInstances) {
  std::mt19937 rng(7);
  int feasible = 0, infeasible = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const int n_items = 1 + static_cast<int>(rng() % 8);
    const int n_options = 1 + static_cast<int>(rng() % 3);
    std::vector<AllocationItem> items;
    int64_t max_total = 0;
    for (int i = 0; i < n_items; ++i) {
      std::vector<int64_t> bits;
      std::vector<double> scores;
      // Small ranges so equal bit totals (and score ties) happen often.
      for (int o = 0; o < n_options; ++o) {
        bits.push_back(static_cast<int64_t>(rng() % 12));
        scores.push_back(static_cast<double>(rng() % 20));
      }
      max_total += *std::max_element(bits.begin(), bits.end());
      items.push_back(Item(bits, scores));
    }
    const int64_t budget = static_cast<int64_t>(rng() % (max_total + 2));
    const BruteForce expected = Enumerate(items, budget);
    absl::StatusOr<AllocationResult> r = AllocateBits(items, budget);
    if (!expected.feasible) {
      ++infeasible;
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << "trial " << trial;
      continue;
    }
    ++feasible;
    ASSERT_TRUE(r.ok()) << "trial " << trial << ": " << r.status();
    EXPECT_DOUBLE_EQ(r->total_score, expected.best_score) << "trial " << trial;
    ExpectConsistent(items, *r, budget);
  }
  // Both branches were exercised.
  EXPECT_GT(feasible, 100);
  EXPECT_GT(infeasible, 10);
}

TEST(AllocateBitsTest, MinimumScoreNeedNotUseTheMostBits) {
  // Spending more bits on item 0 is worse: the answer is the min-score state, not the richest.
  std::vector<AllocationItem> items = {Item({2, 4, 6}, {5.0, 1.0, 3.0}), Item({2, 4}, {9.0, 8.0})};
  absl::StatusOr<AllocationResult> r = AllocateBits(items, 10);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->choice, (std::vector<int>{1, 1}));
  EXPECT_EQ(r->total_bits, 8);
  EXPECT_DOUBLE_EQ(r->total_score, 9.0);
}

TEST(AllocateBitsTest, PrunedStatesStillGiveTheExactAnswer) {
  // After item 0, the state (5 bits, 7) is dominated by (3 bits, 6) and pruned; the optimum
  // must then come from the cheaper state plus item 1's expensive option.
  std::vector<AllocationItem> items = {Item({3, 5, 1}, {6.0, 7.0, 10.0}),
                                       Item({1, 4}, {5.0, 0.5})};
  for (int64_t budget : {2, 4, 5, 7, 9}) {
    const BruteForce expected = Enumerate(items, budget);
    absl::StatusOr<AllocationResult> r = AllocateBits(items, budget);
    ASSERT_TRUE(r.ok()) << budget << ": " << r.status();
    EXPECT_DOUBLE_EQ(r->total_score, expected.best_score) << budget;
    ExpectConsistent(items, *r, budget);
  }
}

TEST(AllocateBitsTest, RejectsInfeasibleAndInconsistentInput) {
  std::vector<AllocationItem> items = {Item({4, 8}, {1.0, 0.0}), Item({4, 8}, {1.0, 0.0})};
  absl::StatusOr<AllocationResult> r = AllocateBits(items, 7);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("infeasible"));
  EXPECT_EQ(AllocateBits(items, -1).status().code(), absl::StatusCode::kInvalidArgument);

  for (const AllocationItem& bad :
       {Item({}, {}), Item({4, 8}, {1.0}), Item({-4}, {1.0}),
        Item({4}, {std::numeric_limits<double>::quiet_NaN()}),
        Item({4}, {std::numeric_limits<double>::infinity()})}) {
    r = AllocateBits({bad}, 100);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  }
  // Huge costs do not overflow the budget check.
  r = AllocateBits({Item({std::numeric_limits<int64_t>::max()}, {0.0}), Item({1}, {0.0})},
                   std::numeric_limits<int64_t>::max());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AllocateBitsTest, NoItemsCostNothing) {
  absl::StatusOr<AllocationResult> r = AllocateBits({}, 0);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->choice.empty());
  EXPECT_EQ(r->total_bits, 0);
}

TEST(BitBudgetTest, FloorsAndSnapsToTheOptionRange) {
  // 3 layers of 100 weights; options cost 2.2 and 4.3 bits per weight on average.
  std::vector<AllocationItem> items = {Item({200, 400}, {1, 0}, 100),
                                       Item({220, 430}, {1, 0}, 100),
                                       Item({240, 460}, {1, 0}, 100)};
  absl::StatusOr<int64_t> b = BitBudget(items, 3.0);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*b, 900);
  b = BitBudget(items, 3.0037);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*b, 901);  // floor(901.11)

  // Within 1e-3 of an end: the exact option total, even where floor() would fall short.
  b = BitBudget(items, 2.2 - 0.0009);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*b, 660);
  b = BitBudget(items, 4.3 + 0.0009);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*b, 1290);
  ASSERT_TRUE(AllocateBits(items, 660).ok());

  for (double bad : {2.198, 4.302, 0.0, std::nan("")}) {
    b = BitBudget(items, bad);
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(b.status().message(), HasSubstr("[2.200000, 4.300000]")) << bad;
  }
  EXPECT_EQ(BitBudget({}, 3.0).status().code(), absl::StatusCode::kInvalidArgument);
  items.push_back(Item({200}, {1}, 100));  // Fewer options than the others.
  EXPECT_EQ(BitBudget(items, 3.0).status().code(), absl::StatusCode::kInvalidArgument);
}

// The 35 block Linears of stories260K (hidden 64, intermediate 172, 8 heads / 4 kv heads of 8).
std::vector<LinearLayer> Stories260KLayers() {
  const std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> shapes = {
      {"self_attn.q_proj", {64, 64}}, {"self_attn.k_proj", {32, 64}},
      {"self_attn.v_proj", {32, 64}}, {"self_attn.o_proj", {64, 64}},
      {"mlp.gate_proj", {172, 64}},   {"mlp.up_proj", {172, 64}},
      {"mlp.down_proj", {64, 172}}};
  std::vector<LinearLayer> layers;
  for (int b = 0; b < 5; ++b) {
    for (const auto& [name, shape] : shapes) {
      layers.push_back({BlockPrefix(b) + name, name, b, shape.first, shape.second, false});
    }
  }
  return layers;
}

std::map<std::string, std::vector<double>> RandomScores(const std::vector<LinearLayer>& layers) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::map<std::string, std::vector<double>> scores;
  for (const LinearLayer& l : layers) {
    const double low_bit = 1.0 + 10.0 * u(rng);
    scores[l.name] = {low_bit, low_bit * 0.1 * u(rng)};
  }
  return scores;
}

TEST(AllocationItemsTest, RealisticModelAllocatesWithinBudget) {
  const std::vector<LinearLayer> layers = Stories260KLayers();
  const std::vector<Scheme> options = {{2, 32, true}, {4, 32, true}};
  const auto scores = RandomScores(layers);
  for (bool ignore_scale_zp : {false, true}) {
    absl::StatusOr<std::vector<AllocationItem>> items =
        MakeAllocationItems(layers, options, scores, /*share_fused_layers=*/false, ignore_scale_zp);
    ASSERT_TRUE(items.ok()) << items.status();
    ASSERT_EQ(items->size(), 35u);
    // down_proj [64, 172] with G32: 6 groups per row, the last one padded.
    EXPECT_EQ((*items)[6].bits[0],
              ignore_scale_zp ? 2 * 64 * 172 : 2 * 64 * 172 + 64 * 6 * (16 + 2));
    const double avg = ignore_scale_zp ? 2.5 : 3.2;
    absl::StatusOr<int64_t> budget = BitBudget(*items, avg);
    ASSERT_TRUE(budget.ok()) << budget.status();
    absl::StatusOr<AllocationResult> r = AllocateBits(*items, *budget);
    ASSERT_TRUE(r.ok()) << r.status();
    ExpectConsistent(*items, *r, *budget);
    // The budget is nearly used up: only 4-bit upgrades that do not fit remain.
    EXPECT_GT(r->total_bits, *budget - 2 * 172 * 64 * 2);
  }
}

TEST(AllocationItemsTest, SharedLayersFormOneItemPerGroup) {
  const std::vector<LinearLayer> layers = Stories260KLayers();
  const std::vector<Scheme> options = {{2, 32, true}, {4, 32, true}};
  const auto scores = RandomScores(layers);
  absl::StatusOr<std::vector<AllocationItem>> items =
      MakeAllocationItems(layers, options, scores, /*share_fused_layers=*/true, true);
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 20u);  // qkv, o, gate_up, down per block.
  const AllocationItem& qkv = (*items)[0];
  EXPECT_EQ(qkv.layers, (std::vector<std::string>{"model.layers.0.self_attn.q_proj",
                                                  "model.layers.0.self_attn.k_proj",
                                                  "model.layers.0.self_attn.v_proj"}));
  EXPECT_EQ(qkv.numel, 128 * 64);
  EXPECT_EQ(qkv.bits[1], 4 * 128 * 64);
  EXPECT_DOUBLE_EQ(qkv.scores[0], scores.at(qkv.layers[0])[0] + scores.at(qkv.layers[1])[0] +
                                      scores.at(qkv.layers[2])[0]);
  EXPECT_EQ((*items)[2].layers.size(), 2u);  // gate/up
  EXPECT_EQ((*items)[5].layers[0], "model.layers.1.self_attn.o_proj");

  absl::StatusOr<int64_t> budget = BitBudget(*items, 3.0);
  ASSERT_TRUE(budget.ok()) << budget.status();
  absl::StatusOr<AllocationResult> r = AllocateBits(*items, *budget);
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<std::map<std::string, Scheme>> schemes = LayerSchemes(*items, *r, options);
  ASSERT_TRUE(schemes.ok()) << schemes.status();
  ASSERT_EQ(schemes->size(), 35u);
  EXPECT_EQ(schemes->at("model.layers.0.self_attn.q_proj"),
            schemes->at("model.layers.0.self_attn.v_proj"));
  EXPECT_EQ(schemes->at("model.layers.4.mlp.gate_proj"), schemes->at("model.layers.4.mlp.up_proj"));
}

TEST(AllocationItemsTest, RejectsMissingScores) {
  const std::vector<LinearLayer> layers = Stories260KLayers();
  const std::vector<Scheme> options = {{2, 32, true}, {4, 32, true}};
  auto scores = RandomScores(layers);
  scores["model.layers.3.mlp.up_proj"].pop_back();
  absl::StatusOr<std::vector<AllocationItem>> items =
      MakeAllocationItems(layers, options, scores, false, false);
  EXPECT_EQ(items.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(items.status().message(), HasSubstr("model.layers.3.mlp.up_proj"));
  scores.erase("model.layers.3.mlp.up_proj");
  items = MakeAllocationItems(layers, options, scores, false, false);
  EXPECT_THAT(items.status().message(), HasSubstr("model.layers.3.mlp.up_proj"));

  AllocationResult wrong;
  wrong.choice = {0};
  EXPECT_EQ(LayerSchemes({Item({1}, {1.0})}, wrong, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sr2
