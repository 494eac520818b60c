#include "client/local_cluster.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

using ::testing::ElementsAre;

TEST(LocalClusterTest, PlanWithDefaults) {
  LocalClusterPlan plan = PlanLocalCluster(LocalArgs(), "/opt/sr2/bin", "/home/u/work");
  EXPECT_EQ(plan.port, 7070);
  EXPECT_EQ(plan.address, "127.0.0.1:7070");
  EXPECT_EQ(plan.state_dir, "/home/u/work/.sr2-local/state");
  EXPECT_EQ(plan.store_dir, "/home/u/work/.sr2-local/store");
  EXPECT_EQ(plan.log_dir, "/home/u/work/.sr2-local/logs");
  EXPECT_EQ(plan.coordinator.name, "coordinator");
  EXPECT_THAT(plan.coordinator.argv,
              ElementsAre("/opt/sr2/bin/sr2-coordinator", "--listen", "127.0.0.1:7070",
                          "--state-dir", "/home/u/work/.sr2-local/state", "--store",
                          "/home/u/work/.sr2-local/store"));
  EXPECT_EQ(plan.coordinator.log_path, "/home/u/work/.sr2-local/logs/coordinator.log");
  ASSERT_EQ(plan.workers.size(), 2u);
  EXPECT_EQ(plan.workers[1].name, "worker-2");
  EXPECT_THAT(plan.workers[1].argv,
              ElementsAre("/opt/sr2/bin/sr2-worker", "--coordinator", "127.0.0.1:7070",
                          "--device", "cpu", "--threads", "1"));
  EXPECT_EQ(plan.workers[1].log_path, "/home/u/work/.sr2-local/logs/worker-2.log");
}

TEST(LocalClusterTest, PlanWithFlags) {
  LocalArgs args;
  args.workers = 3;
  args.port = 7171;
  args.state_dir = "/var/sr2/state/";
  args.store = "store";
  args.threads = 4;
  args.device = "cuda:1";
  LocalClusterPlan plan = PlanLocalCluster(args, "/b", "/w");
  EXPECT_EQ(plan.state_dir, "/var/sr2/state");
  EXPECT_EQ(plan.store_dir, "/w/store");
  EXPECT_EQ(plan.log_dir, "/var/sr2/logs");
  ASSERT_EQ(plan.workers.size(), 3u);
  EXPECT_THAT(plan.workers[2].argv, ElementsAre("/b/sr2-worker", "--coordinator",
                                                "127.0.0.1:7171", "--device", "cuda:1",
                                                "--threads", "4"));
}

}  // namespace
}  // namespace sr2
