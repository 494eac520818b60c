#include "server/job_event_log.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/util/fake_clock.h"

namespace sr2::server {
namespace {

v1::JobLogEntry Entry(const std::string& message) {
  v1::JobLogEntry entry;
  entry.set_message(message);
  return entry;
}

std::vector<std::string> Messages(const JobEventLog::Slice& slice) {
  std::vector<std::string> out;
  for (const v1::JobLogEntry& e : slice.entries) out.push_back(e.message());
  return out;
}

TEST(JobEventLogTest, StampsSeqAndTimePerJobAndReadsAfterASeq) {
  FakeClock clock(5000);
  JobEventLog log(&clock);
  log.Append("a", Entry("a1"));
  clock.Advance(250);
  log.Append("b", Entry("b1"));
  log.Append("a", Entry("a2"));
  JobEventLog::Slice all = log.Read("a", 0);
  ASSERT_EQ(all.entries.size(), 2u);
  EXPECT_EQ(all.entries[0].seq(), 1);
  EXPECT_EQ(all.entries[0].time_ms(), 5000);
  EXPECT_EQ(all.entries[1].seq(), 2);
  EXPECT_EQ(all.entries[1].time_ms(), 5250);
  EXPECT_EQ(all.dropped, 0);
  EXPECT_EQ(Messages(log.Read("a", 1)), std::vector<std::string>{"a2"});
  EXPECT_TRUE(log.Read("a", 2).entries.empty());
  EXPECT_EQ(log.Read("b", 0).entries.at(0).seq(), 1);
  EXPECT_TRUE(log.Read("unknown", 0).entries.empty());
}

TEST(JobEventLogTest, KeepsTheNewestEntriesOfAJobAndCountsTheDropped) {
  FakeClock clock;
  JobEventLog log(&clock, JobEventLogOptions{/*max_entries_per_job=*/3, /*max_jobs=*/10});
  for (int i = 1; i <= 5; ++i) log.Append("a", Entry(absl::StrCat("e", i)));
  JobEventLog::Slice all = log.Read("a", 0);
  EXPECT_EQ(Messages(all), (std::vector<std::string>{"e3", "e4", "e5"}));
  EXPECT_EQ(all.dropped, 2);
  EXPECT_EQ(log.Read("a", 1).dropped, 1);  // e2 was after seq 1 and is gone.
  EXPECT_EQ(log.Read("a", 2).dropped, 0);
  EXPECT_EQ(Messages(log.Read("a", 4)), std::vector<std::string>{"e5"});
}

TEST(JobEventLogTest, EvictsTheOldestJobsEntriesButNeverReusesItsSeqs) {
  FakeClock clock;
  JobEventLog log(&clock, JobEventLogOptions{/*max_entries_per_job=*/10, /*max_jobs=*/2});
  log.Append("a", Entry("a1"));
  log.Append("b", Entry("b1"));
  log.Append("c", Entry("c1"));  // Three jobs: a's entries go.
  EXPECT_TRUE(log.Read("a", 0).entries.empty());
  EXPECT_EQ(log.Read("a", 0).dropped, 1);
  EXPECT_EQ(Messages(log.Read("b", 0)), std::vector<std::string>{"b1"});
  log.Append("a", Entry("a2"));  // a is back (and b goes); its seqs continue.
  JobEventLog::Slice a = log.Read("a", 0);
  ASSERT_EQ(a.entries.size(), 1u);
  EXPECT_EQ(a.entries[0].seq(), 2);
  EXPECT_TRUE(log.Read("b", 0).entries.empty());
  EXPECT_EQ(Messages(log.Read("c", 0)), std::vector<std::string>{"c1"});
}

TEST(JobEventLogTest, ReportsEachNewEntryOnceForSavingAndWhatTheBoundsDropped) {
  FakeClock clock(7000);
  JobEventLog log(&clock, JobEventLogOptions{/*max_entries_per_job=*/2, /*max_jobs=*/2});
  log.Append("a", Entry("a1"));
  JobEventLog::Unsaved first = log.TakeUnsaved();
  ASSERT_EQ(first.entries.size(), 1u);
  EXPECT_EQ(first.entries[0].job_id(), "a");
  EXPECT_EQ(first.entries[0].entry().seq(), 1);
  EXPECT_EQ(first.entries[0].entry().time_ms(), 7000);
  EXPECT_TRUE(first.trims.empty());
  EXPECT_TRUE(log.TakeUnsaved().entries.empty());  // Each entry once.

  log.Append("a", Entry("a2"));
  log.Append("a", Entry("a3"));  // a1 goes: a keeps seq >= 2.
  log.Append("b", Entry("b1"));
  log.Append("c", Entry("c1"));  // a is evicted: nothing below seq 4 is kept.
  JobEventLog::Unsaved second = log.TakeUnsaved();
  std::vector<std::string> saved;
  for (const v1::PersistedLogEntry& e : second.entries) saved.push_back(e.entry().message());
  EXPECT_EQ(saved, (std::vector<std::string>{"b1", "c1"}));  // a2, a3 were dropped before.
  ASSERT_EQ(second.trims.size(), 1u);
  EXPECT_EQ(second.trims[0].job_id, "a");
  EXPECT_EQ(second.trims[0].first_kept_seq, 4);
}

TEST(JobEventLogTest, RestoredEntriesReadAsSavedAndSeqsContinue) {
  FakeClock clock(9000);
  JobEventLog log(&clock);
  v1::JobLogEntry saved = Entry("before the restart");
  saved.set_seq(7);
  saved.set_time_ms(1234);
  log.Restore("a", saved);
  EXPECT_TRUE(log.TakeUnsaved().entries.empty());  // Already in the store.
  log.Append("a", Entry("after"));
  JobEventLog::Slice a = log.Read("a", 0);
  ASSERT_EQ(a.entries.size(), 2u);
  EXPECT_EQ(a.entries[0].time_ms(), 1234);
  EXPECT_EQ(a.entries[1].seq(), 8);
  EXPECT_EQ(a.dropped, 6);  // Seqs 1-6 had been dropped before the restart.
}

}  // namespace
}  // namespace sr2::server
