// What the scheduler and the worker fleet look like at one moment, for the metrics exporter
// (JobManager::Stats). Job-level numbers come from the jobs themselves (JobManager::List).
#pragma once

#include <map>
#include <optional>
#include <string>

namespace sr2::server {

struct RunningJobStats {
  int num_blocks = 0;  // 0 until the model has been inspected.
  // Best tuning loss so far of the lowest-numbered block being tuned, once it reported one.
  std::optional<double> best_loss;
};

struct CoordinatorStats {
  int queued_tasks = 0;  // Ready, waiting for a worker.
  // Live workers (heard from recently), by whether they hold a task.
  int idle_workers = 0;
  int busy_workers = 0;
  std::map<std::string, RunningJobStats> running_jobs;  // By job id.
};

}  // namespace sr2::server
