// sr2-coordinator: plans quantization jobs, schedules their tasks on workers, assembles the
// output. Usage: sr2-coordinator --listen 127.0.0.1:PORT --state-dir DIR --store DIR_OR_URI
#include <cstdio>

#include "absl/flags/flag.h"
#include "common/util/process_main.h"
#include "server/coordinator.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7070", "gRPC listen address (host:port)");
ABSL_FLAG(std::string, state_dir, "./sr2-state", "folder for the coordinator's state");
ABSL_FLAG(std::string, store, "./sr2-store",
          "object store for job work files: a folder, file:// or s3:// URI");
ABSL_FLAG(std::string, metrics_listen, "", "Prometheus metrics address (host:port); empty = off");
ABSL_FLAG(int, lease_ms, 15000, "task lease; a task without heartbeats this long is re-queued");
ABSL_FLAG(int, max_task_attempts, 3, "attempts per task before its job fails");
ABSL_FLAG(bool, keep_work_files, false, "keep a job's intermediate files after success");

int main(int argc, char** argv) {
  sr2::ParseDaemonFlags(argc, argv,
      "sr2-coordinator --listen 127.0.0.1:PORT --state-dir DIR --store DIR_OR_URI "
      "[--metrics-listen ADDR]");

  sr2::server::CoordinatorOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.state_dir = absl::GetFlag(FLAGS_state_dir);
  options.store_uri = absl::GetFlag(FLAGS_store);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.lease_ms = absl::GetFlag(FLAGS_lease_ms);
  options.max_task_attempts = absl::GetFlag(FLAGS_max_task_attempts);
  options.keep_work_files = absl::GetFlag(FLAGS_keep_work_files);

  // Block the stop signals before any thread starts, then wait for them here.
  const sigset_t stop_signals = sr2::BlockStopSignals();

  auto coordinator = sr2::server::Coordinator::Create(options);
  if (!coordinator.ok()) {
    std::fprintf(stderr, "sr2-coordinator: error: %s\n",
                 std::string(coordinator.status().message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "sr2-coordinator %s listening on %s (store %s)\n", SR2_VERSION,
               options.listen.c_str(), options.store_uri.c_str());
  if (!options.metrics_listen.empty()) {
    std::fprintf(stderr, "sr2-coordinator: metrics on http://%s/metrics\n",
                 options.metrics_listen.c_str());
  }
  const int signal = sr2::WaitForStopSignal(stop_signals);
  std::fprintf(stderr, "sr2-coordinator: signal %d, shutting down\n", signal);
  (*coordinator)->Shutdown(absl::Seconds(5));
  return 0;
}
