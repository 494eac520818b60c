#include "client/allocation_format.h"

#include "client/golden_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

CandidateList Candidates() {
  CandidateList candidates;
  for (int bits : {2, 4}) {
    v1::QuantScheme* c = candidates.Add();
    c->set_bits(bits);
    c->set_group_size(32);
    c->set_sym(true);
  }
  return candidates;
}

void AddLayer(v1::Allocation& allocation, const std::string& name, int64_t numel,
              std::vector<double> scores, std::vector<int64_t> bits, int chosen) {
  v1::LayerSensitivity* layer = allocation.add_layers();
  layer->set_name(name);
  layer->set_numel(numel);
  for (double s : scores) layer->add_scores(s);
  for (int64_t b : bits) layer->add_bits(b);
  layer->set_chosen(chosen);
}

// Two layers at 2.6 average bits, weight bits only: the more sensitive one gets W4G32.
v1::Allocation Replanned() {
  v1::Allocation allocation;
  AddLayer(allocation, "model.layers.0.self_attn.q_proj", 4096, {3.125e-2, 1.5e-3}, {8192, 16384},
           1);
  AddLayer(allocation, "model.layers.0.mlp.down_proj", 11008, {2.0e-4, 1.25e-5}, {22016, 44032}, 0);
  allocation.set_budget_bits(39270);  // floor(2.6 * 15104)
  allocation.set_allocated_bits(16384 + 22016);
  allocation.set_avg_bits(static_cast<double>(16384 + 22016) / (4096 + 11008));
  allocation.set_predicted_score(1.5e-3 + 2.0e-4);
  return allocation;
}

TEST(AllocationFormatTest, ReplanTableMatchesGolden) {
  ExpectMatchesGolden(ReplanTable("job-9", 2.6, Replanned(), Candidates()), "replan.txt");
}

TEST(AllocationFormatTest, ReplanJsonMatchesGolden) {
  ExpectMatchesGolden(ReplanJson("job-9", 2.6, Replanned(), Candidates()).dump(2) + "\n",
                      "replan.json");
}

TEST(AllocationFormatTest, TableMarksTheChosenScoreAndSumsTheFooter) {
  std::string table = AllocationTable(Replanned(), Candidates());
  EXPECT_THAT(table, HasSubstr("LAYER"));
  EXPECT_THAT(table, HasSubstr("W2G32"));
  EXPECT_THAT(table, HasSubstr("1.500e-03*"));
  EXPECT_THAT(table, HasSubstr("2.000e-04*"));
  EXPECT_THAT(table, Not(HasSubstr("3.125e-02*")));
  EXPECT_THAT(table, HasSubstr("39270 bits (avg 2.6000 over 15104 weights)"));
  EXPECT_THAT(table, HasSubstr("38400 bits (avg 2.5424)"));
  EXPECT_THAT(table, HasSubstr("1.700e-03"));
}

TEST(AllocationFormatTest, MalformedAllocationRendersWithoutCrashing) {
  v1::Allocation allocation;
  // Three scores for two named candidates, a short row and an out-of-range choice.
  AddLayer(allocation, "a", 10, {1, 2, 3}, {20, 40, 80}, 2);
  AddLayer(allocation, "b", 10, {4}, {}, 7);
  AddLayer(allocation, "c", 10, {5, 6}, {20}, 1);
  EXPECT_EQ(AllocationTable(allocation, Candidates()),
            "LAYER  NUMEL  W2G32      W4G32       #2          CHOSEN      BITS\n"
            "a      10     1.000e+00  2.000e+00   3.000e+00*  #2          80\n"
            "b      10     4.000e+00  -           -           invalid #7  -\n"
            "c      10     5.000e+00  6.000e+00*  -           W4G32       -\n"
            "(* = chosen)\n"
            "Budget:           0 bits (avg 0.0000 over 30 weights)\n"
            "Allocated:        0 bits (avg 0.0000)\n"
            "Predicted score:  0.000e+00\n");

  nlohmann::ordered_json j = AllocationToJson(allocation, Candidates());
  EXPECT_EQ(j["candidates"], nlohmann::ordered_json::array({"W2G32", "W4G32", "#2"}));
  EXPECT_EQ(j["layers"][0]["chosen_scheme"], "#2");
  EXPECT_TRUE(j["layers"][1]["chosen_scheme"].is_null());
  EXPECT_EQ(j["layers"][1]["chosen"], 7);
}

TEST(AllocationFormatTest, EmptyAllocationHasNoAverageOverZeroWeights) {
  std::string table = AllocationTable(v1::Allocation(), Candidates());
  EXPECT_THAT(table, HasSubstr("Budget:           0 bits\n"));
  EXPECT_THAT(table, Not(HasSubstr("over")));
}

}  // namespace
}  // namespace sr2
