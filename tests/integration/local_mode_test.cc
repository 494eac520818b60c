// `sr2ctl local` starts a coordinator and workers that quantize a model, and Ctrl-C (SIGINT)
// stops every process it started.
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "client/process_supervisor.h"
#include "tests/integration/test_cluster.h"

namespace sr2::testing {
namespace {
namespace fs = std::filesystem;

// Processes whose command line mentions `needle` (to find leftovers).
int CountProcesses(const std::string& needle) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = ReadFile(entry.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(needle) != std::string::npos && cmdline.find("sr2") != std::string::npos) {
      count++;
    }
  }
  return count;
}

TEST(LocalModeTest, QuantizesAndStopsEverythingOnCtrlC) {
  const std::string dir = fs::temp_directory_path() / absl::StrCat("sr2-local-", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const int port = FreePort();
  const std::string addr = absl::StrCat("127.0.0.1:", port);
  ProcessSupervisor processes;
  ASSERT_TRUE(processes
                  .Start({"local",
                          {BinDir() + "/sr2ctl", "local", "--workers", "2", "--port",
                           std::to_string(port), "--state-dir", dir + "/state", "--store",
                           dir + "/store"},
                          dir + "/local.log"})
                  .ok());
  bool up = false;
  for (int i = 0; i < 150 && !up; ++i) {
    up = RunCommand({BinDir() + "/sr2ctl", "--coordinator", addr, "list"}, 10).exit_code == 0;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(up) << ReadFile(dir + "/local.log");
  // The workers are started once the coordinator answers, so they may still be starting.
  int running = 0;
  for (int i = 0; i < 100 && running != 3; ++i) {
    running = CountProcesses(addr);
    if (running != 3) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(running, 3) << ReadFile(dir + "/local.log");  // coordinator + 2 workers

  CommandResult r = RunCommand(
      {BinDir() + "/sr2ctl", "--coordinator", addr, "submit", kStoriesModel, "--out",
       dir + "/out", "--calib", kCalibTokens, "--scheme", "W4G32", "--algorithm", "rtn",
       "--format", "fake", "--nsamples", "4", "--seqlen", "64", "--wait"},
      120);
  EXPECT_EQ(r.exit_code, 0) << r.err << ReadFile(dir + "/local.log");
  EXPECT_TRUE(fs::exists(dir + "/out/model.safetensors"));

  absl::StatusOr<int> status = processes.SignalAndWait("local", SIGINT, std::chrono::seconds(20));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << ReadFile(dir + "/local.log");
  EXPECT_EQ(CountProcesses(addr), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sr2::testing
