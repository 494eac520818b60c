#include "worker/worker_metrics.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/metrics/metrics_testutil.h"

namespace sr2::worker {
namespace {

using metrics::FindFamily;
using metrics::FindSample;

TEST(WorkerMetricsTest, CountsTasksByKindAndOutcome) {
  WorkerMetrics metrics("cpu");
  metrics.TaskFinished(v1::TASK_KIND_QUANTIZE_BLOCK, WorkerTaskOutcome::kSucceeded);
  metrics.TaskFinished(v1::TASK_KIND_QUANTIZE_BLOCK, WorkerTaskOutcome::kSucceeded);
  metrics.TaskFinished(v1::TASK_KIND_EVALUATE, WorkerTaskOutcome::kFailed);

  std::vector<prometheus::MetricFamily> families;
  for (const auto& source : metrics.Sources()) {
    for (prometheus::MetricFamily& f : source->Collect()) families.push_back(std::move(f));
  }
  const prometheus::MetricFamily* tasks = FindFamily(families, "sr2_worker_tasks_total");
  ASSERT_NE(tasks, nullptr);
  EXPECT_EQ(tasks->metric.size(), 12u);  // 4 kinds x 3 outcomes, zeros included
  auto count = [&](const std::string& kind, const std::string& outcome) {
    const prometheus::ClientMetric* s = FindSample(*tasks, {{"kind", kind}, {"outcome", outcome}});
    return s == nullptr ? -1 : s->counter.value;
  };
  EXPECT_EQ(count("quantize_block", "succeeded"), 2);
  EXPECT_EQ(count("evaluate", "failed"), 1);
  EXPECT_EQ(count("calibrate", "abandoned"), 0);
  EXPECT_EQ(count("profile", "succeeded"), 0);

  const prometheus::MetricFamily* memory = FindFamily(families, "sr2_worker_device_memory_bytes");
  ASSERT_NE(memory, nullptr);
  ASSERT_EQ(memory->metric.size(), 1u);
  EXPECT_GT(memory->metric[0].gauge.value, 1 << 20);  // This process's RSS: over a MiB.
  EXPECT_NE(FindFamily(families, "sr2_object_store_requests_total"), nullptr);
  EXPECT_NE(FindFamily(families, "sr2_object_store_bytes_total"), nullptr);
}

TEST(WorkerMetricsTest, CpuMemoryFollowsTheHeap) {
  const double before = DeviceMemoryBytes("cpu");
  std::vector<char> block(64 << 20, 1);  // Touched, so resident.
  const double after = DeviceMemoryBytes("cpu");
  EXPECT_GE(after - before, 60 << 20) << "block[0]=" << static_cast<int>(block[0]);
  EXPECT_EQ(DeviceMemoryBytes("not-a-device"), -1);
}

TEST(WorkerMetricsTest, KindLabels) {
  EXPECT_EQ(TaskKindLabel(v1::TASK_KIND_QUANTIZE_BLOCK), "quantize_block");
  EXPECT_EQ(TaskKindLabel(v1::TASK_KIND_PROFILE), "profile");
}

}  // namespace
}  // namespace sr2::worker
