#include "server/task_scheduler.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/util/fake_clock.h"

namespace sr2::server {
namespace {

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
  auto a = scheduler_.Acquire("w1");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->task_id(), "j/a");
  EXPECT_FALSE(scheduler_.Acquire("w2").has_value());  // b waits for a
  ASSERT_TRUE(scheduler_.Complete("j/a", a->lease_id(), {}).ok());
  auto b = scheduler_.Acquire("w2");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->task_id(), "j/b");
}

TEST_F(TaskSchedulerTest, ExpiredLeaseRequeuesAndRejectsLateResult) {
  scheduler_.Add(MakeTask("j", "a"), {});
  auto first = scheduler_.Acquire("w1");
  ASSERT_TRUE(first.has_value());
  clock_.Advance(500);
  EXPECT_TRUE(scheduler_.Renew("j/a", first->lease_id(), 0.5, 0).ok());
  clock_.Advance(999);
  EXPECT_TRUE(scheduler_.ExpireLeases().empty());  // renewed at +500, expires at +1500
  clock_.Advance(1);
  auto ended = scheduler_.ExpireLeases();
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_FALSE(ended[0].exhausted);
  auto second = scheduler_.Acquire("w2");
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
  auto t1 = scheduler_.Acquire("w1");
  auto end1 = scheduler_.Fail("j/a", t1->lease_id(), "boom", /*retryable=*/true);
  ASSERT_TRUE(end1.ok());
  EXPECT_FALSE(end1->exhausted);
  auto t2 = scheduler_.Acquire("w1");
  ASSERT_TRUE(t2.has_value());
  auto end2 = scheduler_.Fail("j/a", t2->lease_id(), "boom again", /*retryable=*/true);
  ASSERT_TRUE(end2.ok());
  EXPECT_TRUE(end2->exhausted);
  EXPECT_EQ(end2->error, "boom again");
  EXPECT_FALSE(scheduler_.Acquire("w1").has_value());
}

TEST_F(TaskSchedulerTest, NonRetryableFailureExhaustsAtOnce) {
  scheduler_.Add(MakeTask("j", "a"), {});
  auto t = scheduler_.Acquire("w1");
  auto end = scheduler_.Fail("j/a", t->lease_id(), "bad input", /*retryable=*/false);
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->exhausted);
}

TEST_F(TaskSchedulerTest, JobsShareWorkersFairly) {
  for (int i = 0; i < 3; ++i) scheduler_.Add(MakeTask("j1", absl::StrCat("t", i)), {});
  for (int i = 0; i < 3; ++i) scheduler_.Add(MakeTask("j2", absl::StrCat("t", i)), {});
  std::vector<std::string> jobs;
  for (int i = 0; i < 4; ++i) jobs.push_back(scheduler_.Acquire("w")->job_id());
  EXPECT_EQ(jobs, (std::vector<std::string>{"j1", "j2", "j1", "j2"}));
}

TEST_F(TaskSchedulerTest, RemoveJobDropsItsTasks) {
  scheduler_.Add(MakeTask("j1", "a"), {});
  scheduler_.Add(MakeTask("j2", "a"), {});
  auto running = scheduler_.Acquire("w");
  scheduler_.RemoveJob(running->job_id());
  EXPECT_TRUE(absl::IsFailedPrecondition(
      scheduler_.Renew(running->task_id(), running->lease_id(), 0, 0)));
  auto next = scheduler_.Acquire("w");
  ASSERT_TRUE(next.has_value());
  EXPECT_NE(next->job_id(), running->job_id());
  EXPECT_FALSE(scheduler_.Acquire("w").has_value());
}

}  // namespace
}  // namespace sr2::server
