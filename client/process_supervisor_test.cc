#include "client/process_supervisor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

class ProcessSupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sr2ctl_supervisor_test_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ChildSpec Shell(const std::string& name, const std::string& script) {
    return {name, {"/bin/sh", "-c", script}, (dir_ / (name + ".log")).string()};
  }

  std::string ReadLog(const std::string& name) {
    std::ifstream in(dir_ / (name + ".log"));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // Waits (bounded) until a child has exited and returns it.
  std::optional<ExitedChild> WaitExited(ProcessSupervisor& supervisor) {
    for (int i = 0; i < 500; ++i) {
      if (auto exited = supervisor.ReapExited()) return exited;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }

  std::filesystem::path dir_;
};

TEST_F(ProcessSupervisorTest, ReportsAnExitedChildWithItsStatusAndLog) {
  ProcessSupervisor supervisor;
  ASSERT_TRUE(supervisor.Start(Shell("quick", "echo hello; echo oops >&2; exit 3")).ok());
  ASSERT_TRUE(supervisor.Start(Shell("slow", "exec sleep 30")).ok());
  std::optional<ExitedChild> exited = WaitExited(supervisor);
  ASSERT_TRUE(exited.has_value());
  EXPECT_EQ(exited->name, "quick");
  EXPECT_EQ(DescribeWaitStatus(exited->wait_status), "exited with status 3");
  EXPECT_EQ(ReadLog("quick"), "hello\noops\n");
  EXPECT_EQ(supervisor.running(), 1u);
  EXPECT_THAT(supervisor.StopAll(std::chrono::seconds(10)), IsEmpty());
  EXPECT_EQ(supervisor.running(), 0u);
}

TEST_F(ProcessSupervisorTest, ChildEnvironmentOverridesAndKeepsTheRest) {
  setenv("SR2_SUPERVISOR_KEPT", "kept", 1);
  setenv("SR2_SUPERVISOR_REPLACED", "old", 1);
  ChildSpec spec = Shell("env", "echo $SR2_SUPERVISOR_KEPT $SR2_SUPERVISOR_REPLACED $SR2_NEW");
  spec.env = {"SR2_SUPERVISOR_REPLACED=new", "SR2_NEW=a=b"};
  ProcessSupervisor supervisor;
  ASSERT_TRUE(supervisor.Start(spec).ok());
  ASSERT_TRUE(WaitExited(supervisor).has_value());
  EXPECT_EQ(ReadLog("env"), "kept new a=b\n");
  unsetenv("SR2_SUPERVISOR_KEPT");
  unsetenv("SR2_SUPERVISOR_REPLACED");
}

TEST_F(ProcessSupervisorTest, KillsChildrenThatIgnoreSigterm) {
  ProcessSupervisor supervisor;
  // The marker file says the trap is installed before SIGTERM is sent.
  std::string marker = (dir_ / "ready").string();
  ASSERT_TRUE(supervisor
                  .Start(Shell("stubborn", "trap '' TERM; touch " + marker +
                                               "; while :; do sleep 1; done"))
                  .ok());
  for (int i = 0; i < 500 && !std::filesystem::exists(marker); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(std::filesystem::exists(marker));
  EXPECT_THAT(supervisor.StopAll(std::chrono::milliseconds(200)),
              testing::ElementsAre("stubborn"));
  EXPECT_EQ(supervisor.running(), 0u);
}

TEST_F(ProcessSupervisorTest, MissingProgramExitsWith127) {
  ProcessSupervisor supervisor;
  ASSERT_TRUE(supervisor.Start({"ghost", {(dir_ / "no-such-binary").string()},
                                (dir_ / "ghost.log").string()})
                  .ok());
  std::optional<ExitedChild> exited = WaitExited(supervisor);
  ASSERT_TRUE(exited.has_value());
  EXPECT_EQ(DescribeWaitStatus(exited->wait_status), "exited with status 127");
  EXPECT_THAT(ReadLog("ghost"), HasSubstr("exec failed"));
}

TEST_F(ProcessSupervisorTest, UnwritableLogIsAnError) {
  ProcessSupervisor supervisor;
  absl::Status s =
      supervisor.Start({"x", {"/bin/true"}, (dir_ / "missing-dir" / "x.log").string()});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("missing-dir/x.log"));
}

TEST(DescribeWaitStatusTest, Signals) {
  EXPECT_THAT(DescribeWaitStatus(SIGKILL), HasSubstr("killed by signal 9"));
}

}  // namespace
}  // namespace sr2
