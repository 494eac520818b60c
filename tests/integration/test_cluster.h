// A coordinator and N workers started as real processes on 127.0.0.1 for one test, plus
// helpers to run sr2ctl and to build broken inputs. Everything lives in a fresh temp folder.
#pragma once

#include <string>
#include <vector>

#include "client/process_supervisor.h"
#include "nlohmann/json.hpp"

namespace sr2::testing {

// Paths of the real model and data shared with the project (read-only).
inline constexpr char kStoriesModel[] = "../shared/models/stories260K";
inline constexpr char kCalibTokens[] = "../shared/data/tinystories/calib.tokens.i32";
inline constexpr char kEvalTokens[] = "../shared/data/tinystories/eval.tokens.i32";

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

struct TestClusterOptions {
  int workers = 2;
  int threads = 1;  // libtorch threads per worker
  // The coordinator's work store (--store); empty: a folder in dir().
  std::string store_uri;
  // Extra coordinator flags, e.g. {"--lease-ms", "6000"}.
  std::vector<std::string> coordinator_args;
  // "NAME=value" entries added to the environment of the coordinator / of every worker.
  std::vector<std::string> coordinator_env;
  std::vector<std::string> worker_env;
};

class TestCluster {
 public:
  // Starts the coordinator and the workers; fails the test on error.
  explicit TestCluster(const TestClusterOptions& options);
  // `workers` workers with `threads` libtorch threads each.
  explicit TestCluster(int workers, int threads = 1);
  ~TestCluster();

  // Starts one more worker with extra flags (e.g. --metrics-listen).
  void StartWorker(const std::vector<std::string>& flags = {});
  // Fault injection: SIGKILL the coordinator or worker `i` (1-based); restart the coordinator
  // on the same address and state dir (its log goes to a new file).
  void KillCoordinator();
  void RestartCoordinator();
  void KillWorker(int i);
  // What worker `i` printed so far (task starts, results).
  std::string WorkerLog(int i) const;

  const std::string& address() const { return address_; }
  // A fresh folder for this test's files.
  const std::string& dir() const { return dir_; }

  // Runs sr2ctl with `args` against this cluster (bounded by `timeout_s`).
  CommandResult Sr2ctl(const std::vector<std::string>& args, int timeout_s = 300) const;
  // `sr2ctl status JOB -o json`, parsed.
  nlohmann::json Status(const std::string& job_id) const;

 private:
  void StartCoordinator();
  void WaitForCoordinator();

  const TestClusterOptions options_;
  std::string dir_;
  std::string address_;
  int coordinator_starts_ = 0;
  int workers_started_ = 0;
  ProcessSupervisor processes_;
};

// The job id `sr2ctl submit` printed (the first line of its stdout).
std::string JobIdOf(const CommandResult& submitted);
// A loopback port nothing listens on right now.
int FreePort();
// The folder holding the built programs (SR2_BIN_DIR, set by CTest).
std::string BinDir();
// Runs a program with arguments; captures stdout/stderr; kills it after `timeout_s`.
CommandResult RunCommand(const std::vector<std::string>& argv, int timeout_s);
// Copies a folder's regular files (shallow) into `to` so a test can break the copy.
void CopyFolder(const std::string& from, const std::string& to);
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& bytes);

}  // namespace sr2::testing
