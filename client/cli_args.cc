#include "client/cli_args.h"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/spec_names.h"
#include "common/quant/scheme.h"
#include "common/util/status_macros.h"

namespace sr2 {
namespace {

// What a flag does with its value; switches get "" and must not be given one.
struct FlagSpec {
  bool takes_value = true;
  std::function<absl::Status(const std::string& value)> apply;
};
using FlagTable = std::map<std::string, FlagSpec>;

absl::StatusOr<int64_t> ParseInteger(const std::string& flag, const std::string& value,
                                     int64_t min, int64_t max) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(value, &v) || v < min || v > max) {
    std::string range = max == std::numeric_limits<int32_t>::max()
                            ? absl::StrCat(">= ", min)
                            : absl::StrCat("in [", min, ", ", max, "]");
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected an integer ", range, ", got '", value, "'"));
  }
  return v;
}

// Binds an int32 flag with a lower bound to `target`.
FlagSpec IntFlag(std::string flag, int64_t min, int64_t max,
                 std::function<void(int32_t)> target) {
  return {true, [flag, min, max, target](const std::string& value) -> absl::Status {
            SR2_ASSIGN_OR_RETURN(int64_t v, ParseInteger(flag, value, min, max));
            target(static_cast<int32_t>(v));
            return absl::OkStatus();
          }};
}

// Binds a flag whose value must be a finite number > 0 to `target`.
FlagSpec PositiveNumberFlag(std::string flag, std::function<void(double)> target) {
  return {true, [flag, target](const std::string& value) -> absl::Status {
            double v = 0;
            if (!absl::SimpleAtod(value, &v) || !std::isfinite(v) || v <= 0) {
              return absl::InvalidArgumentError(
                  absl::StrCat(flag, ": expected a positive number, got '", value, "'"));
            }
            target(v);
            return absl::OkStatus();
          }};
}

FlagSpec StringFlag(std::function<void(const std::string&)> target) {
  return {true, [target](const std::string& value) {
            target(value);
            return absl::OkStatus();
          }};
}

FlagSpec Switch(std::function<void()> target) {
  return {false, [target](const std::string&) {
            target();
            return absl::OkStatus();
          }};
}

constexpr int32_t kMaxInt32 = std::numeric_limits<int32_t>::max();

absl::Status ValidateDevice(const std::string& device) {
  if (device == "cpu" || device == "cuda") return absl::OkStatus();
  int index = 0;
  if (absl::StartsWith(device, "cuda:") &&
      absl::SimpleAtoi(absl::string_view(device).substr(5), &index) && index >= 0) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--device: expected cpu or cuda:N, got '", device, "'"));
}

// Walks the arguments of one command: flags from `flags` (as `--f v` or `--f=v`) and
// positionals, in any order. Sets *help when --help/-h is seen.
absl::Status ParseCommandArgs(const std::string& command, const std::vector<std::string>& args,
                              size_t begin, const FlagTable& flags,
                              std::vector<std::string>& positionals, bool& help) {
  bool only_positionals = false;
  for (size_t i = begin; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_positionals || arg.size() < 2 || arg[0] != '-') {
      positionals.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positionals = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      help = true;
      return absl::OkStatus();
    }
    size_t eq = arg.find('=');
    std::string name = arg.substr(0, eq);
    auto it = flags.find(name);
    if (it == flags.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag '", name, "' for '", command, "' (see 'sr2ctl ", command,
                       " --help')"));
    }
    std::string value;
    if (eq != std::string::npos) {
      if (!it->second.takes_value) {
        return absl::InvalidArgumentError(absl::StrCat(name, " takes no value"));
      }
      value = arg.substr(eq + 1);
    } else if (it->second.takes_value) {
      // A following flag is not taken as the value: `--out --calib x` is a missing value.
      if (i + 1 >= args.size() || absl::StartsWith(args[i + 1], "--")) {
        return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
      }
      value = args[++i];
    }
    if (it->second.takes_value && value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(name, " needs a non-empty value"));
    }
    SR2_RETURN_IF_ERROR(it->second.apply(value));
  }
  return absl::OkStatus();
}

absl::Status ExpectPositionals(const std::string& command, const std::vector<std::string>& got,
                               const std::vector<const char*>& names) {
  if (got.size() < names.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": missing ", names[got.size()]));
  }
  if (got.size() > names.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": unexpected argument '", got[names.size()], "'"));
  }
  return absl::OkStatus();
}

