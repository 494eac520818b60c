// Runs one task of any kind. All libtorch and c10 exceptions are caught here and turned into
// a Status with the task's context, so nothing escapes into the worker loop.
#pragma once

#include "absl/status/statusor.h"
#include "sr2/v1/worker_service.pb.h"
#include "worker/tasks/task_context.h"

namespace sr2::worker {

absl::StatusOr<v1::TaskOutput> RunTask(const v1::Task& task, const TaskContext& context);

// Whether retrying a task that failed with `status` on another worker could help: bad input
// (InvalidArgument, NotFound, FailedPrecondition, Unimplemented, AlreadyExists, OutOfRange)
// fails the same everywhere.
bool IsRetryable(const absl::Status& status);

}  // namespace sr2::worker
