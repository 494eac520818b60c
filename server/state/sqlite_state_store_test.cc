#include "server/state/sqlite_state_store.h"

#include <sqlite3.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/util/test_dir.h"

namespace sr2::server {
namespace {

namespace fs = std::filesystem;

class SqliteStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("sr2_state");
  }
  void TearDown() override { fs::remove_all(dir_); }

  static v1::PersistedTask Task(const std::string& job, const std::string& name,
                                v1::PersistedTaskState state) {
    v1::PersistedTask t;
    t.mutable_task()->set_job_id(job);
    t.mutable_task()->set_task_id(job + "/" + name);
    t.set_state(state);
    return t;
  }

  std::string dir_;
};

TEST_F(SqliteStateStoreTest, SavesAndLoadsJobsAndTasksInFirstSavedOrder) {
  {
    auto store = SqliteStateStore::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    StateBatch batch;
    batch.jobs.emplace_back().mutable_job()->set_id("job-1");
    batch.jobs.back().set_num_blocks(5);
    batch.tasks.push_back(Task("job-1", "calibrate", v1::PERSISTED_TASK_STATE_QUEUED));
    batch.tasks.push_back(Task("job-1", "block-00000", v1::PERSISTED_TASK_STATE_QUEUED));
    ASSERT_TRUE((*store)->Apply(batch).ok());
    // Updating the first task keeps its place in the order.
    StateBatch update;
    update.tasks.push_back(Task("job-1", "calibrate", v1::PERSISTED_TASK_STATE_DONE));
    update.tasks.back().set_attempts(2);
    ASSERT_TRUE((*store)->Apply(update).ok());
  }
  auto store = SqliteStateStore::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto snapshot = (*store)->Load();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  ASSERT_EQ(snapshot->jobs.size(), 1u);
  EXPECT_EQ(snapshot->jobs[0].job().id(), "job-1");
  EXPECT_EQ(snapshot->jobs[0].num_blocks(), 5);
  ASSERT_EQ(snapshot->tasks.size(), 2u);
  EXPECT_EQ(snapshot->tasks[0].task().task_id(), "job-1/calibrate");
  EXPECT_EQ(snapshot->tasks[0].state(), v1::PERSISTED_TASK_STATE_DONE);
  EXPECT_EQ(snapshot->tasks[0].attempts(), 2);
  EXPECT_EQ(snapshot->tasks[1].task().task_id(), "job-1/block-00000");
}

TEST_F(SqliteStateStoreTest, DeletesTheTasksOfAJobOnly) {
  auto store = SqliteStateStore::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  StateBatch batch;
  batch.tasks.push_back(Task("a", "x", v1::PERSISTED_TASK_STATE_QUEUED));
  batch.tasks.push_back(Task("b", "x", v1::PERSISTED_TASK_STATE_QUEUED));
  ASSERT_TRUE((*store)->Apply(batch).ok());
  StateBatch remove;
  remove.jobs_without_tasks.push_back("a");
  ASSERT_TRUE((*store)->Apply(remove).ok());
  auto snapshot = (*store)->Load();
  ASSERT_TRUE(snapshot.ok());
  ASSERT_EQ(snapshot->tasks.size(), 1u);
  EXPECT_EQ(snapshot->tasks[0].task().job_id(), "b");
}

TEST_F(SqliteStateStoreTest, SavesTheEventLogInOrderAndAppliesTrims) {
  auto entry = [](const std::string& job, int64_t seq) {
    v1::PersistedLogEntry e;
    e.set_job_id(job);
    e.mutable_entry()->set_seq(seq);
    e.mutable_entry()->set_message(job + std::to_string(seq));
    return e;
  };
  {
    auto store = SqliteStateStore::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    StateBatch first;
    first.log_entries = {entry("b", 1), entry("a", 1), entry("a", 2), entry("b", 2)};
    ASSERT_TRUE((*store)->Apply(first).ok());
    StateBatch second;
    second.log_trims = {{"a", 2}};  // a's seq 1 goes, b keeps everything.
    second.log_entries = {entry("a", 3)};
    ASSERT_TRUE((*store)->Apply(second).ok());
  }
  auto store = SqliteStateStore::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto snapshot = (*store)->Load();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  std::vector<std::string> messages;
  for (const v1::PersistedLogEntry& e : snapshot->log_entries) {
    messages.push_back(e.entry().message());
  }
  EXPECT_EQ(messages, (std::vector<std::string>{"b1", "a2", "b2", "a3"}));
}

TEST_F(SqliteStateStoreTest, OneCoordinatorPerStateDir) {
  auto first = SqliteStateStore::Open(dir_);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = SqliteStateStore::Open(dir_);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use by another sr2-coordinator"),
            std::string::npos)
      << second.status();
  first->reset();
  EXPECT_TRUE(SqliteStateStore::Open(dir_).ok());
}

TEST_F(SqliteStateStoreTest, UpgradesAVersionOneDatabaseKeepingItsJobs) {
  {
    auto store = SqliteStateStore::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    StateBatch batch;
    batch.jobs.emplace_back().mutable_job()->set_id("old-job");
    ASSERT_TRUE((*store)->Apply(batch).ok());
  }
  // What a version-1 coordinator left: no events table.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/state.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE events; PRAGMA user_version=1", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);

  auto store = SqliteStateStore::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  StateBatch batch;
  v1::PersistedLogEntry& entry = batch.log_entries.emplace_back();
  entry.set_job_id("old-job");
  entry.mutable_entry()->set_seq(1);
  ASSERT_TRUE((*store)->Apply(batch).ok());
  auto snapshot = (*store)->Load();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  ASSERT_EQ(snapshot->jobs.size(), 1u);
  EXPECT_EQ(snapshot->jobs[0].job().id(), "old-job");
  EXPECT_EQ(snapshot->log_entries.size(), 1u);
}

TEST_F(SqliteStateStoreTest, RefusesStateFromANewerSchema) {
  ASSERT_TRUE(SqliteStateStore::Open(dir_).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/state.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteStateStore::Open(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("newer sr2-coordinator"), std::string::npos)
      << store.status();
}

TEST_F(SqliteStateStoreTest, UnwritableStateDirIsAClearError) {
  fs::create_directories(dir_);
  std::ofstream(dir_ + "/file") << "x";
  auto store = SqliteStateStore::Open(dir_ + "/file/state");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("cannot create state dir"), std::string::npos)
      << store.status();
}

}  // namespace
}  // namespace sr2::server
