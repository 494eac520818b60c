#include "server/state/persisted_records.h"

namespace sr2::server {

v1::PersistedLinear ToPersisted(const LinearLayer& layer) {
  v1::PersistedLinear saved;
  saved.set_name(layer.name);
  saved.set_short_name(layer.short_name);
  saved.set_block(layer.block);
  saved.set_out_features(layer.out_features);
  saved.set_in_features(layer.in_features);
  saved.set_has_bias(layer.has_bias);
  return saved;
}

LinearLayer FromPersisted(const v1::PersistedLinear& saved) {
  LinearLayer layer;
  layer.name = saved.name();
  layer.short_name = saved.short_name();
  layer.block = saved.block();
  layer.out_features = saved.out_features();
  layer.in_features = saved.in_features();
  layer.has_bias = saved.has_bias();
  return layer;
}

v1::PersistedTask ToPersisted(const TaskRecord& task) {
  v1::PersistedTask saved;
  *saved.mutable_task() = task.task;
  for (const std::string& d : task.deps) saved.add_deps(d);
  switch (task.state) {
    case TaskState::kRunning:
      saved.set_state(v1::PERSISTED_TASK_STATE_RUNNING);
      break;
    case TaskState::kDone:
      saved.set_state(v1::PERSISTED_TASK_STATE_DONE);
      *saved.mutable_output() = task.output;
      break;
    default:
      saved.set_state(v1::PERSISTED_TASK_STATE_QUEUED);
      break;
  }
  saved.set_attempts(task.attempts);
  saved.set_worker_id(task.worker_id);
  saved.set_last_error(task.last_error);
  return saved;
}

TaskRecord FromPersisted(const v1::PersistedTask& saved) {
  TaskRecord task;
  task.task = saved.task();
  task.deps.assign(saved.deps().begin(), saved.deps().end());
  switch (saved.state()) {
    case v1::PERSISTED_TASK_STATE_RUNNING:
      task.state = TaskState::kRunning;
      break;
    case v1::PERSISTED_TASK_STATE_DONE:
      task.state = TaskState::kDone;
      task.progress = 1;
      task.output = saved.output();
      break;
    default:
      task.state = TaskState::kWaiting;  // FinishRestore() decides between waiting and ready.
      break;
  }
  task.attempts = saved.attempts();
  task.worker_id = saved.worker_id();
  task.last_error = saved.last_error();
  return task;
}

}  // namespace sr2::server
