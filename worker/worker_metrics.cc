#include "worker/worker_metrics.h"

#include <unistd.h>

#include <fstream>

#include <torch/torch.h>
// Set by worker/CMakeLists.txt for a CUDA libtorch (CPU builds may ship the c10/cuda headers
// without the CUDA runtime's, so the headers' presence says nothing).
#ifdef SR2_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "common/metrics/metric_families.h"
#include "common/metrics/object_store_metrics.h"
#include "common/store/s3_stats.h"

namespace sr2::worker {
namespace {

constexpr v1::TaskKind kKinds[] = {v1::TASK_KIND_CALIBRATE, v1::TASK_KIND_QUANTIZE_BLOCK,
                                   v1::TASK_KIND_EVALUATE, v1::TASK_KIND_PROFILE};
constexpr WorkerTaskOutcome kOutcomes[] = {WorkerTaskOutcome::kSucceeded,
                                           WorkerTaskOutcome::kFailed,
                                           WorkerTaskOutcome::kAbandoned};

std::string OutcomeLabel(WorkerTaskOutcome outcome) {
  switch (outcome) {
    case WorkerTaskOutcome::kSucceeded:
      return "succeeded";
    case WorkerTaskOutcome::kFailed:
      return "failed";
    case WorkerTaskOutcome::kAbandoned:
      return "abandoned";
  }
  return "unknown";
}

double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long total_pages = 0, resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages)) return -1;
  return static_cast<double>(resident_pages) * sysconf(_SC_PAGESIZE);
}

}  // namespace

std::string TaskKindLabel(v1::TaskKind kind) {
  return metrics::EnumLabel(v1::TaskKind_Name(kind), "TASK_KIND_");
}

double DeviceMemoryBytes(const std::string& device) {
  try {
    const torch::Device d(device);
    if (d.is_cpu()) return ResidentBytes();
#ifdef SR2_TORCH_CUDA
    if (d.is_cuda()) {
      const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(d.has_index() ? d.index()
                                                                                        : 0);
      return static_cast<double>(stats.allocated_bytes[0].current);  // [0]: StatType::AGGREGATE
    }
#endif
  } catch (const std::exception&) {
    // A device string torch does not know: reported as unknown below.
  }
  return -1;
}

WorkerMetrics::WorkerMetrics(std::string device)
    : device_(std::move(device)),
      registry_(std::make_shared<prometheus::Registry>()),
      tasks_(prometheus::BuildCounter()
                 .Name("sr2_worker_tasks_total")
                 .Help("Tasks this worker ran, by kind and outcome")
                 .Register(*registry_)) {
  for (v1::TaskKind kind : kKinds) {
    for (WorkerTaskOutcome outcome : kOutcomes) {
      tasks_.Add({{"kind", TaskKindLabel(kind)}, {"outcome", OutcomeLabel(outcome)}});
    }
  }
}

void WorkerMetrics::TaskFinished(v1::TaskKind kind, WorkerTaskOutcome outcome) {
  tasks_.Add({{"kind", TaskKindLabel(kind)}, {"outcome", OutcomeLabel(outcome)}}).Increment();
}

std::vector<std::shared_ptr<prometheus::Collectable>> WorkerMetrics::Sources() const {
  const std::string device = device_;
  auto snapshot = std::make_shared<metrics::CallbackCollectable>([device] {
    std::vector<prometheus::MetricFamily> families =
        metrics::CollectObjectStoreMetrics(S3Stats::Process());
    families.push_back(metrics::NewFamily(
        "sr2_worker_device_memory_bytes",
        "Memory the worker's torch device uses now (CUDA allocator, or process RSS on CPU)",
        prometheus::MetricType::Gauge));
    const double bytes = DeviceMemoryBytes(device);
    if (bytes >= 0) metrics::AddSample(&families.back(), {}, bytes);
    return families;
  });
  return {registry_, snapshot};
}

}  // namespace sr2::worker