// -o/--output; `name` only where `allow_name`.
FlagSpec OutputFlag(CliArgs& out, bool allow_name) {
  return {true, [&out, allow_name](const std::string& value) -> absl::Status {
            absl::StatusOr<OutputStyle> style = ParseOutputStyle(value);
            if (!style.ok() || (*style == OutputStyle::kName && !allow_name)) {
              return absl::InvalidArgumentError(absl::StrCat(
                  "-o: expected json, yaml or table", allow_name ? " or name" : "", ", got '",
                  value, "'"));
            }
            out.output = *style;
            out.output_given = true;
            return absl::OkStatus();
          }};
}

// The flags of `submit`. The scheme text and sym/asym are combined after parsing.
FlagTable SubmitFlags(CliArgs& out, std::optional<std::string>& scheme_text,
                      std::optional<bool>& sym, std::optional<std::string>& candidates_text) {
  v1::JobSpec& spec = out.submit.spec;
  auto set_sym = [&sym](bool value) -> absl::Status {
    if (sym.has_value() && *sym != value) {
      return absl::InvalidArgumentError("--sym and --asym exclude each other");
    }
    sym = value;
    return absl::OkStatus();
  };
  FlagTable flags;
  flags["--coordinator"] = StringFlag([&out](const std::string& v) { out.coordinator = v; });
  flags["--out"] = StringFlag([&spec](const std::string& v) { spec.set_out_uri(v); });
  flags["--calib"] = StringFlag([&spec](const std::string& v) { spec.set_calib_uri(v); });
  flags["--eval"] = StringFlag([&spec](const std::string& v) { spec.set_eval_uri(v); });
  flags["--scheme"] = StringFlag([&scheme_text](const std::string& v) { scheme_text = v; });
  flags["--sym"] = {false, [set_sym](const std::string&) { return set_sym(true); }};
  flags["--asym"] = {false, [set_sym](const std::string&) { return set_sym(false); }};
  flags["--algorithm"] = {true, [&spec](const std::string& v) -> absl::Status {
                            SR2_ASSIGN_OR_RETURN(v1::Algorithm a, ParseAlgorithm(v));
                            spec.set_algorithm(a);
                            return absl::OkStatus();
                          }};
  flags["--format"] = {true, [&spec](const std::string& v) -> absl::Status {
                         SR2_ASSIGN_OR_RETURN(v1::OutputFormat f, ParseOutputFormat(v));
                         spec.set_format(f);
                         return absl::OkStatus();
                       }};
  flags["--input-mode"] = {true, [&spec](const std::string& v) -> absl::Status {
                             SR2_ASSIGN_OR_RETURN(v1::InputMode m, ParseInputMode(v));
                             spec.set_input_mode(m);
                             return absl::OkStatus();
                           }};
  flags["--nsamples"] =
      IntFlag("--nsamples", 1, kMaxInt32, [&spec](int32_t v) { spec.set_nsamples(v); });
  flags["--seqlen"] =
      IntFlag("--seqlen", 1, kMaxInt32, [&spec](int32_t v) { spec.set_seqlen(v); });
  // 0 = no SignSGD (with signroundv2: the imatrix scale search alone).
  flags["--iters"] = IntFlag("--iters", 0, kMaxInt32, [&spec](int32_t v) { spec.set_iters(v); });
  flags["--preset"] = StringFlag([&spec](const std::string& v) { spec.set_preset(v); });
  flags["--avg-bits"] =
      PositiveNumberFlag("--avg-bits", [&spec](double v) { spec.set_avg_bits(v); });
  flags["--candidates"] =
      StringFlag([&candidates_text](const std::string& v) { candidates_text = v; });
  flags["--ignore-scale-zp-bits"] = Switch([&spec] { spec.set_ignore_scale_zp_bits(true); });
  flags["--share-fused-layers"] = Switch([&spec] { spec.set_share_fused_layers(true); });
  flags["--profile-nsamples"] = IntFlag("--profile-nsamples", 1, kMaxInt32,
                                        [&spec](int32_t v) { spec.set_profile_nsamples(v); });
  flags["--profile-seqlen"] = IntFlag("--profile-seqlen", 2, kMaxInt32,
                                      [&spec](int32_t v) { spec.set_profile_seqlen(v); });
  flags["--profile-batch-size"] =
      IntFlag("--profile-batch-size", 1, kMaxInt32,
              [&spec](int32_t v) { spec.set_profile_batch_size(v); });
  flags["--profile-blocks-per-task"] =
      IntFlag("--profile-blocks-per-task", 1, kMaxInt32,
              [&spec](int32_t v) { spec.set_profile_blocks_per_task(v); });
  flags["--eval-seqlen"] =
      IntFlag("--eval-seqlen", 1, kMaxInt32, [&spec](int32_t v) { spec.set_eval_seqlen(v); });
  flags["--batch-size"] =
      IntFlag("--batch-size", 1, kMaxInt32, [&spec](int32_t v) { spec.set_batch_size(v); });
  flags["--seed"] = {true, [&spec](const std::string& v) -> absl::Status {
                       uint64_t seed = 0;
                       if (!absl::SimpleAtoi(v, &seed)) {
                         return absl::InvalidArgumentError(absl::StrCat(
                             "--seed: expected a non-negative integer, got '", v, "'"));
                       }
                       spec.set_seed(seed);
                       return absl::OkStatus();
                     }};
  flags["--lr"] = {true, [&spec](const std::string& v) -> absl::Status {
                     double lr = 0;
                     if (!absl::SimpleAtod(v, &lr) || !std::isfinite(lr) || lr < 0) {
                       return absl::InvalidArgumentError(absl::StrCat(
                           "--lr: expected a non-negative number, got '", v, "'"));
                     }
                     spec.set_lr(lr);
                     return absl::OkStatus();
                   }};
  flags["--device"] = StringFlag([&spec](const std::string& v) { spec.set_device(v); });
  flags["--wait"] = Switch([&out] { out.submit.wait = true; });
  return flags;
}

