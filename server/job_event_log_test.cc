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

}  // namespace
}  // namespace sr2::server
