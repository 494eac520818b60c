#include "common/metrics/metric_families.h"

#include <gtest/gtest.h>

namespace sr2::metrics {
namespace {

TEST(MetricFamiliesTest, SamplesGoIntoTheFamilysType) {
  auto counter = NewFamily("sr2_x_total", "x", prometheus::MetricType::Counter);
  AddSample(&counter, {{"a", "1"}, {"b", "2"}}, 3);
  ASSERT_EQ(counter.metric.size(), 1u);
  EXPECT_EQ(counter.metric[0].counter.value, 3);
  ASSERT_EQ(counter.metric[0].label.size(), 2u);
  EXPECT_EQ(counter.metric[0].label[1].name, "b");
  EXPECT_EQ(counter.metric[0].label[1].value, "2");
  auto gauge = NewFamily("sr2_y", "y", prometheus::MetricType::Gauge);
  AddSample(&gauge, {}, -1.5);
  EXPECT_EQ(gauge.metric[0].gauge.value, -1.5);
}

TEST(MetricFamiliesTest, EnumLabelIsLowerCaseWithoutPrefix) {
  EXPECT_EQ(EnumLabel("JOB_STATE_RUNNING", "JOB_STATE_"), "running");
  EXPECT_EQ(EnumLabel("TASK_KIND_QUANTIZE_BLOCK", "TASK_KIND_"), "quantize_block");
  EXPECT_EQ(EnumLabel("OTHER", "TASK_KIND_"), "other");
}

TEST(MetricFamiliesTest, CallbackCollectableDropsEmptyFamilies) {
  CallbackCollectable collectable([] {
    std::vector<prometheus::MetricFamily> families;
    families.push_back(NewFamily("sr2_empty", "e", prometheus::MetricType::Gauge));
    families.push_back(NewFamily("sr2_full", "f", prometheus::MetricType::Gauge));
    AddSample(&families.back(), {}, 1);
    return families;
  });
  const auto families = collectable.Collect();
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].name, "sr2_full");
}

}  // namespace
}  // namespace sr2::metrics
