// sr2ctl's settings and where each comes from: a flag wins over the environment, which wins
// over the config file, which wins over the built-in default. No I/O except reading the config
// file; the environment is passed in so that every rule is unit tested.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "client/cli_args.h"

namespace sr2 {

inline constexpr char kDefaultCoordinator[] = "127.0.0.1:7070";
inline constexpr char kCoordinatorEnvVar[] = "SR2_COORDINATOR";
inline constexpr char kOutputEnvVar[] = "SR2_OUTPUT";
inline constexpr char kConfigEnvVar[] = "SR2_CONFIG";

// getenv-like: nullptr when unset.
using EnvLookup = std::function<const char*(const char* name)>;

// The keys a config file may set.
inline constexpr const char* kConfigKeys[] = {"coordinator", "output"};

// Parses a config file's text: `key = value` lines (a TOML subset), `#` comments, blank lines;
// the value may be in double quotes. InvalidArgument naming `path`:line for an unknown key,
// a line without '=', a section header, an empty or badly quoted value, or a repeated key.
absl::StatusOr<std::map<std::string, std::string>> ParseConfigText(std::string_view text,
                                                                   std::string_view path);

// $SR2_CONFIG, else $XDG_CONFIG_HOME/sr2/config.toml, else $HOME/.config/sr2/config.toml;
// "" when none of these variables is set.
std::string ConfigPath(const EnvLookup& env);

struct Setting {
  std::string value;
  std::string source;  // "flag", "env SR2_OUTPUT", "config FILE" or "default".
};

struct ClientConfig {
  Setting coordinator;
  Setting output;           // table, json or yaml.
  std::string config_path;  // "" when there is none.
  bool config_found = false;
};

// Resolves every setting for `args`. A missing config file is no error; an unreadable or
// malformed one is, and so is an output style other than table, json or yaml in the
// environment or the file.
absl::StatusOr<ClientConfig> LoadClientConfig(const CliArgs& args, const EnvLookup& env);

// Puts the resolved coordinator and (unless -o was given) output style into `args`.
void ApplyClientConfig(const ClientConfig& config, CliArgs& args);

// `sr2ctl config view`: each setting with its value and source, and the config file's path.
std::string ConfigView(const ClientConfig& config);

}  // namespace sr2
