// `sr2ctl local`: a coordinator and N workers on this machine, supervised until Ctrl-C.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "client/cli_args.h"
#include "client/process_supervisor.h"

namespace sr2 {

inline constexpr char kCoordinatorBinary[] = "sr2-coordinator";
inline constexpr char kWorkerBinary[] = "sr2-worker";

struct LocalClusterPlan {
  int port = 0;
  std::string address;    // 127.0.0.1:PORT
  std::string state_dir;  // Absolute.
  std::string store_dir;  // Absolute.
  std::string log_dir;    // Beside the state dir: STATE_DIR/../logs.
  ChildSpec coordinator;
  std::vector<ChildSpec> workers;
};

// The processes to run, with absolute paths; binaries from `bin_dir`. No I/O.
LocalClusterPlan PlanLocalCluster(const LocalArgs& args, std::string_view bin_dir,
                                  std::string_view cwd);

// Runs the cluster until SIGINT/SIGTERM (exit 0) or until a child dies (exit 1).
// Must be called before any other thread exists: it blocks the signals it waits for.
int RunLocalCluster(const LocalArgs& args, std::ostream& out, std::ostream& err);

}  // namespace sr2
