// sr2ctl: the command-line client of the sr2 quantization service.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "client/cli_args.h"
#include "client/client_config.h"
#include "client/commands.h"
#include "client/completion.h"
#include "client/coordinator_client.h"
#include "client/exit_codes.h"
#include "client/local_cluster.h"
#include "client/usage.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<sr2::CliArgs> parsed = sr2::ParseCliArgs(args);
  if (!parsed.ok()) {
    std::cerr << "sr2ctl: error: " << parsed.status().message() << std::endl;
    return sr2::kExitUsage;
  }
  switch (parsed->command) {
    case sr2::Command::kHelp:
      std::cout << sr2::HelpText(parsed->help_topic);
      return sr2::kExitOk;
    case sr2::Command::kVersion:
      std::cout << "sr2ctl " << SR2_VERSION << std::endl;
      return sr2::kExitOk;
    case sr2::Command::kLocal:
      return sr2::RunLocalCluster(parsed->local, std::cout, std::cerr);
    case sr2::Command::kCompletion:
      // The parser accepted the shell.
      std::cout << sr2::CompletionScript(parsed->shell).value();
      return sr2::kExitOk;
    default:
      break;
  }
  absl::StatusOr<sr2::ClientConfig> config =
      sr2::LoadClientConfig(*parsed, [](const char* name) { return std::getenv(name); });
  if (!config.ok()) {
    std::cerr << "sr2ctl: error: " << config.status().message() << std::endl;
    return sr2::kExitUsage;
  }
  if (parsed->command == sr2::Command::kConfig) {
    std::cout << sr2::ConfigView(*config);
    return sr2::kExitOk;
  }
  sr2::ApplyClientConfig(*config, *parsed);
  std::error_code ec;
  std::filesystem::path cwd = std::filesystem::current_path(ec);
  if (ec) {
    std::cerr << "sr2ctl: error: cannot read the working directory: " << ec.message() << std::endl;
    return sr2::kExitFailed;
  }
  sr2::CoordinatorClient client(*parsed->coordinator);
  sr2::CommandIo io{std::cout, std::cerr, isatty(STDERR_FILENO) == 1, cwd.string()};
  return sr2::RunCoordinatorCommand(*parsed, client, io);
}
