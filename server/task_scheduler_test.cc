#include "server/task_scheduler.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/util/fake_clock.h"

namespace sr2::server {
namespace {

// A worker that can hold any task.
WorkerCapacity Worker(const std::string& id) { return WorkerCapacity{id, "cpu", 0}; }

v1::Task MakeTask(const std::string& job, const std::string& name) {
  v1::Task t;
  t.set_job_id(job);
  t.set_task_id(absl::StrCat(job, "/", name));
  return t;
}

class TaskSchedulerTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  TaskScheduler scheduler_{&clock_, SchedulerOptions{/*lease_ms=*/1000, /*max_attempts=*/2}};
};

TEST_F(TaskSchedulerTest, DependenciesGateReadiness) {
  scheduler_.Add(MakeTask("j", "a"), {});
  scheduler_.Add(MakeTask("j", "b"), {"j/a"});
  auto a = scheduler_.Acquire(Worker("w1"));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->task_id(), "j/a");
  EXPECT_FALSE(scheduler_.Acquire(Worker("w2")).has_value());  // b waits for a
  ASSERT_TRUE(scheduler_.Complete("j/a", a->lease_id(), {}).ok());
  auto b = scheduler_.Acquire(Worker("w2"));
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->task_id(), "j/b");
}

TEST_F(TaskSchedulerTest, ExpiredLeaseRequeuesAndRejectsLateResult) {
  scheduler_.Add(MakeTask("j", "a"), {});
  auto first = scheduler_.Acquire(Worker("w1"));
  ASSERT_TRUE(first.has_value());
  clock_.Advance(500);
  EXPECT_TRUE(scheduler_.Renew("j/a", first->lease_id(), 0.5, 0).ok());
  clock_.Advance(999);
  EXPECT_TRUE(scheduler_.ExpireLeases().empty());  // renewed at +500, expires at +1500
  clock_.Advance(1);
  auto ended = scheduler_.ExpireLeases();
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_FALSE(ended[0].exhausted);
  auto second = scheduler_.Acquire(Worker("w2"));
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(second->lease_id(), first->lease_id());
  // The first worker's late result is refused; the second one's is taken.
  EXPECT_TRUE(absl::IsFailedPrecondition(scheduler_.Complete("j/a", first->lease_id(), {})));
  EXPECT_TRUE(scheduler_.Complete("j/a", second->lease_id(), {}).ok());
  // Duplicate completion is refused too.
  EXPECT_TRUE(absl::IsFailedPrecondition(scheduler_.Complete("j/a", second->lease_id(), {})));
}

TEST_F(TaskSchedulerTest, RetriesUntilAttemptsRunOut) {
  scheduler_.Add(MakeTask("j", "a"), {});
  auto t1 = scheduler_.Acquire(Worker("w1"));
  auto end1 = scheduler_.Fail("j/a", t1->lease_id(), "boom", /*retryable=*/true);
  ASSERT_TRUE(end1.ok());
  EXPECT_FALSE(end1->exhausted);
  auto t2 = scheduler_.Acquire(Worker("w1"));
  ASSERT_TRUE(t2.has_value());
  auto end2 = scheduler_.Fail("j/a", t2->lease_id(), "boom again", /*retryable=*/true);
  ASSERT_TRUE(end2.ok());
  EXPECT_TRUE(end2->exhausted);
  EXPECT_EQ(end2->error, "boom again");
  EXPECT_FALSE(scheduler_.Acquire(Worker("w1")).has_value());
}

TEST_F(TaskSchedulerTest, NonRetryableFailureExhaustsAtOnce) {
  scheduler_.Add(MakeTask("j", "a"), {});
  auto t = scheduler_.Acquire(Worker("w1"));
  auto end = scheduler_.Fail("j/a", t->lease_id(), "bad input", /*retryable=*/false);
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->exhausted);
}

TEST_F(TaskSchedulerTest, JobsShareWorkersFairly) {
  for (int i = 0; i < 3; ++i) scheduler_.Add(MakeTask("j1", absl::StrCat("t", i)), {});
  for (int i = 0; i < 3; ++i) scheduler_.Add(MakeTask("j2", absl::StrCat("t", i)), {});
  std::vector<std::string> jobs;
  for (int i = 0; i < 4; ++i) jobs.push_back(scheduler_.Acquire(Worker("w"))->job_id());
  EXPECT_EQ(jobs, (std::vector<std::string>{"j1", "j2", "j1", "j2"}));
}

