// The commands that talk to the coordinator: submit, status, describe, list, cancel, watch,
// logs, replan.
#pragma once

#include <ostream>

#include "client/cli_args.h"
#include "client/coordinator_client.h"

namespace sr2 {

struct CommandIo {
  std::ostream& out;  // Results: job ids, tables, JSON.
  std::ostream& err;  // Progress, summaries, errors.
  bool err_is_tty = false;
  std::string cwd;    // For making local paths absolute.
};

// Runs args.command and returns the exit code; errors are printed as "sr2ctl: error: ...".
int RunCoordinatorCommand(const CliArgs& args, CoordinatorClient& client, const CommandIo& io);

}  // namespace sr2
