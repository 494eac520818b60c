// JobManager across a coordinator restart and with a state store that fails, driven through
// its worker protocol in-process (the kill tests in tests/ do the same with real processes).
#include "server/job_manager.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/model/synthetic_llama.h"
#include "common/store/local_object_store.h"
#include "common/util/test_dir.h"
#include "server/state/sqlite_state_store.h"

namespace sr2::server {
namespace {

namespace fs = std::filesystem;

// Saves in memory; fails every Apply while `failing` is set (disk full, read-only volume...).
class FlakyStateStore : public StateStore {
 public:
  absl::Status Apply(const StateBatch& batch) override {
    if (failing) return absl::ResourceExhaustedError("database or disk is full");
    applied += batch.jobs.size() + batch.tasks.size();
    return absl::OkStatus();
  }
  absl::StatusOr<StateSnapshot> Load() override { return StateSnapshot{}; }

  bool failing = false;
  size_t applied = 0;
};

class JobManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("sr2_job_manager");
    fs::create_directories(dir_ + "/model");
    fs::create_directories(dir_ + "/data");
    auto model = LocalObjectStore::Create(dir_ + "/model");
    auto data = LocalObjectStore::Create(dir_ + "/data");
    SyntheticLlamaOptions synthetic;
    synthetic.num_hidden_layers = 2;
    synthetic.calib_tokens = 8192;
    ASSERT_TRUE(WriteSyntheticLlama(synthetic, *model, *data).ok());
    options_.state_dir = dir_ + "/state";
    options_.store_uri = dir_ + "/store";
    options_.lease_ms = 60000;
  }
  void TearDown() override { fs::remove_all(dir_); }

  v1::JobSpec Spec() const {
    v1::JobSpec spec;
    spec.set_model_uri(dir_ + "/model");
    spec.set_calib_uri(dir_ + "/data/calib.tokens.i32");
    spec.set_out_uri(dir_ + "/out");
    spec.set_algorithm(v1::ALGORITHM_RTN);
    spec.set_nsamples(4);
    return spec;
  }

  static std::string Register(JobManager& jobs) {
    v1::WorkerInfo info;
    info.set_version(SR2_VERSION);
    auto r = jobs.RegisterWorker(info);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->worker_id() : "";
  }

  static v1::Task Acquire(JobManager& jobs, const std::string& worker) {
    auto task = jobs.AcquireTask(worker, absl::Seconds(10));
    EXPECT_TRUE(task.ok() && task->has_value()) << "no task became ready";
    return task.ok() && task->has_value() ? **task : v1::Task();
  }

  std::string dir_;
  CoordinatorOptions options_;
};

