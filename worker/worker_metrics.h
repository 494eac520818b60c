// The worker's Prometheus metrics (contract: docs/operations.md): tasks run by kind and
// outcome, memory the torch device uses, and this process's object store traffic. No torch
// types here: the device query lives in the .cc.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include "sr2/v1/worker_service.pb.h"

namespace sr2::worker {

enum class WorkerTaskOutcome {
  kSucceeded,
  kFailed,     // The task returned an error (reported to the coordinator).
  kAbandoned,  // Dropped on the coordinator's word (job ended, lease lost) or at shutdown.
};

class WorkerMetrics {
 public:
  // `device` as given to --device ("cpu", "cuda:1").
  explicit WorkerMetrics(std::string device);

  void TaskFinished(v1::TaskKind kind, WorkerTaskOutcome outcome);

  // Everything the metrics endpoint serves.
  std::vector<std::shared_ptr<prometheus::Collectable>> Sources() const;

 private:
  const std::string device_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& tasks_;
};

// The `kind` label: "quantize_block" for TASK_KIND_QUANTIZE_BLOCK.
std::string TaskKindLabel(v1::TaskKind kind);

// Bytes `device` holds now: the CUDA caching allocator's allocated bytes (with a CUDA build of
// libtorch), or the process's resident set for the CPU, where tensors live in the heap. -1 when
// unknown.
double DeviceMemoryBytes(const std::string& device);

}  // namespace sr2::worker
