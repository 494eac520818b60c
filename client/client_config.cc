#include "client/client_config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/text_columns.h"
#include "common/util/status_macros.h"

namespace sr2 {
namespace {

bool IsConfigKey(const std::string& key) {
  for (const char* k : kConfigKeys) {
    if (key == k) return true;
  }
  return false;
}

// The value after '=': `"text"` or bare text, either followed by an optional `# comment`.
absl::StatusOr<std::string> ParseValue(absl::string_view raw, const std::string& where) {
  absl::string_view text = absl::StripAsciiWhitespace(raw);
  std::string value;
  if (!text.empty() && text[0] == '"') {
    const size_t close = text.find('"', 1);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": unterminated quoted value"));
    }
    value = std::string(text.substr(1, close - 1));
    absl::string_view rest = absl::StripAsciiWhitespace(text.substr(close + 1));
    if (!rest.empty() && rest[0] != '#') {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": unexpected text after the quoted value"));
    }
    if (value.find('\\') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": escapes are not supported in values"));
    }
  } else {
    value = std::string(absl::StripAsciiWhitespace(text.substr(0, text.find('#'))));
  }
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": empty value"));
  return value;
}

absl::Status ValidateOutput(const std::string& value, const std::string& where) {
  absl::StatusOr<OutputStyle> style = ParseOutputStyle(value);
  if (!style.ok() || *style == OutputStyle::kName) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": output: expected table, json or yaml, got '", value, "'"));
  }
  return absl::OkStatus();
}

// The environment's value when set and non-empty.
std::optional<std::string> EnvValue(const EnvLookup& env, const char* name) {
  const char* value = env(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ParseConfigText(std::string_view text,
                                                                   std::string_view path) {
  std::map<std::string, std::string> values;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_number;
    const std::string where = absl::StrCat(std::string(path), ":", line_number);
    absl::string_view stripped = absl::StripAsciiWhitespace(line);
    if (stripped.empty() || stripped[0] == '#') continue;
    if (stripped[0] == '[') {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": sections are not supported (write `key = value` lines)"));
    }
    const size_t eq = stripped.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": expected `key = value`"));
    }
    std::string key(absl::StripAsciiWhitespace(stripped.substr(0, eq)));
    if (!IsConfigKey(key)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": unknown key '", key, "' (known: coordinator, output)"));
    }
    if (values.count(key) > 0) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": '", key, "' set twice"));
    }
    SR2_ASSIGN_OR_RETURN(std::string value, ParseValue(stripped.substr(eq + 1), where));
    if (key == "output") SR2_RETURN_IF_ERROR(ValidateOutput(value, where));
    values[key] = std::move(value);
  }
  return values;
}

std::string ConfigPath(const EnvLookup& env) {
  if (std::optional<std::string> path = EnvValue(env, kConfigEnvVar)) return *path;
  if (std::optional<std::string> xdg = EnvValue(env, "XDG_CONFIG_HOME")) {
    return absl::StrCat(*xdg, "/sr2/config.toml");
  }
  if (std::optional<std::string> home = EnvValue(env, "HOME")) {
    return absl::StrCat(*home, "/.config/sr2/config.toml");
  }
  return "";
}

absl::StatusOr<ClientConfig> LoadClientConfig(const CliArgs& args, const EnvLookup& env) {
  ClientConfig config;
  config.config_path = ConfigPath(env);
  std::map<std::string, std::string> file;
  std::error_code ec;
  if (!config.config_path.empty() && std::filesystem::exists(config.config_path, ec)) {
    std::ifstream in(config.config_path);
    std::stringstream text;
    text << in.rdbuf();
    if (!in.good() && !in.eof()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read config file ", config.config_path));
    }
    SR2_ASSIGN_OR_RETURN(file, ParseConfigText(text.str(), config.config_path));
    config.config_found = true;
  }
  const std::string file_source = absl::StrCat("config ", config.config_path);

  config.coordinator = {kDefaultCoordinator, "default"};
  if (file.count("coordinator")) config.coordinator = {file["coordinator"], file_source};
  if (std::optional<std::string> env_value = EnvValue(env, kCoordinatorEnvVar)) {
    config.coordinator = {*env_value, absl::StrCat("env ", kCoordinatorEnvVar)};
  }
  if (args.coordinator.has_value()) config.coordinator = {*args.coordinator, "flag"};

  config.output = {"table", "default"};
  if (file.count("output")) config.output = {file["output"], file_source};
  if (std::optional<std::string> env_value = EnvValue(env, kOutputEnvVar)) {
    SR2_RETURN_IF_ERROR(ValidateOutput(*env_value, kOutputEnvVar));
    config.output = {*env_value, absl::StrCat("env ", kOutputEnvVar)};
  }
  if (args.output_given) config.output = {OutputStyleName(args.output), "flag"};
  return config;
}

void ApplyClientConfig(const ClientConfig& config, CliArgs& args) {
  args.coordinator = config.coordinator.value;
  if (!args.output_given) {
    // Validated when loaded.
    args.output = ParseOutputStyle(config.output.value).value_or(OutputStyle::kTable);
  }
}

std::string ConfigView(const ClientConfig& config) {
  std::vector<std::vector<std::string>> rows = {
      {"SETTING", "VALUE", "SOURCE"},
      {"coordinator", config.coordinator.value, config.coordinator.source},
      {"output", config.output.value, config.output.source}};
  std::string file = config.config_path.empty() ? "none ($HOME is not set)"
                                                : absl::StrCat(config.config_path,
                                                               config.config_found ? ""
                                                                                   : " (not found)");
  return absl::StrCat(RenderColumns(rows), "Config file: ", file, "\n");
}

}  // namespace sr2
