#include "client/process_supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <thread>

#include "absl/strings/str_cat.h"

namespace sr2 {
namespace {

constexpr auto kReapPollInterval = std::chrono::milliseconds(50);

// Only async-signal-safe calls between fork and exec: gRPC threads may hold locks.
[[noreturn]] void ExecChild(int log_fd, pid_t parent, const std::vector<char*>& argv,
                            const std::vector<char*>& envp) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(127);  // sr2ctl died before prctl took effect.
  dup2(log_fd, STDOUT_FILENO);
  dup2(log_fd, STDERR_FILENO);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, STDIN_FILENO);
  execve(argv[0], argv.data(), envp.data());
  const char msg[] = "sr2ctl: exec failed: ";
  (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
  const char* reason = strerror(errno);
  (void)!write(STDERR_FILENO, reason, strlen(reason));
  (void)!write(STDERR_FILENO, "\n", 1);
  _exit(127);
}

// This process's environment with `overrides` ("NAME=value") replacing or adding entries.
std::vector<std::string> ChildEnvironment(const std::vector<std::string>& overrides) {
  std::vector<std::string> env = overrides;
  auto overridden = [&overrides](std::string_view entry) {
    const std::string_view name = entry.substr(0, entry.find('=') + 1);
    return std::any_of(overrides.begin(), overrides.end(),
                       [name](const std::string& o) { return o.rfind(name, 0) == 0; });
  };
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (!overridden(*entry)) env.emplace_back(*entry);
  }
  return env;
}

}  // namespace

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return absl::StrCat("exited with status ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    return absl::StrCat("was killed by signal ", sig, " (", strsignal(sig), ")");
  }
  return absl::StrCat("stopped with wait status ", wait_status);
}

ProcessSupervisor::~ProcessSupervisor() { StopAll(std::chrono::seconds(10)); }

absl::Status ProcessSupervisor::Start(const ChildSpec& spec) {
  if (spec.argv.empty()) return absl::InvalidArgumentError(absl::StrCat(spec.name, ": no program"));
  int log_fd = open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open log file ", spec.log_path, ": ", strerror(errno)));
  }
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Built before fork: allocating in the child is not async-signal-safe.
  std::vector<std::string> env = ChildEnvironment(spec.env);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) ExecChild(log_fd, parent, argv, envp);
  int fork_errno = errno;
  close(log_fd);
  if (pid < 0) {
    return absl::InternalError(
        absl::StrCat("cannot start ", spec.name, ": fork failed: ", strerror(fork_errno)));
  }
  children_.push_back({spec, pid});
  return absl::OkStatus();
}

std::optional<ExitedChild> ProcessSupervisor::ReapExited() {
  std::optional<ExitedChild> first;
  for (auto it = children_.begin(); it != children_.end();) {
    int wait_status = 0;
    if (waitpid(it->pid, &wait_status, WNOHANG) == it->pid) {
      if (!first.has_value()) first = ExitedChild{it->spec.name, it->pid, wait_status, it->spec.log_path};
      it = children_.erase(it);
    } else {
      ++it;
    }
  }
  return first;
}

absl::StatusOr<int> ProcessSupervisor::SignalAndWait(const std::string& name, int signal,
                                                     std::chrono::milliseconds timeout) {
  auto it = std::find_if(children_.begin(), children_.end(),
                         [&](const Child& c) { return c.spec.name == name; });
  if (it == children_.end()) return absl::NotFoundError(absl::StrCat("no running child ", name));
  kill(it->pid, signal);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int wait_status = 0;
    if (waitpid(it->pid, &wait_status, WNOHANG) == it->pid) {
      children_.erase(it);
      return wait_status;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(name, " did not exit"));
    }
    std::this_thread::sleep_for(kReapPollInterval);
  }
}

std::vector<std::string> ProcessSupervisor::StopAll(std::chrono::milliseconds grace) {
  for (const Child& child : children_) kill(child.pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (!children_.empty() && std::chrono::steady_clock::now() < deadline) {
    ReapExited();
    if (!children_.empty()) std::this_thread::sleep_for(kReapPollInterval);
  }
  std::vector<std::string> killed;
  for (const Child& child : children_) {
    kill(child.pid, SIGKILL);
    waitpid(child.pid, nullptr, 0);
    killed.push_back(child.spec.name);
  }
  children_.clear();
  return killed;
}

}  // namespace sr2