TEST_F(TaskSchedulerTest, RemoveJobDropsItsTasks) {
  scheduler_.Add(MakeTask("j1", "a"), {});
  scheduler_.Add(MakeTask("j2", "a"), {});
  auto running = scheduler_.Acquire(Worker("w"));
  scheduler_.RemoveJob(running->job_id());
  EXPECT_TRUE(absl::IsFailedPrecondition(
      scheduler_.Renew(running->task_id(), running->lease_id(), 0, 0)));
  auto next = scheduler_.Acquire(Worker("w"));
  ASSERT_TRUE(next.has_value());
  EXPECT_NE(next->job_id(), running->job_id());
  EXPECT_FALSE(scheduler_.Acquire(Worker("w")).has_value());
}

TEST_F(TaskSchedulerTest, TasksOnlyGoToWorkersThatCanHoldThem) {
  v1::Task big = MakeTask("j", "big");
  big.mutable_requirements()->set_memory_bytes(8 << 20);
  v1::Task gpu = MakeTask("j", "gpu");
  gpu.mutable_requirements()->set_device("cuda");
  scheduler_.Add(big, {});
  scheduler_.Add(gpu, {});
  scheduler_.Add(MakeTask("j", "small"), {});
  const WorkerCapacity small_cpu{"w1", "cpu", 1 << 20};
  auto first = scheduler_.Acquire(small_cpu);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->task_id(), "j/small");  // Skips the two it cannot hold.
  EXPECT_FALSE(scheduler_.HasReadyTaskFor(small_cpu));
  EXPECT_FALSE(scheduler_.Acquire(small_cpu).has_value());
  auto on_gpu = scheduler_.Acquire(WorkerCapacity{"w2", "cuda:1", 1 << 20});
  ASSERT_TRUE(on_gpu.has_value());
  EXPECT_EQ(on_gpu->task_id(), "j/gpu");
  // Unknown memory (0) is not a reason to refuse.
  auto on_big = scheduler_.Acquire(WorkerCapacity{"w3", "cpu", 0});
  ASSERT_TRUE(on_big.has_value());
  EXPECT_EQ(on_big->task_id(), "j/big");
}

TEST_F(TaskSchedulerTest, RestoreKeepsDoneTasksAndRunningLeases) {
  TaskRecord done;
  done.task = MakeTask("j", "a");
  done.state = TaskState::kDone;
  TaskRecord running;
  running.task = MakeTask("j", "b");
  running.task.set_lease_id(41);
  running.deps = {"j/a"};
  running.state = TaskState::kRunning;
  TaskRecord waiting;
  waiting.task = MakeTask("j", "c");
  waiting.deps = {"j/b"};
  TaskRecord ready;
  ready.task = MakeTask("j", "d");
  ready.deps = {"j/a"};
  for (TaskRecord* t : {&done, &running, &waiting, &ready}) scheduler_.Restore(*t);
  scheduler_.FinishRestore();
  EXPECT_TRUE(scheduler_.TakeChanges().tasks.empty());

  // The running task's lease holds for a fresh lease period.
  clock_.Advance(900);
  EXPECT_TRUE(scheduler_.Renew("j/b", 41, 0.5, 0).ok());
  // Only d is ready (c waits for b); new leases never reuse a restored one.
  auto d = scheduler_.Acquire(Worker("w"));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->task_id(), "j/d");
  EXPECT_GT(d->lease_id(), 41);
  EXPECT_FALSE(scheduler_.Acquire(Worker("w")).has_value());
  ASSERT_TRUE(scheduler_.Complete("j/b", 41, {}).ok());
  auto c = scheduler_.Acquire(Worker("w"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->task_id(), "j/c");
}

