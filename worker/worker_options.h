// Every worker tunable in one place, with its default and why.
#pragma once

#include <cstdint>
#include <string>

namespace sr2::worker {

struct WorkerOptions {
  // Coordinator address (host:port).
  std::string coordinator = "127.0.0.1:7070";
  // torch device for all tensor work: "cpu", "cuda", "cuda:N".
  std::string device = "cpu";
  // Intra-op threads for libtorch (it starts with 1, which is far too slow on CPU).
  int threads = 1;
  // Memory tasks may use, advertised to the coordinator so it never sends a task that does not
  // fit. 0 = detect: the cgroup (container) limit or physical RAM for CPU; unknown for CUDA.
  int64_t memory_bytes = 0;
  // How long one AcquireTask long-poll waits on the coordinator.
  int acquire_wait_ms = 5000;
  // Back-off while the coordinator is unreachable (doubles up to the max).
  int reconnect_initial_ms = 200;
  int reconnect_max_ms = 5000;
  // How long a task's result is re-sent while the coordinator is unreachable: it may be
  // restarting, and the task's lease survives the restart, so the work need not be redone.
  int report_retry_ms = 60000;
};

}  // namespace sr2::worker
