// Attempt-level events of the TaskScheduler, for whoever counts them (the metrics exporter).
// They are called under the JobManager's mutex: implementations must be quick and must not
// call back into the JobManager.
#pragma once

#include "sr2/v1/worker_service.pb.h"

namespace sr2::server {

// How a task attempt ended; every granted attempt ends exactly once.
enum class AttemptOutcome {
  kSucceeded,
  kRetried,    // The worker reported an error; the task went back to the queue.
  kFailed,     // The worker reported an error and no attempt is left: the job fails.
  kExpired,    // The lease ran out (the worker stopped heartbeating).
  kAbandoned,  // The job ended (cancelled, or failed by another task) while the attempt ran.
};

class TaskEvents {
 public:
  virtual ~TaskEvents() = default;
  virtual void AttemptStarted(const v1::Task& task) = 0;
  // `seconds` from grant to end; `requeued` when the task went back to the queue.
  virtual void AttemptEnded(const v1::Task& task, AttemptOutcome outcome, double seconds,
                            bool requeued) = 0;
};

}  // namespace sr2::server
