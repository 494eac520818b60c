// Child processes of `sr2ctl local`: started with their output in a log file, in their own
// process group (Ctrl-C reaches only sr2ctl, which stops them in order) and bound to die
// with sr2ctl (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sr2 {

struct ChildSpec {
  std::string name;               // "coordinator", "worker-1", ...
  std::vector<std::string> argv;  // argv[0] is the program path.
  std::string log_path;           // stdout and stderr go here (truncated).
  // "NAME=value" entries set on top of this process's environment.
  std::vector<std::string> env = {};
};

struct ExitedChild {
  std::string name;
  pid_t pid = 0;
  int wait_status = 0;
  std::string log_path;
};

// "exited with status 1", "was killed by signal 9 (Killed)".
std::string DescribeWaitStatus(int wait_status);

class ProcessSupervisor {
 public:
  ProcessSupervisor() = default;
  ProcessSupervisor(const ProcessSupervisor&) = delete;
  ProcessSupervisor& operator=(const ProcessSupervisor&) = delete;
  // Stops whatever still runs, so no child outlives an early return.
  ~ProcessSupervisor();

  absl::Status Start(const ChildSpec& spec);

  // Reaps children that have exited, without waiting; the first of them, if any.
  std::optional<ExitedChild> ReapExited();

  // SIGTERM to every running child, up to `grace` for them to exit, then SIGKILL.
  // Returns the names of the children that had to be killed.
  std::vector<std::string> StopAll(std::chrono::milliseconds grace);

  // Sends `signal` to the running child `name`, then waits up to `timeout` for it to exit.
  // Returns its wait status; NotFound if no such child runs, DeadlineExceeded if it lives on.
  absl::StatusOr<int> SignalAndWait(const std::string& name, int signal,
                                    std::chrono::milliseconds timeout);

  size_t running() const { return children_.size(); }

 private:
  struct Child {
    ChildSpec spec;
    pid_t pid = 0;
  };
  std::vector<Child> children_;  // Running children only.
};

}  // namespace sr2