absl::Status FinishSubmit(const std::vector<std::string>& positionals,
                          const std::optional<std::string>& scheme_text,
                          const std::optional<bool>& sym,
                          const std::optional<std::string>& candidates_text, CliArgs& out) {
  SR2_RETURN_IF_ERROR(ExpectPositionals("submit", positionals, {"MODEL_URI"}));
  v1::JobSpec& spec = out.submit.spec;
  spec.set_model_uri(positionals[0]);
  if (spec.out_uri().empty()) return absl::InvalidArgumentError("submit: missing --out OUT_URI");
  if (spec.calib_uri().empty()) {
    return absl::InvalidArgumentError("submit: missing --calib TOKENS_URI");
  }
  // The scheme message is present only when the user said something about it, so the
  // coordinator can tell "--asym with the default bits" from "nothing given".
  if (scheme_text.has_value()) {
    SR2_ASSIGN_OR_RETURN(Scheme scheme, ParseScheme(*scheme_text, sym.value_or(true)));
    spec.mutable_scheme()->set_bits(scheme.bits);
    spec.mutable_scheme()->set_group_size(scheme.group_size);
    spec.mutable_scheme()->set_sym(scheme.sym);
  } else if (sym.has_value()) {
    spec.mutable_scheme()->set_sym(*sym);
  }
  if (candidates_text.has_value()) {
    for (absl::string_view text : absl::StrSplit(*candidates_text, ',', absl::SkipEmpty())) {
      SR2_ASSIGN_OR_RETURN(Scheme scheme,
                           ParseScheme(std::string(text), sym.value_or(true)));
      v1::QuantScheme* c = spec.add_candidates();
      c->set_bits(scheme.bits);
      c->set_group_size(scheme.group_size);
      c->set_sym(scheme.sym);
    }
  }
  if ((spec.avg_bits() > 0) != (spec.candidates_size() > 0)) {
    return absl::InvalidArgumentError("submit: --avg-bits and --candidates go together");
  }
  return absl::OkStatus();
}

FlagTable LocalFlags(LocalArgs& local) {
  FlagTable flags;
  flags["--workers"] = IntFlag("--workers", 1, 1024, [&local](int32_t v) { local.workers = v; });
  flags["--port"] = IntFlag("--port", 1, 65535, [&local](int32_t v) { local.port = v; });
  flags["--threads"] =
      IntFlag("--threads", 1, 4096, [&local](int32_t v) { local.threads = v; });
  flags["--state-dir"] = StringFlag([&local](const std::string& v) { local.state_dir = v; });
  flags["--store"] = StringFlag([&local](const std::string& v) { local.store = v; });
  flags["--device"] = {true, [&local](const std::string& v) -> absl::Status {
                         SR2_RETURN_IF_ERROR(ValidateDevice(v));
                         local.device = v;
                         return absl::OkStatus();
                       }};
  return flags;
}

