#include "tests/integration/test_cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace sr2::testing {
namespace fs = std::filesystem;

// The kernel picks the port; the tiny race with other processes binding it is accepted.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

namespace {

std::string MakeTempDir() {
  static std::mt19937_64 rng{std::random_device{}()};
  fs::path dir = fs::temp_directory_path() / absl::StrCat("sr2-it-", getpid(), "-", rng() % 1000000);
  fs::create_directories(dir);
  return dir.string();
}

TestClusterOptions WorkersAndThreads(int workers, int threads) {
  TestClusterOptions options;
  options.workers = workers;
  options.threads = threads;
  return options;
}

}  // namespace

std::string JobIdOf(const CommandResult& submitted) {
  return submitted.out.substr(0, submitted.out.find('\n'));
}

std::string BinDir() {
  const char* dir = std::getenv("SR2_BIN_DIR");
  return dir != nullptr ? dir : "build/bin";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

void CopyFolder(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (const auto& entry : fs::directory_iterator(from)) {
    if (entry.is_regular_file()) {
      fs::copy_file(entry.path(), fs::path(to) / entry.path().filename(),
                    fs::copy_options::overwrite_existing);
      fs::permissions(fs::path(to) / entry.path().filename(), fs::perms::owner_write,
                      fs::perm_options::add);
    }
  }
}

CommandResult RunCommand(const std::vector<std::string>& argv, int timeout_s) {
  const std::string base = MakeTempDir();
  const std::string out_path = base + "/stdout", err_path = base + "/stderr";
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  CommandResult result;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "command timed out after " << timeout_s << " s: " << argv[0];
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  fs::remove_all(base);
  return result;
}

TestCluster::TestCluster(int workers, int threads)
    : TestCluster(WorkersAndThreads(workers, threads)) {}

TestCluster::TestCluster(const TestClusterOptions& options)
    : options_(options), dir_(MakeTempDir()) {
  address_ = absl::StrCat("127.0.0.1:", FreePort());
  fs::create_directories(dir_ + "/logs");
  StartCoordinator();
  for (int i = 0; i < options_.workers; ++i) StartWorker();
  WaitForCoordinator();
}

void TestCluster::StartCoordinator() {
  std::vector<std::string> argv = {
      BinDir() + "/sr2-coordinator", "--listen", address_, "--state-dir", dir_ + "/state",
      "--store", options_.store_uri.empty() ? dir_ + "/store" : options_.store_uri};
  argv.insert(argv.end(), options_.coordinator_args.begin(), options_.coordinator_args.end());
  ++coordinator_starts_;
  const std::string log = coordinator_starts_ == 1
                              ? dir_ + "/logs/coordinator.log"
                              : absl::StrCat(dir_, "/logs/coordinator-", coordinator_starts_, ".log");
  absl::Status s = processes_.Start({"coordinator", argv, log, options_.coordinator_env});
  EXPECT_TRUE(s.ok()) << s;
}

void TestCluster::StartWorker(const std::vector<std::string>& flags) {
  const int i = ++workers_started_;
  std::vector<std::string> argv = {BinDir() + "/sr2-worker", "--coordinator", address_,
                                   "--threads", std::to_string(options_.threads)};
  argv.insert(argv.end(), flags.begin(), flags.end());
  absl::Status s = processes_.Start({absl::StrCat("worker-", i), argv,
                                     absl::StrCat(dir_, "/logs/worker-", i, ".log"),
                                     options_.worker_env});
  EXPECT_TRUE(s.ok()) << s;
}

void TestCluster::WaitForCoordinator() {
  for (int i = 0; i < 100; ++i) {
    if (Sr2ctl({"list"}, 10).exit_code == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "coordinator did not come up; log:\n"
                << ReadFile(dir_ + "/logs/coordinator.log");
}

void TestCluster::KillCoordinator() {
  auto status = processes_.SignalAndWait("coordinator", SIGKILL, std::chrono::seconds(10));
  EXPECT_TRUE(status.ok()) << status.status();
}

void TestCluster::RestartCoordinator() {
  StartCoordinator();
  WaitForCoordinator();
}

void TestCluster::KillWorker(int i) {
  auto status =
      processes_.SignalAndWait(absl::StrCat("worker-", i), SIGKILL, std::chrono::seconds(10));
  EXPECT_TRUE(status.ok()) << status.status();
}

std::string TestCluster::WorkerLog(int i) const {
  return ReadFile(absl::StrCat(dir_, "/logs/worker-", i, ".log"));
}

TestCluster::~TestCluster() {
  processes_.StopAll(std::chrono::seconds(10));
  if (::testing::Test::HasFailure()) {
    for (const auto& entry : fs::directory_iterator(dir_ + "/logs")) {
      std::cerr << "==== " << entry.path() << "\n" << ReadFile(entry.path().string());
    }
  }
  fs::remove_all(dir_);
}

CommandResult TestCluster::Sr2ctl(const std::vector<std::string>& args, int timeout_s) const {
  std::vector<std::string> argv = {BinDir() + "/sr2ctl", "--coordinator", address_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, timeout_s);
}

nlohmann::json TestCluster::Status(const std::string& job_id) const {
  CommandResult r = Sr2ctl({"status", job_id, "-o", "json"}, 30);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
}

}  // namespace sr2::testing
