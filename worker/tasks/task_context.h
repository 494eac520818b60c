// What a task executor gets besides the task itself: the device, a progress callback that
// feeds heartbeats, and a cancellation check (lease lost, job cancelled, worker stopping).
#pragma once

#include <functional>
#include <string>

namespace sr2::worker {

struct TaskContext {
  std::string device = "cpu";
  // fraction in [0, 1] within the task, a short message, the best loss so far (0 if none).
  std::function<void(double fraction, const std::string& message, double best_loss)> progress =
      [](double, const std::string&, double) {};
  std::function<bool()> cancelled = [] { return false; };
};

}  // namespace sr2::worker