// In help order.
const std::vector<std::pair<std::string, Command>>& CommandTable() {
  static const auto* table = new std::vector<std::pair<std::string, Command>>{
      {"submit", Command::kSubmit},   {"status", Command::kStatus},
      {"describe", Command::kDescribe}, {"list", Command::kList},
      {"cancel", Command::kCancel},   {"watch", Command::kWatch},
      {"logs", Command::kLogs},       {"replan", Command::kReplan},
      {"local", Command::kLocal},     {"config", Command::kConfig},
      {"completion", Command::kCompletion}, {"version", Command::kVersion},
      {"help", Command::kHelp}};
  return *table;
}

std::optional<Command> FindCommand(const std::string& name) {
  for (const auto& [n, command] : CommandTable()) {
    if (n == name) return command;
  }
  return std::nullopt;
}

// What the submit flags collect before FinishSubmit combines it.
struct SubmitScratch {
  std::optional<std::string> scheme_text;
  std::optional<bool> sym;
  std::optional<std::string> candidates_text;
};

// The flags of `command`, bound to `out` and `scratch`.
FlagTable CommandFlags(Command command, CliArgs& out, SubmitScratch& scratch) {
  FlagTable flags;
  switch (command) {
    case Command::kSubmit:
      return SubmitFlags(out, scratch.scheme_text, scratch.sym, scratch.candidates_text);
    case Command::kLocal:
      return LocalFlags(out.local);
    case Command::kReplan:
      flags["--avg-bits"] =
          PositiveNumberFlag("--avg-bits", [&out](double v) { out.replan_avg_bits = v; });
      break;
    case Command::kLogs:
      flags["--follow"] = Switch([&out] { out.follow = true; });
      flags["-f"] = flags["--follow"];
      break;
    default:
      break;
  }
  switch (command) {
    case Command::kReplan:
    case Command::kLogs:
    case Command::kStatus:
    case Command::kDescribe:
    case Command::kList:
      flags["-o"] = OutputFlag(out, command == Command::kList);
      flags["--output"] = flags["-o"];
      [[fallthrough]];
    case Command::kCancel:
    case Command::kWatch:
      flags["--coordinator"] =
          StringFlag([&out](const std::string& v) { out.coordinator = v; });
      break;
    default:
      break;
  }
  return flags;
}

}  // namespace

