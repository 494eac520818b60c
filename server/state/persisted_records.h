// Conversions between the coordinator's in-memory records and their saved form
// (proto/sr2/v1/coordinator_state.proto).
#pragma once

#include "common/model/model_layout.h"
#include "server/task_scheduler.h"
#include "sr2/v1/coordinator_state.pb.h"

namespace sr2::server {

v1::PersistedLinear ToPersisted(const LinearLayer& layer);
LinearLayer FromPersisted(const v1::PersistedLinear& saved);

// Lease deadlines and heartbeat progress are not saved: a restored running task gets a fresh
// lease period (TaskScheduler::Restore).
v1::PersistedTask ToPersisted(const TaskRecord& task);
TaskRecord FromPersisted(const v1::PersistedTask& saved);

}  // namespace sr2::server
