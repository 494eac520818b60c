// The sr2ctl command line, parsed into a plain struct. No I/O here: the working directory is
// passed in, so every rule is unit tested (the environment and config file: client_config.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sr2/v1/common.pb.h"

namespace sr2 {

enum class Command {
  kHelp,
  kVersion,
  kSubmit,
  kStatus,
  kDescribe,
  kList,
  kCancel,
  kWatch,
  kReplan,
  kLogs,
  kLocal,
  kCompletion,
  kConfig
};

// -o: kName (one job id per line) only for `list`, for scripts and shell completion.
enum class OutputStyle { kTable, kJson, kYaml, kName };

struct SubmitArgs {
  // Only what the user gave is set; the coordinator fills the rest. Local paths are made
  // absolute by AbsolutizeSpecPaths, not by the parser.
  v1::JobSpec spec;
  bool wait = false;
};

struct LocalArgs {
  int workers = 2;
  int port = 7070;
  std::string state_dir = "./.sr2-local/state";
  std::string store = "./.sr2-local/store";
  int threads = 1;
  std::string device = "cpu";
};

struct CliArgs {
  Command command = Command::kHelp;
  // kHelp: the command whose help is asked for; empty for the general help.
  std::string help_topic;
  // --coordinator when given (before or after the command).
  std::optional<std::string> coordinator;
  std::string job_id;  // status, describe, cancel, watch, replan, logs
  // status, describe, list, replan, logs. Without -o, ApplyClientConfig fills it from the
  // environment or the config file.
  OutputStyle output = OutputStyle::kTable;
  bool output_given = false;  // -o was on the command line.
  bool follow = false;        // logs --follow
  std::string shell;          // completion bash|zsh
  double replan_avg_bits = 0;  // replan --avg-bits (required, > 0)
  SubmitArgs submit;
  LocalArgs local;
};

// Parses the arguments after argv[0]. InvalidArgument with a one-line message on any usage
// error (unknown flag or command, missing value, bad number, bad scheme/format/algorithm).
absl::StatusOr<CliArgs> ParseCliArgs(const std::vector<std::string>& args);

// "table", "json", "yaml", "name".
std::string OutputStyleName(OutputStyle style);
absl::StatusOr<OutputStyle> ParseOutputStyle(std::string_view name);

// The command names, in help order.
std::vector<std::string> CommandNames();
struct FlagName {
  std::string name;  // "--out", "-o"
  bool takes_value = true;
};
// The flags `command` accepts, --help included, sorted by name; empty for an unknown command.
std::vector<FlagName> CommandFlagNames(const std::string& command);

// A plain path made absolute against `cwd` (and lexically normalized); URIs with a scheme
// ("file://", "s3://") and empty strings are returned unchanged.
std::string AbsolutizeUri(std::string_view uri, std::string_view cwd);

// Applies AbsolutizeUri to model_uri, out_uri, calib_uri and eval_uri.
void AbsolutizeSpecPaths(std::string_view cwd, v1::JobSpec& spec);

}  // namespace sr2