absl::StatusOr<CliArgs> ParseCliArgs(const std::vector<std::string>& args) {
  CliArgs out;
  size_t i = 0;
  // Global flags before the command.
  for (; i < args.size() && absl::StartsWith(args[i], "-"); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") return out;
    if (arg == "--version") {
      out.command = Command::kVersion;
      return out;
    }
    if (arg == "--coordinator") {
      if (i + 1 >= args.size() || absl::StartsWith(args[i + 1], "--")) {
        return absl::InvalidArgumentError("--coordinator needs a value");
      }
      out.coordinator = args[++i];
    } else if (absl::StartsWith(arg, "--coordinator=")) {
      out.coordinator = arg.substr(std::string_view("--coordinator=").size());
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag '", arg, "' (see 'sr2ctl help')"));
    }
    if (out.coordinator->empty()) {
      return absl::InvalidArgumentError("--coordinator needs a non-empty value");
    }
  }
  if (i >= args.size()) {
    return absl::InvalidArgumentError("missing command (see 'sr2ctl help')");
  }
  const std::string& name = args[i++];
  std::optional<Command> command = FindCommand(name);
  if (!command.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown command '", name, "' (see 'sr2ctl help')"));
  }
  out.command = *command;

  std::vector<std::string> positionals;
  bool help = false;
  SubmitScratch scratch;
  FlagTable flags = CommandFlags(out.command, out, scratch);
  SR2_RETURN_IF_ERROR(ParseCommandArgs(name, args, i, flags, positionals, help));
  if (help) {
    out.command = Command::kHelp;
    out.help_topic = name;
    return out;
  }

  switch (out.command) {
    case Command::kSubmit:
      SR2_RETURN_IF_ERROR(FinishSubmit(positionals, scratch.scheme_text, scratch.sym,
                                       scratch.candidates_text, out));
      break;
    case Command::kStatus:
    case Command::kDescribe:
    case Command::kCancel:
    case Command::kWatch:
    case Command::kReplan:
    case Command::kLogs:
      SR2_RETURN_IF_ERROR(ExpectPositionals(name, positionals, {"JOB"}));
      out.job_id = positionals[0];
      if (out.command == Command::kReplan && out.replan_avg_bits == 0) {
        return absl::InvalidArgumentError("replan: missing --avg-bits B");
      }
      break;
    case Command::kHelp:
      if (positionals.size() > 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("help: unexpected argument '", positionals[1], "'"));
      }
      if (!positionals.empty()) {
        if (!FindCommand(positionals[0]).has_value()) {
          return absl::InvalidArgumentError(
              absl::StrCat("help: unknown command '", positionals[0], "'"));
        }
        out.help_topic = positionals[0];
      }
      break;
    case Command::kCompletion:
      SR2_RETURN_IF_ERROR(ExpectPositionals(name, positionals, {"SHELL (bash or zsh)"}));
      if (positionals[0] != "bash" && positionals[0] != "zsh") {
        return absl::InvalidArgumentError(
            absl::StrCat("completion: expected bash or zsh, got '", positionals[0], "'"));
      }
      out.shell = positionals[0];
      break;
    case Command::kConfig:
      SR2_RETURN_IF_ERROR(ExpectPositionals(name, positionals, {"SUBCOMMAND (view)"}));
      if (positionals[0] != "view") {
        return absl::InvalidArgumentError(
            absl::StrCat("config: unknown subcommand '", positionals[0], "' (expected view)"));
      }
      break;
    case Command::kList:
    case Command::kLocal:
    case Command::kVersion:
      SR2_RETURN_IF_ERROR(ExpectPositionals(name, positionals, {}));
      break;
  }
  return out;
}

std::string OutputStyleName(OutputStyle style) {
  switch (style) {
    case OutputStyle::kTable:
      return "table";
    case OutputStyle::kJson:
      return "json";
    case OutputStyle::kYaml:
      return "yaml";
    case OutputStyle::kName:
      return "name";
  }
  return "table";
}

absl::StatusOr<OutputStyle> ParseOutputStyle(std::string_view name) {
  for (OutputStyle style :
       {OutputStyle::kTable, OutputStyle::kJson, OutputStyle::kYaml, OutputStyle::kName}) {
    if (name == OutputStyleName(style)) return style;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown output style '", std::string(name), "' (expected table, json, yaml or name)"));
}

std::vector<std::string> CommandNames() {
  std::vector<std::string> names;
  for (const auto& [name, command] : CommandTable()) names.push_back(name);
  return names;
}

std::vector<FlagName> CommandFlagNames(const std::string& command) {
  std::optional<Command> found = FindCommand(command);
  if (!found.has_value()) return {};
  CliArgs scratch_args;
  SubmitScratch scratch;
  FlagTable flags = CommandFlags(*found, scratch_args, scratch);
  flags["--help"] = Switch([] {});
  std::vector<FlagName> names;
  for (const auto& [name, spec] : flags) names.push_back({name, spec.takes_value});
  return names;
}

std::string AbsolutizeUri(std::string_view uri, std::string_view cwd) {
  if (uri.empty() || uri.find("://") != std::string_view::npos) return std::string(uri);
  std::filesystem::path path(uri);
  if (path.is_relative()) path = std::filesystem::path(cwd) / path;
  std::string normal = path.lexically_normal().string();
  // "dir/" normalizes to "dir/"; keep the form without the trailing slash.
  if (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

void AbsolutizeSpecPaths(std::string_view cwd, v1::JobSpec& spec) {
  spec.set_model_uri(AbsolutizeUri(spec.model_uri(), cwd));
  spec.set_out_uri(AbsolutizeUri(spec.out_uri(), cwd));
  spec.set_calib_uri(AbsolutizeUri(spec.calib_uri(), cwd));
  spec.set_eval_uri(AbsolutizeUri(spec.eval_uri(), cwd));
}

}  // namespace sr2
