#include "worker/worker_runtime.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>

#include "absl/strings/str_cat.h"
#include "common/util/grpc_status.h"
#include "worker/tasks/task_runner.h"

namespace sr2::worker {
namespace {

// Deadline for the small unary calls (register, heartbeat, complete, fail).
constexpr auto kCallTimeout = std::chrono::seconds(10);

void SetDeadline(grpc::ClientContext* ctx, std::chrono::milliseconds d) {
  ctx->set_deadline(std::chrono::system_clock::now() + d);
}

std::string Hostname() {
  char buf[256] = {0};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

// A number from a cgroup file, 0 when absent or "max".
int64_t CgroupLimit(const char* path) {
  std::ifstream in(path);
  int64_t limit = 0;
  return (in >> limit) ? limit : 0;
}

// What a CPU worker can give its tasks: physical RAM, or less when a container limit says so.
int64_t HostMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  int64_t bytes = pages > 0 && page > 0 ? int64_t{pages} * page : 0;
  for (const char* path : {"/sys/fs/cgroup/memory.max",                      // cgroup v2
                           "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {  // cgroup v1
    const int64_t limit = CgroupLimit(path);
    if (limit > 0 && (bytes == 0 || limit < bytes)) bytes = limit;
  }
  return bytes;
}

int64_t AdvertisedMemory(const WorkerOptions& options) {
  if (options.memory_bytes > 0) return options.memory_bytes;
  // GPU memory cannot be read without CUDA headers here; unknown lets every task through.
  return options.device.rfind("cuda", 0) == 0 ? 0 : HostMemoryBytes();
}

}  // namespace

WorkerRuntime::WorkerRuntime(WorkerOptions options, WorkerMetrics* metrics)
    : options_(std::move(options)), metrics_(metrics) {
  channel_ = grpc::CreateChannel(options_.coordinator, grpc::InsecureChannelCredentials());
  stub_ = v1::WorkerService::NewStub(channel_);
}

void WorkerRuntime::CountTask(const v1::Task& task, WorkerTaskOutcome outcome) {
  if (metrics_ != nullptr) metrics_->TaskFinished(task.kind(), outcome);
}

void WorkerRuntime::SleepBackoff() {
  backoff_ms_ = backoff_ms_ == 0 ? options_.reconnect_initial_ms
                                 : std::min(backoff_ms_ * 2, options_.reconnect_max_ms);
  for (int slept = 0; slept < backoff_ms_ && !stopping_; slept += 50) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

absl::Status WorkerRuntime::Register() {
  v1::RegisterWorkerRequest request;
  v1::WorkerInfo* info = request.mutable_info();
  info->set_hostname(Hostname());
  info->set_device(options_.device);
  info->set_threads(options_.threads);
  info->set_memory_bytes(AdvertisedMemory(options_));
  info->set_version(SR2_VERSION);
  v1::RegisterWorkerResponse response;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, kCallTimeout);
  grpc::Status s = stub_->RegisterWorker(&ctx, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  worker_id_ = response.worker_id();
  heartbeat_interval_ms_ = std::max(100, response.heartbeat_interval_ms());
  std::fprintf(stderr,
               "sr2-worker: registered as %s with %s (device %s, %d threads, %.1f GiB)\n",
               worker_id_.c_str(), options_.coordinator.c_str(), options_.device.c_str(),
               options_.threads, info->memory_bytes() / double(1LL << 30));
  return absl::OkStatus();
}

absl::Status WorkerRuntime::Run() {
  while (!stopping_) {
    if (worker_id_.empty()) {
      absl::Status s = Register();
      if (absl::IsFailedPrecondition(s)) return s;  // Incompatible version: retrying won't help.
      if (!s.ok()) {
        SleepBackoff();
        continue;
      }
      backoff_ms_ = 0;
    }
    v1::AcquireTaskRequest request;
    request.set_worker_id(worker_id_);
    request.set_wait_ms(options_.acquire_wait_ms);
    v1::AcquireTaskResponse response;
    grpc::ClientContext ctx;
    SetDeadline(&ctx, std::chrono::milliseconds(options_.acquire_wait_ms) + kCallTimeout);
    grpc::Status s = stub_->AcquireTask(&ctx, request, &response);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
      worker_id_.clear();  // The coordinator restarted and forgot us.
      continue;
    }
    if (!s.ok()) {
      SleepBackoff();
      continue;
    }
    backoff_ms_ = 0;
    if (response.has_task()) Execute(response.task());
  }
  return absl::OkStatus();
}

void WorkerRuntime::Execute(const v1::Task& task) {
  std::fprintf(stderr, "sr2-worker %s: task %s\n", worker_id_.c_str(), task.task_id().c_str());
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::atomic<bool> abandoned{false};
  v1::TaskProgress progress;

  TaskContext context;
  context.device = options_.device;
  context.progress = [&](double fraction, const std::string& message, double best_loss) {
    std::lock_guard<std::mutex> lock(mu);
    progress.set_fraction(fraction);
    progress.set_message(message);
    progress.set_best_loss(best_loss);
  };
  context.cancelled = [&] { return abandoned.load() || stopping_.load(); };

  absl::StatusOr<v1::TaskOutput> result;
  std::thread runner([&] {
    result = RunTask(task, context);
    std::lock_guard<std::mutex> lock(mu);
    finished = true;
    cv.notify_all();
  });

  std::string abandon_reason;
  {
    std::unique_lock<std::mutex> lock(mu);
    while (!finished) {
      cv.wait_for(lock, std::chrono::milliseconds(heartbeat_interval_ms_));
      if (finished) break;
      if (stopping_) {
        abandon_reason = "worker is shutting down";
        abandoned = true;
        continue;  // Wait for the task to notice and return.
      }
      v1::HeartbeatRequest hb;
      hb.set_worker_id(worker_id_);
      hb.set_task_id(task.task_id());
      hb.set_lease_id(task.lease_id());
      *hb.mutable_progress() = progress;
      lock.unlock();
      v1::HeartbeatResponse answer;
      grpc::ClientContext ctx;
      SetDeadline(&ctx, kCallTimeout);
      grpc::Status s = stub_->Heartbeat(&ctx, hb, &answer);
      lock.lock();
      // An unreachable coordinator is not a reason to stop: the lease may still be valid
      // when it comes back. An explicit "stop" is.
      if (s.ok() && !answer.keep_going() && !abandoned) {
        abandon_reason = answer.reason();
        abandoned = true;
      }
    }
  }
  runner.join();

  if (abandoned && !stopping_) {
    CountTask(task, WorkerTaskOutcome::kAbandoned);
    std::fprintf(stderr, "sr2-worker %s: dropped task %s: %s\n", worker_id_.c_str(),
                 task.task_id().c_str(), abandon_reason.c_str());
    return;
  }
  if (result.ok() && !stopping_) {
    CountTask(task, WorkerTaskOutcome::kSucceeded);
    v1::CompleteTaskRequest done;
    done.set_worker_id(worker_id_);
    done.set_task_id(task.task_id());
    done.set_lease_id(task.lease_id());
    *done.mutable_output() = *result;
    v1::CompleteTaskResponse answer;
    grpc::Status s = Deliver(
        [&](grpc::ClientContext* ctx) { return stub_->CompleteTask(ctx, done, &answer); });
    std::fprintf(stderr, "sr2-worker %s: task %s done in %.2fs%s\n", worker_id_.c_str(),
                 task.task_id().c_str(), result->seconds(),
                 s.ok() && answer.accepted() ? "" : " (result not accepted)");
    return;
  }
  v1::FailTaskRequest fail;
  fail.set_worker_id(worker_id_);
  fail.set_task_id(task.task_id());
  fail.set_lease_id(task.lease_id());
  CountTask(task, stopping_ ? WorkerTaskOutcome::kAbandoned : WorkerTaskOutcome::kFailed);
  if (stopping_) {
    fail.set_error(abandon_reason.empty() ? "worker is shutting down" : abandon_reason);
    fail.set_retryable(true);
  } else {
    fail.set_error(std::string(result.status().message()));
    fail.set_retryable(IsRetryable(result.status()));
  }
  std::fprintf(stderr, "sr2-worker %s: task %s failed: %s\n", worker_id_.c_str(),
               task.task_id().c_str(), fail.error().c_str());
  v1::FailTaskResponse answer;
  (void)Deliver([&](grpc::ClientContext* ctx) { return stub_->FailTask(ctx, fail, &answer); });
}

grpc::Status WorkerRuntime::Deliver(
    const std::function<grpc::Status(grpc::ClientContext*)>& call) {
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.report_retry_ms);
  int backoff_ms = options_.reconnect_initial_ms;
  for (;;) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, kCallTimeout);
    grpc::Status s = call(&ctx);
    const bool unreachable = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                             s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    if (!unreachable || stopping_ ||
        std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_ms) > give_up) {
      return s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, options_.reconnect_max_ms);
  }
}

}  // namespace sr2::worker
