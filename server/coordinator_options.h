// Every coordinator tunable in one place, with its default and why (Ray's config-table habit).
#pragma once

#include <cstdint>
#include <string>

namespace sr2::server {

struct CoordinatorOptions {
  // gRPC listen address for both the client API and the worker protocol.
  std::string listen = "127.0.0.1:7070";
  // Folder for the coordinator's own state (created if missing).
  std::string state_dir = "./sr2-state";
  // Object store for job work files (intermediate tensors): path, file:// or s3:// URI.
  std::string store_uri = "./sr2-store";
  // Prometheus exposition address; empty = no metrics endpoint.
  std::string metrics_listen;
  // A task whose lease is not renewed for this long goes back to the queue. Workers heartbeat
  // every heartbeat_interval_ms, so a few lost heartbeats are tolerated.
  int lease_ms = 15000;
  int heartbeat_interval_ms = 2000;
  // Attempts per task before the job fails with the task's last error.
  int max_task_attempts = 3;
  // Longest AcquireTask long-poll the coordinator honours.
  int max_acquire_wait_ms = 10000;
  // How often expired leases are swept.
  int lease_sweep_interval_ms = 250;
  // Keep a job's work files after success (for debugging).
  bool keep_work_files = false;
};

}  // namespace sr2::server
