#include "client/local_cluster.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "client/coordinator_client.h"
#include "client/exit_codes.h"
#include "common/util/status_macros.h"

namespace sr2 {
namespace {

namespace fs = std::filesystem;

constexpr auto kReadyTimeout = std::chrono::seconds(15);
constexpr auto kPingTimeout = std::chrono::milliseconds(300);
constexpr auto kStartupPoll = std::chrono::milliseconds(200);
constexpr auto kSupervisePoll = std::chrono::seconds(1);
constexpr auto kStopGrace = std::chrono::seconds(10);

absl::StatusOr<std::string> ExecutableDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot find sr2ctl's own path (/proc/self/exe): ", ec.message()));
  }
  return exe.parent_path().string();
}

absl::Status CheckExecutable(const std::string& path) {
  if (access(path.c_str(), X_OK) == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      fs::path(path).filename().string(), " not found next to sr2ctl (", path, "): ",
      strerror(errno)));
}

absl::Status CreateDir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::FailedPreconditionError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

// Another coordinator on the port would answer our readiness check in place of ours.
absl::Status CheckPortFree(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int bind_errno = errno;
  close(fd);
  if (rc == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("port ", port, " on 127.0.0.1 is not free (",
                                                    strerror(bind_errno), "); use --port"));
}

// The signal from `set` that arrived within `timeout`, or 0.
int WaitForSignal(const sigset_t& set, std::chrono::milliseconds timeout) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  ts.tv_nsec = static_cast<long>((timeout.count() % 1000) * 1000000);
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

bool IsStopSignal(int sig) { return sig == SIGINT || sig == SIGTERM; }

class LocalCluster {
 public:
  LocalCluster(LocalClusterPlan plan, std::ostream& out, std::ostream& err)
      : plan_(std::move(plan)), out_(out), err_(err) {}

  int Run(const sigset_t& signals) {
    absl::Status prepared = Prepare();
    if (!prepared.ok()) return Fail(prepared.message());
    err_ << "sr2 local: logs in " << plan_.log_dir << "\n";
    absl::Status started = supervisor_.Start(plan_.coordinator);
    if (!started.ok()) return Fail(started.message());

    CoordinatorClient client(plan_.address);
    auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
    while (!client.Ping(kPingTimeout).ok()) {
      if (std::optional<ExitedChild> exited = supervisor_.ReapExited()) return ChildDied(*exited);
      if (std::chrono::steady_clock::now() > deadline) {
        return Fail(absl::StrCat("the coordinator did not answer on ", plan_.address, " within ",
                                 kReadyTimeout.count(), " s; see ", plan_.coordinator.log_path));
      }
      if (IsStopSignal(WaitForSignal(signals, kStartupPoll))) return Stop();
    }
    for (const ChildSpec& worker : plan_.workers) {
      absl::Status s = supervisor_.Start(worker);
      if (!s.ok()) return Fail(s.message());
    }
    err_ << "sr2 local cluster: coordinator " << plan_.address << ", " << plan_.workers.size()
         << " workers (Ctrl-C to stop)" << std::endl;
    out_ << plan_.address << std::endl;

    while (true) {
      int sig = WaitForSignal(signals, kSupervisePoll);
      if (IsStopSignal(sig)) return Stop();
      if (std::optional<ExitedChild> exited = supervisor_.ReapExited()) return ChildDied(*exited);
    }
  }

 private:
  absl::Status Prepare() {
    SR2_RETURN_IF_ERROR(CheckExecutable(plan_.coordinator.argv[0]));
    if (!plan_.workers.empty()) SR2_RETURN_IF_ERROR(CheckExecutable(plan_.workers[0].argv[0]));
    for (const std::string& dir : {plan_.state_dir, plan_.store_dir, plan_.log_dir}) {
      SR2_RETURN_IF_ERROR(CreateDir(dir));
    }
    return CheckPortFree(plan_.port);
  }

  int Stop() {
    err_ << "sr2 local: stopping " << supervisor_.running() << " processes" << std::endl;
    for (const std::string& name : supervisor_.StopAll(kStopGrace)) {
      err_ << "sr2 local: " << name << " did not stop within " << kStopGrace.count()
           << " s and was killed" << std::endl;
    }
    return kExitOk;
  }

  int ChildDied(const ExitedChild& child) {
    supervisor_.StopAll(kStopGrace);
    return Fail(absl::StrCat(child.name, " (pid ", child.pid, ") ",
                             DescribeWaitStatus(child.wait_status), "; see ", child.log_path));
  }

  int Fail(absl::string_view message) {
    supervisor_.StopAll(kStopGrace);
    err_ << "sr2ctl: error: " << message << std::endl;
    return kExitFailed;
  }

  LocalClusterPlan plan_;
  std::ostream& out_;
  std::ostream& err_;
  ProcessSupervisor supervisor_;
};

}  // namespace

LocalClusterPlan PlanLocalCluster(const LocalArgs& args, std::string_view bin_dir,
                                  std::string_view cwd) {
  LocalClusterPlan plan;
  plan.port = args.port;
  plan.address = absl::StrCat("127.0.0.1:", args.port);
  plan.state_dir = AbsolutizeUri(args.state_dir, cwd);
  plan.store_dir = AbsolutizeUri(args.store, cwd);
  plan.log_dir = (fs::path(plan.state_dir).parent_path() / "logs").string();
  fs::path bin(bin_dir);
  plan.coordinator = {"coordinator",
                      {(bin / kCoordinatorBinary).string(), "--listen", plan.address,
                       "--state-dir", plan.state_dir, "--store", plan.store_dir},
                      (fs::path(plan.log_dir) / "coordinator.log").string()};
  for (int i = 1; i <= args.workers; ++i) {
    std::string name = absl::StrCat("worker-", i);
    plan.workers.push_back({name,
                            {(bin / kWorkerBinary).string(), "--coordinator", plan.address,
                             "--device", args.device, "--threads", std::to_string(args.threads)},
                            (fs::path(plan.log_dir) / (name + ".log")).string()});
  }
  return plan;
}

int RunLocalCluster(const LocalArgs& args, std::ostream& out, std::ostream& err) {
  // Blocked before gRPC starts threads, so that only sigtimedwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::string> bin_dir = ExecutableDir();
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  if (!bin_dir.ok() || ec) {
    err << "sr2ctl: error: "
        << (bin_dir.ok() ? absl::StrCat("cannot read the working directory: ", ec.message())
                         : std::string(bin_dir.status().message()))
        << std::endl;
    return kExitFailed;
  }
  LocalCluster cluster(PlanLocalCluster(args, *bin_dir, cwd.string()), out, err);
  return cluster.Run(signals);
}

}  // namespace sr2