TEST_F(JobManagerTest, RestartKeepsFinishedTasksAndRunningLeases) {
  std::string job_id;
  v1::Task running;
  {
    auto state = SqliteStateStore::Open(options_.state_dir);
    ASSERT_TRUE(state.ok()) << state.status();
    JobManager jobs(options_, SystemClock::Default(), state->get());
    ASSERT_TRUE(jobs.Restore().ok());
    jobs.Start();
    auto id = jobs.Submit(Spec());
    ASSERT_TRUE(id.ok()) << id.status();
    job_id = *id;
    const std::string worker = Register(jobs);
    v1::Task calibrate = Acquire(jobs, worker);
    ASSERT_EQ(calibrate.kind(), v1::TASK_KIND_CALIBRATE);
    v1::CompleteTaskRequest done;
    done.set_task_id(calibrate.task_id());
    done.set_lease_id(calibrate.lease_id());
    ASSERT_TRUE(jobs.CompleteTask(done).ok());
    running = Acquire(jobs, worker);
    ASSERT_EQ(running.kind(), v1::TASK_KIND_QUANTIZE_BLOCK);
    // Leaving the scope without any shutdown bookkeeping is what a SIGKILL leaves behind.
  }
  auto state = SqliteStateStore::Open(options_.state_dir);
  ASSERT_TRUE(state.ok()) << state.status();
  JobManager jobs(options_, SystemClock::Default(), state->get());
  ASSERT_TRUE(jobs.Restore().ok());
  jobs.Start();
  auto job = jobs.Get(job_id);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(job->stage(), v1::STAGE_QUANTIZE);

  // The event log (`sr2ctl logs`) comes back too, from "submitted" on, without gaps.
  JobEventLog::Slice log = jobs.events().Read(job_id, 0);
  ASSERT_FALSE(log.entries.empty());
  EXPECT_EQ(log.dropped, 0);
  for (size_t i = 0; i < log.entries.size(); ++i) EXPECT_EQ(log.entries[i].seq(), static_cast<int64_t>(i + 1));
  EXPECT_EQ(log.entries.front().kind(), v1::JOB_LOG_KIND_SUBMITTED);

  // The worker still on the block keeps its lease and may deliver its result.
  v1::HeartbeatRequest heartbeat;
  heartbeat.set_task_id(running.task_id());
  heartbeat.set_lease_id(running.lease_id());
  EXPECT_TRUE(jobs.Heartbeat(heartbeat).keep_going());

  // A worker registering anew gets the other block, never the finished calibration again.
  const std::string worker = Register(jobs);
  v1::Task next = Acquire(jobs, worker);
  EXPECT_EQ(next.kind(), v1::TASK_KIND_QUANTIZE_BLOCK);
  EXPECT_NE(next.block_index(), running.block_index());
  EXPECT_GT(next.lease_id(), running.lease_id());  // Lease ids never repeat across restarts.
  auto none = jobs.AcquireTask(worker, absl::Milliseconds(50));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  v1::CompleteTaskRequest done;
  done.set_task_id(running.task_id());
  done.set_lease_id(running.lease_id());
  EXPECT_TRUE(jobs.CompleteTask(done).ok());
}

