// sr2-worker: pulls quantization tasks from a coordinator and runs them with libtorch.
// Usage: sr2-worker --coordinator 127.0.0.1:PORT [--device cpu|cuda:N] [--threads N]
//        [--metrics-listen HOST:PORT] [--health-listen HOST:PORT]
#include <cstdio>
#include <thread>

#include <torch/torch.h>

#include "absl/flags/flag.h"
#include "common/metrics/metrics_server.h"
#include "common/util/process_main.h"
#include "worker/health_server.h"
#include "worker/worker_metrics.h"
#include "worker/worker_runtime.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7070", "coordinator address (host:port)");
ABSL_FLAG(std::string, device, "cpu", "torch device: cpu, cuda or cuda:N");
ABSL_FLAG(int, threads, 1, "libtorch intra-op threads");
ABSL_FLAG(double, memory_gib, 0,
          "memory tasks may use, in GiB; 0 = the container limit or physical RAM (CPU) or "
          "unknown (CUDA: set it to the GPU's memory)");
ABSL_FLAG(std::string, metrics_listen, "", "Prometheus metrics address (host:port); empty = off");
ABSL_FLAG(std::string, health_listen, "",
          "gRPC health service address (host:port) for probes; empty = off");

int main(int argc, char** argv) {
  sr2::KeepLargeBuffersInHeap();
  sr2::ParseDaemonFlags(argc, argv,
      "sr2-worker --coordinator 127.0.0.1:PORT [--device cpu|cuda:N] [--threads N] "
      "[--metrics-listen HOST:PORT] [--health-listen HOST:PORT]");

  sr2::worker::WorkerOptions options;
  options.coordinator = absl::GetFlag(FLAGS_coordinator);
  options.device = absl::GetFlag(FLAGS_device);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.memory_bytes = static_cast<int64_t>(absl::GetFlag(FLAGS_memory_gib) * (1LL << 30));
  if (options.memory_bytes < 0) {
    std::fprintf(stderr, "sr2-worker: error: --memory-gib must not be negative\n");
    return 2;
  }
  if (options.threads < 1) {
    std::fprintf(stderr, "sr2-worker: error: --threads must be at least 1\n");
    return 2;
  }
  try {
    torch::Device device(options.device);
    if (device.is_cuda() && !torch::cuda::is_available()) {
      std::fprintf(stderr, "sr2-worker: error: --device %s but CUDA is not available\n",
                   options.device.c_str());
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sr2-worker: error: bad --device '%s'\n", options.device.c_str());
    return 2;
  }
  at::set_num_threads(options.threads);

  const sigset_t stop_signals = sr2::BlockStopSignals();

  auto startup_error = [](const absl::Status& status) {
    std::fprintf(stderr, "sr2-worker: error: %s\n", std::string(status.message()).c_str());
    return 2;
  };
  sr2::worker::WorkerMetrics metrics(options.device);
  std::unique_ptr<sr2::metrics::MetricsServer> metrics_server;
  if (const std::string listen = absl::GetFlag(FLAGS_metrics_listen); !listen.empty()) {
    auto server = sr2::metrics::MetricsServer::Start(listen, metrics.Sources());
    if (!server.ok()) return startup_error(server.status());
    metrics_server = *std::move(server);
    std::fprintf(stderr, "sr2-worker: metrics on http://%s/metrics\n", listen.c_str());
  }
  std::unique_ptr<sr2::worker::HealthServer> health_server;
  if (const std::string listen = absl::GetFlag(FLAGS_health_listen); !listen.empty()) {
    auto server = sr2::worker::HealthServer::Start(listen);
    if (!server.ok()) return startup_error(server.status());
    health_server = *std::move(server);
  }

  sr2::worker::WorkerRuntime runtime(options, &metrics);
  std::thread signal_waiter([&] {
    const int signal = sr2::WaitForStopSignal(stop_signals);
    std::fprintf(stderr, "sr2-worker: signal %d, stopping\n", signal);
    runtime.Stop();
  });
  signal_waiter.detach();
  absl::Status status = runtime.Run();
  if (!status.ok()) {
    std::fprintf(stderr, "sr2-worker: error: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