TEST_F(TaskSchedulerTest, ReportsWhatChangedForSaving) {
  scheduler_.Add(MakeTask("j1", "a"), {});
  scheduler_.Add(MakeTask("j2", "a"), {});
  EXPECT_EQ(scheduler_.TakeChanges().tasks, (std::vector<std::string>{"j1/a", "j2/a"}));
  auto t = scheduler_.Acquire(Worker("w"));
  ASSERT_TRUE(scheduler_.Renew(t->task_id(), t->lease_id(), 0.5, 0).ok());
  EXPECT_EQ(scheduler_.TakeChanges().tasks, (std::vector<std::string>{t->task_id()}));
  scheduler_.RemoveJob("j2");
  TaskScheduler::Changes changes = scheduler_.TakeChanges();
  EXPECT_TRUE(changes.tasks.empty());
  EXPECT_EQ(changes.removed_jobs, (std::vector<std::string>{"j2"}));
}

// Records what the scheduler reports, as "task outcome seconds requeued".
class RecordingEvents : public TaskEvents {
 public:
  void AttemptStarted(const v1::Task& task) override { log.push_back("start " + task.task_id()); }
  void AttemptEnded(const v1::Task& task, AttemptOutcome outcome, double seconds,
                    bool requeued) override {
    log.push_back(absl::StrCat(task.task_id(), " ", static_cast<int>(outcome), " ", seconds, " ",
                               requeued));
  }
  std::vector<std::string> log;
};

TEST(TaskSchedulerEventsTest, EveryGrantedAttemptEndsExactlyOnce) {
  FakeClock clock;
  RecordingEvents events;
  TaskScheduler scheduler(&clock, SchedulerOptions{/*lease_ms=*/1000, /*max_attempts=*/2},
                          &events);
  const int ok = static_cast<int>(AttemptOutcome::kSucceeded);
  const int retried = static_cast<int>(AttemptOutcome::kRetried);
  const int failed = static_cast<int>(AttemptOutcome::kFailed);
  const int expired = static_cast<int>(AttemptOutcome::kExpired);
  const int abandoned = static_cast<int>(AttemptOutcome::kAbandoned);
  scheduler.Add(MakeTask("j", "a"), {});
  scheduler.Add(MakeTask("j", "b"), {});
  scheduler.Add(MakeTask("k", "c"), {});

  auto a = scheduler.Acquire(Worker("w1"));  // j/a: succeeds after 1.5 s
  clock.Advance(1500 - 1);
  ASSERT_TRUE(scheduler.Renew("j/a", a->lease_id(), 0.5, 0).ok());
  clock.Advance(1);
  ASSERT_TRUE(scheduler.Complete("j/a", a->lease_id(), {}).ok());
  // A late duplicate result is rejected and reported as nothing.
  EXPECT_FALSE(scheduler.Complete("j/a", a->lease_id(), {}).ok());

  auto c = scheduler.Acquire(Worker("w1"));  // k/c: fails (retried), then fails for good
  ASSERT_EQ(c->task_id(), "k/c");
  ASSERT_TRUE(scheduler.Fail("k/c", c->lease_id(), "boom", /*retryable=*/true).ok());
  auto b = scheduler.Acquire(Worker("w2"));  // j/b: lease expires after 1 s
  ASSERT_EQ(b->task_id(), "j/b");
  c = scheduler.Acquire(Worker("w1"));
  ASSERT_EQ(c->task_id(), "k/c");
  ASSERT_TRUE(scheduler.Fail("k/c", c->lease_id(), "boom", /*retryable=*/true).ok());
  clock.Advance(1000);
  ASSERT_EQ(scheduler.ExpireLeases().size(), 1u);
  b = scheduler.Acquire(Worker("w2"));  // j/b again, then its job is cancelled
  ASSERT_EQ(b->task_id(), "j/b");
  scheduler.RemoveJob("j");
  scheduler.RemoveJob("k");  // k/c is parked, not running: nothing to report

  EXPECT_EQ(events.log, (std::vector<std::string>{
                            "start j/a", absl::StrCat("j/a ", ok, " 1.5 0"),
                            "start k/c", absl::StrCat("k/c ", retried, " 0 1"),
                            "start j/b", "start k/c", absl::StrCat("k/c ", failed, " 0 0"),
                            absl::StrCat("j/b ", expired, " 1 1"),
                            "start j/b", absl::StrCat("j/b ", abandoned, " 0 0")}));
}

}  // namespace
}  // namespace sr2::server