TEST_F(JobManagerTest, AJobThatEndedJustBeforeACrashIsCleanedUpAfterTheRestart) {
  // What a coordinator killed between cancelling a job and cleaning up after it leaves behind:
  // the saved job without `cleaned_up`, its work files and its staged output.
  const std::string id = "job-cancelled";
  {
    auto state = SqliteStateStore::Open(options_.state_dir);
    ASSERT_TRUE(state.ok()) << state.status();
    StateBatch batch;
    v1::PersistedJob& saved = batch.jobs.emplace_back();
    saved.mutable_job()->set_id(id);
    *saved.mutable_job()->mutable_spec() = Spec();
    saved.mutable_job()->set_state(v1::JOB_STATE_CANCELLED);
    saved.set_work_uri(options_.store_uri + "/jobs/" + id);
    ASSERT_TRUE((*state)->Apply(batch).ok());
  }
  const std::string work = options_.store_uri + "/jobs/" + id;
  const std::string staging = dir_ + "/.out.sr2-staging-" + id;  // DiscardStaging's folder.
  for (const std::string& folder : {work + "/blocks", staging}) {
    fs::create_directories(folder);
    std::ofstream(folder + "/file") << "left behind";
  }

  {
    auto state = SqliteStateStore::Open(options_.state_dir);
    ASSERT_TRUE(state.ok()) << state.status();
    JobManager jobs(options_, SystemClock::Default(), state->get());
    ASSERT_TRUE(jobs.Restore().ok());
    jobs.Start();
    for (int i = 0; i < 500 && (fs::exists(work) || fs::exists(staging)); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_FALSE(fs::exists(work));
    EXPECT_FALSE(fs::exists(staging));
    auto job = jobs.Get(id);
    ASSERT_TRUE(job.ok()) << job.status();
    EXPECT_EQ(job->state(), v1::JOB_STATE_CANCELLED);
  }  // Stop() lets the cleanup finish saving.

  auto state = SqliteStateStore::Open(options_.state_dir);
  ASSERT_TRUE(state.ok()) << state.status();
  auto snapshot = (*state)->Load();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  ASSERT_EQ(snapshot->jobs.size(), 1u);
  EXPECT_TRUE(snapshot->jobs[0].cleaned_up());  // So the next restart leaves it alone.
}

TEST_F(JobManagerTest, SubmitIsRefusedWhenTheStateCannotBeSaved) {
  FlakyStateStore state;
  state.failing = true;
  JobManager jobs(options_, SystemClock::Default(), &state);
  jobs.Start();
  auto id = jobs.Submit(Spec());
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(id.status().message().find("disk is full"), std::string::npos) << id.status();
  EXPECT_TRUE(jobs.List().empty());
}

TEST_F(JobManagerTest, AJobWhoseStateCannotBeSavedFailsWithTheReason) {
  FlakyStateStore state;
  JobManager jobs(options_, SystemClock::Default(), &state);
  jobs.Start();
  auto id = jobs.Submit(Spec());
  ASSERT_TRUE(id.ok()) << id.status();
  const std::string worker = Register(jobs);
  v1::Task calibrate = Acquire(jobs, worker);
  state.failing = true;
  v1::CompleteTaskRequest done;
  done.set_task_id(calibrate.task_id());
  done.set_lease_id(calibrate.lease_id());
  (void)jobs.CompleteTask(done);
  auto job = jobs.Get(*id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state(), v1::JOB_STATE_FAILED);
  EXPECT_NE(job->error().find("could not save the job's state"), std::string::npos)
      << job->error();
  EXPECT_NE(job->error().find("disk is full"), std::string::npos) << job->error();
  // Its tasks are gone: no worker picks them up.
  auto none = jobs.AcquireTask(worker, absl::Milliseconds(50));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(JobManagerTest, WorkersOfAnotherVersionAreRefused) {
  FlakyStateStore state;
  JobManager jobs(options_, SystemClock::Default(), &state);
  v1::WorkerInfo info;
  info.set_version("0.0.1-old");
  auto r = jobs.RegisterWorker(info);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("incompatible"), std::string::npos) << r.status();
}

TEST_F(JobManagerTest, AJobNoWorkerCanHoldSaysWhyItWaits) {
  options_.lease_sweep_interval_ms = 10;
  FlakyStateStore state;
  JobManager jobs(options_, SystemClock::Default(), &state);
  jobs.Start();
  v1::JobSpec spec = Spec();
  spec.set_device("cuda");
  auto id = jobs.Submit(spec);
  ASSERT_TRUE(id.ok()) << id.status();
  v1::WorkerInfo cpu;
  cpu.set_version(SR2_VERSION);
  cpu.set_device("cpu");
  auto worker = jobs.RegisterWorker(cpu);
  ASSERT_TRUE(worker.ok());
  // The CPU worker never gets the CUDA job's task, and the job says why it waits.
  auto none = jobs.AcquireTask(worker->worker_id(), absl::Milliseconds(300));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto job = jobs.Get(*id);
  ASSERT_TRUE(job.ok());
  EXPECT_NE(job->waiting_reason().find("no worker can hold task"), std::string::npos)
      << job->waiting_reason();
  EXPECT_NE(job->waiting_reason().find("device cuda"), std::string::npos)
      << job->waiting_reason();
  // A CUDA worker joining takes it, and the reason goes away.
  v1::WorkerInfo gpu = cpu;
  gpu.set_device("cuda:0");
  auto gpu_worker = jobs.RegisterWorker(gpu);
  ASSERT_TRUE(gpu_worker.ok());
  auto task = jobs.AcquireTask(gpu_worker->worker_id(), absl::Seconds(5));
  ASSERT_TRUE(task.ok() && task->has_value());
  EXPECT_EQ((*task)->requirements().device(), "cuda");
  EXPECT_GT((*task)->requirements().memory_bytes(), 0);
  absl::SleepFor(absl::Milliseconds(100));
  job = jobs.Get(*id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->waiting_reason(), "");
}

}  // namespace
}  // namespace sr2::server
