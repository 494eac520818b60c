#include "client/cli_args.h"

#include <algorithm>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<CliArgs> Parse(std::vector<std::string> args) { return ParseCliArgs(args); }

// The error message of a parse that must fail with InvalidArgument.
std::string ParseError(std::vector<std::string> args) {
  absl::StatusOr<CliArgs> parsed = ParseCliArgs(args);
  EXPECT_FALSE(parsed.ok());
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(parsed.status().message());
}

TEST(CliArgsTest, SubmitMinimalLeavesDefaultsToTheCoordinator) {
  auto args = Parse({"submit", "models/m", "--out", "out/q", "--calib", "c.tokens.i32"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->command, Command::kSubmit);
  const v1::JobSpec& spec = args->submit.spec;
  EXPECT_EQ(spec.model_uri(), "models/m");
  EXPECT_EQ(spec.out_uri(), "out/q");
  EXPECT_EQ(spec.calib_uri(), "c.tokens.i32");
  EXPECT_FALSE(spec.has_scheme());
  EXPECT_EQ(spec.algorithm(), v1::ALGORITHM_UNSPECIFIED);
  EXPECT_EQ(spec.format(), v1::FORMAT_UNSPECIFIED);
  EXPECT_EQ(spec.input_mode(), v1::INPUT_MODE_UNSPECIFIED);
  EXPECT_EQ(spec.nsamples(), 0);
  EXPECT_FALSE(spec.has_iters());
  EXPECT_EQ(spec.preset(), "");
  EXPECT_EQ(spec.avg_bits(), 0.0);
  EXPECT_EQ(spec.candidates_size(), 0);
  EXPECT_EQ(spec.seed(), 0u);
  EXPECT_EQ(spec.lr(), 0.0);
  EXPECT_FALSE(args->submit.wait);
  EXPECT_FALSE(args->coordinator.has_value());
}

TEST(CliArgsTest, SubmitAllFlagsInBothForms) {
  auto args = Parse({"--coordinator", "host:1", "submit", "--out=o", "m", "--calib", "c",
                     "--scheme", "w2g64", "--asym", "--algorithm=signround", "--format",
                     "auto_gptq", "--nsamples", "16", "--seqlen=32", "--iters", "5", "--eval",
                     "e", "--eval-seqlen", "64", "--seed", "18446744073709551615",
                     "--batch-size", "4", "--lr=0.01", "--input-mode", "fp", "--wait"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->coordinator, "host:1");
  const v1::JobSpec& spec = args->submit.spec;
  EXPECT_EQ(spec.model_uri(), "m");
  EXPECT_EQ(spec.out_uri(), "o");
  EXPECT_EQ(spec.eval_uri(), "e");
  EXPECT_EQ(spec.scheme().bits(), 2);
  EXPECT_EQ(spec.scheme().group_size(), 64);
  EXPECT_FALSE(spec.scheme().sym());
  EXPECT_EQ(spec.algorithm(), v1::ALGORITHM_SIGNROUND);
  EXPECT_EQ(spec.format(), v1::FORMAT_AUTO_GPTQ);
  EXPECT_EQ(spec.nsamples(), 16);
  EXPECT_EQ(spec.seqlen(), 32);
  EXPECT_EQ(spec.iters(), 5);
  EXPECT_EQ(spec.eval_seqlen(), 64);
  EXPECT_EQ(spec.seed(), 18446744073709551615ull);
  EXPECT_EQ(spec.batch_size(), 4);
  EXPECT_DOUBLE_EQ(spec.lr(), 0.01);
  EXPECT_EQ(spec.input_mode(), v1::INPUT_MODE_FP);
  EXPECT_TRUE(args->submit.wait);
}

TEST(CliArgsTest, SchemeDefaultsToSymAndAsymAloneKeepsDefaultBits) {
  auto sym = Parse({"submit", "m", "--out", "o", "--calib", "c", "--scheme", "W4G-1"});
  ASSERT_TRUE(sym.ok()) << sym.status();
  EXPECT_EQ(sym->submit.spec.scheme().bits(), 4);
  EXPECT_EQ(sym->submit.spec.scheme().group_size(), -1);
  EXPECT_TRUE(sym->submit.spec.scheme().sym());

  auto asym = Parse({"submit", "m", "--out", "o", "--calib", "c", "--asym"});
  ASSERT_TRUE(asym.ok()) << asym.status();
  ASSERT_TRUE(asym->submit.spec.has_scheme());
  EXPECT_EQ(asym->submit.spec.scheme().bits(), 0);
  EXPECT_FALSE(asym->submit.spec.scheme().sym());
}

TEST(CliArgsTest, SubmitPresetAndZeroIters) {
  auto args = Parse({"submit", "m", "--out", "o", "--calib", "c", "--preset=best", "--iters",
                     "0"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->submit.spec.preset(), "best");
  // Explicit 0 is kept apart from "not given", so the preset cannot override it.
  EXPECT_TRUE(args->submit.spec.has_iters());
  EXPECT_EQ(args->submit.spec.iters(), 0);
}

TEST(CliArgsTest, SubmitMixedPrecisionFlags) {
  auto args = Parse({"submit", "m", "--out", "o", "--calib", "c", "--avg-bits", "2.75",
                     "--candidates=W2G32,,w4g128", "--asym", "--ignore-scale-zp-bits",
                     "--share-fused-layers", "--profile-nsamples", "8", "--profile-seqlen=128",
                     "--profile-batch-size", "4", "--profile-blocks-per-task=2"});
  ASSERT_TRUE(args.ok()) << args.status();
  const v1::JobSpec& spec = args->submit.spec;
  EXPECT_DOUBLE_EQ(spec.avg_bits(), 2.75);
  ASSERT_EQ(spec.candidates_size(), 2);
  EXPECT_EQ(spec.candidates(0).bits(), 2);
  EXPECT_EQ(spec.candidates(0).group_size(), 32);
  EXPECT_FALSE(spec.candidates(0).sym());
  EXPECT_EQ(spec.candidates(1).bits(), 4);
  EXPECT_EQ(spec.candidates(1).group_size(), 128);
  EXPECT_FALSE(spec.candidates(1).sym());
  EXPECT_TRUE(spec.ignore_scale_zp_bits());
  EXPECT_TRUE(spec.share_fused_layers());
  EXPECT_EQ(spec.profile_nsamples(), 8);
  EXPECT_EQ(spec.profile_seqlen(), 128);
  EXPECT_EQ(spec.profile_batch_size(), 4);
  EXPECT_EQ(spec.profile_blocks_per_task(), 2);
  // --asym alone says nothing about the uniform scheme's bits.
  EXPECT_EQ(spec.scheme().bits(), 0);

  auto sym = Parse({"submit", "m", "--out", "o", "--calib", "c", "--avg-bits", "3",
                    "--candidates", "W2G32,W4G32"});
  ASSERT_TRUE(sym.ok()) << sym.status();
  EXPECT_TRUE(sym->submit.spec.candidates(0).sym());
  EXPECT_FALSE(sym->submit.spec.ignore_scale_zp_bits());
  EXPECT_FALSE(sym->submit.spec.share_fused_layers());
}

TEST(CliArgsTest, SubmitMixedPrecisionErrors) {
  const std::vector<std::string> base = {"submit", "m", "--out", "o", "--calib", "c"};
  auto with = [&base](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return ParseError(args);
  };
  EXPECT_THAT(with({"--avg-bits", "3"}), HasSubstr("--avg-bits and --candidates go together"));
  EXPECT_THAT(with({"--candidates", "W2G32,W4G32"}),
              HasSubstr("--avg-bits and --candidates go together"));
  EXPECT_THAT(with({"--avg-bits", "3", "--candidates", "W2G32,W5G32"}), HasSubstr("W5G32"));
  EXPECT_THAT(with({"--avg-bits=-1", "--candidates", "W2G32,W4G32"}),
              HasSubstr("--avg-bits: expected a positive number, got '-1'"));
  EXPECT_THAT(with({"--avg-bits", "0", "--candidates", "W2G32"}), HasSubstr("--avg-bits"));
  EXPECT_THAT(with({"--avg-bits", "inf", "--candidates", "W2G32"}), HasSubstr("--avg-bits"));
  // A negative value after a flag is taken as its value, not as another flag.
  EXPECT_THAT(with({"--avg-bits", "-1"}), HasSubstr("--avg-bits: expected a positive number"));
  EXPECT_THAT(with({"--candidates"}), HasSubstr("--candidates needs a value"));
  EXPECT_THAT(with({"--profile-nsamples", "0"}),
              HasSubstr("--profile-nsamples: expected an integer >= 1, got '0'"));
  EXPECT_THAT(with({"--profile-seqlen", "1"}),
              HasSubstr("--profile-seqlen: expected an integer >= 2, got '1'"));
  EXPECT_THAT(with({"--profile-blocks-per-task", "0"}),
              HasSubstr("--profile-blocks-per-task: expected an integer >= 1, got '0'"));
  EXPECT_THAT(with({"--share-fused-layers=yes"}), HasSubstr("--share-fused-layers takes no value"));
  EXPECT_THAT(with({"--preset"}), HasSubstr("--preset needs a value"));
}

TEST(CliArgsTest, DescribeAndReplan) {
  auto describe = Parse({"describe", "j1", "-o", "json"});
  ASSERT_TRUE(describe.ok()) << describe.status();
  EXPECT_EQ(describe->command, Command::kDescribe);
  EXPECT_EQ(describe->job_id, "j1");
  EXPECT_EQ(describe->output, OutputStyle::kJson);

  auto replan = Parse({"replan", "--avg-bits=2.5", "j2", "--coordinator", "h:3"});
  ASSERT_TRUE(replan.ok()) << replan.status();
  EXPECT_EQ(replan->command, Command::kReplan);
  EXPECT_EQ(replan->job_id, "j2");
  EXPECT_DOUBLE_EQ(replan->replan_avg_bits, 2.5);
  EXPECT_EQ(replan->output, OutputStyle::kTable);
  EXPECT_EQ(replan->coordinator, "h:3");

  auto help = Parse({"replan", "--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_EQ(help->command, Command::kHelp);
  EXPECT_EQ(help->help_topic, "replan");
}

TEST(CliArgsTest, DescribeAndReplanErrors) {
  EXPECT_THAT(ParseError({"describe"}), HasSubstr("describe: missing JOB"));
  EXPECT_THAT(ParseError({"describe", "j", "--avg-bits", "3"}),
              HasSubstr("unknown flag '--avg-bits' for 'describe'"));
  EXPECT_THAT(ParseError({"replan", "j"}), HasSubstr("replan: missing --avg-bits B"));
  EXPECT_THAT(ParseError({"replan", "--avg-bits", "3"}), HasSubstr("replan: missing JOB"));
  EXPECT_THAT(ParseError({"replan", "j", "--avg-bits", "lots"}),
              HasSubstr("--avg-bits: expected a positive number, got 'lots'"));
  EXPECT_THAT(ParseError({"replan", "j", "--avg-bits", "-2"}), HasSubstr("--avg-bits"));
  EXPECT_THAT(ParseError({"replan", "j", "--avg-bits", "3", "-o", "xml"}),
              HasSubstr("-o: expected json, yaml or table, got 'xml'"));
  EXPECT_THAT(ParseError({"describe", "j", "-o", "name"}),
              HasSubstr("-o: expected json, yaml or table, got 'name'"));
}

TEST(CliArgsTest, CoordinatorFlagAfterTheCommand) {
  auto args = Parse({"status", "j1", "--coordinator=h:2", "-o", "json"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->command, Command::kStatus);
  EXPECT_EQ(args->job_id, "j1");
  EXPECT_EQ(args->coordinator, "h:2");
  EXPECT_EQ(args->output, OutputStyle::kJson);
}

TEST(CliArgsTest, ListCancelWatchAndOutputForms) {
  auto list = Parse({"list", "--output=table"});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->command, Command::kList);
  EXPECT_EQ(list->output, OutputStyle::kTable);
  auto list_json = Parse({"list", "-o=json"});
  ASSERT_TRUE(list_json.ok()) << list_json.status();
  EXPECT_EQ(list_json->output, OutputStyle::kJson);
  auto cancel = Parse({"cancel", "j2"});
  ASSERT_TRUE(cancel.ok());
  EXPECT_EQ(cancel->command, Command::kCancel);
  EXPECT_EQ(cancel->job_id, "j2");
  auto watch = Parse({"watch", "j3"});
  ASSERT_TRUE(watch.ok());
  EXPECT_EQ(watch->command, Command::kWatch);
  EXPECT_EQ(watch->job_id, "j3");
}

TEST(CliArgsTest, LocalDefaultsAndFlags) {
  auto defaults = Parse({"local"});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->local.workers, 2);
  EXPECT_EQ(defaults->local.port, 7070);
  EXPECT_EQ(defaults->local.threads, 1);
  EXPECT_EQ(defaults->local.device, "cpu");
  EXPECT_EQ(defaults->local.state_dir, "./.sr2-local/state");
  EXPECT_EQ(defaults->local.store, "./.sr2-local/store");

  auto args = Parse({"local", "--workers", "3", "--port=7171", "--state-dir", "s", "--store",
                     "st", "--threads", "4", "--device", "cuda:1"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->local.workers, 3);
  EXPECT_EQ(args->local.port, 7171);
  EXPECT_EQ(args->local.state_dir, "s");
  EXPECT_EQ(args->local.store, "st");
  EXPECT_EQ(args->local.threads, 4);
  EXPECT_EQ(args->local.device, "cuda:1");
}

TEST(CliArgsTest, HelpAndVersionForms) {
  auto none = Parse({"--help"});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->command, Command::kHelp);
  EXPECT_EQ(none->help_topic, "");
  auto topic = Parse({"help", "submit"});
  ASSERT_TRUE(topic.ok());
  EXPECT_EQ(topic->help_topic, "submit");
  // --help wins over errors in the rest of the line.
  auto command_help = Parse({"submit", "--help"});
  ASSERT_TRUE(command_help.ok());
  EXPECT_EQ(command_help->command, Command::kHelp);
  EXPECT_EQ(command_help->help_topic, "submit");
  auto version = Parse({"version"});
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->command, Command::kVersion);
}

TEST(CliArgsTest, UsageErrors) {
  EXPECT_THAT(ParseError({}), HasSubstr("missing command"));
  EXPECT_THAT(ParseError({"frobnicate"}), HasSubstr("unknown command 'frobnicate'"));
  EXPECT_THAT(ParseError({"--bogus", "list"}), HasSubstr("unknown flag '--bogus'"));
  EXPECT_THAT(ParseError({"--coordinator"}), HasSubstr("--coordinator needs a value"));
  EXPECT_THAT(ParseError({"list", "--bogus"}), HasSubstr("unknown flag '--bogus' for 'list'"));
  EXPECT_THAT(ParseError({"list", "-o", "xml"}), HasSubstr("expected json, yaml or table or name"));
  EXPECT_THAT(ParseError({"list", "extra"}), HasSubstr("unexpected argument 'extra'"));
  EXPECT_THAT(ParseError({"status"}), HasSubstr("status: missing JOB"));
  EXPECT_THAT(ParseError({"cancel", "a", "b"}), HasSubstr("unexpected argument 'b'"));
  EXPECT_THAT(ParseError({"help", "nope"}), HasSubstr("unknown command 'nope'"));
}

TEST(CliArgsTest, SubmitErrors) {
  const std::vector<std::string> base = {"submit", "m", "--out", "o", "--calib", "c"};
  auto with = [&base](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return ParseError(args);
  };
  EXPECT_THAT(ParseError({"submit", "--out", "o", "--calib", "c"}), HasSubstr("missing MODEL_URI"));
  EXPECT_THAT(ParseError({"submit", "m", "--calib", "c"}), HasSubstr("missing --out"));
  EXPECT_THAT(ParseError({"submit", "m", "--out", "o"}), HasSubstr("missing --calib"));
  EXPECT_THAT(with({"m2"}), HasSubstr("unexpected argument 'm2'"));
  EXPECT_THAT(ParseError({"submit", "m", "--out", "--calib", "c"}), HasSubstr("--out needs a value"));
  EXPECT_THAT(with({"--nsamples"}), HasSubstr("--nsamples needs a value"));
  EXPECT_THAT(with({"--out="}), HasSubstr("--out needs a non-empty value"));
  EXPECT_THAT(with({"--nsamples", "12x"}), HasSubstr("--nsamples: expected an integer >= 1, got '12x'"));
  EXPECT_THAT(with({"--seqlen=0"}), HasSubstr("--seqlen: expected an integer >= 1"));
  EXPECT_THAT(with({"--iters", "-3"}), HasSubstr("--iters: expected an integer >= 0, got '-3'"));
  EXPECT_THAT(with({"--batch-size", "99999999999"}), HasSubstr("--batch-size"));
  EXPECT_THAT(with({"--seed", "-1"}), HasSubstr("--seed: expected a non-negative integer"));
  EXPECT_THAT(with({"--lr", "fast"}), HasSubstr("--lr: expected a non-negative number"));
  EXPECT_THAT(with({"--lr", "nan"}), HasSubstr("--lr"));
  EXPECT_THAT(with({"--lr", "-0.5"}), HasSubstr("--lr"));
  EXPECT_THAT(with({"--algorithm", "gptq"}), HasSubstr("unknown algorithm 'gptq'"));
  EXPECT_THAT(with({"--input-mode", "half"}), HasSubstr("unknown input mode 'half'"));
  EXPECT_THAT(with({"--sym", "--asym"}), HasSubstr("--sym and --asym"));
  EXPECT_THAT(with({"--wait=yes"}), HasSubstr("--wait takes no value"));
  EXPECT_THAT(with({"--workers", "2"}), HasSubstr("unknown flag '--workers' for 'submit'"));
  // The scheme and format messages come from common/ (one wording everywhere); they must
  // at least be usage errors that name the bad value.
  EXPECT_THAT(with({"--scheme", "W5G128"}), HasSubstr("W5G128"));
  EXPECT_THAT(with({"--scheme", "4bit"}), HasSubstr("4bit"));
  EXPECT_THAT(with({"--format", "gguf"}), HasSubstr("gguf"));
}

TEST(CliArgsTest, LocalErrors) {
  EXPECT_THAT(ParseError({"local", "--workers", "0"}), HasSubstr("--workers: expected an integer in [1, 1024]"));
  EXPECT_THAT(ParseError({"local", "--port", "70000"}), HasSubstr("--port: expected an integer in [1, 65535]"));
  EXPECT_THAT(ParseError({"local", "--threads", "two"}), HasSubstr("--threads"));
  EXPECT_THAT(ParseError({"local", "--device", "tpu"}), HasSubstr("--device: expected cpu or cuda:N, got 'tpu'"));
  EXPECT_THAT(ParseError({"local", "--device", "cuda:x"}), HasSubstr("--device"));
  EXPECT_THAT(ParseError({"local", "--coordinator", "h:1"}), HasSubstr("unknown flag '--coordinator' for 'local'"));
}

TEST(CliArgsTest, YamlAndNameOutputs) {
  auto status = Parse({"status", "j", "-o", "yaml"});
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->output, OutputStyle::kYaml);
  EXPECT_TRUE(status->output_given);
  auto list = Parse({"list", "-o", "name"});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->output, OutputStyle::kName);
  auto plain = Parse({"list"});
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->output_given);
}

TEST(CliArgsTest, LogsCompletionAndConfig) {
  auto logs = Parse({"logs", "j4", "-f", "-o", "json"});
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_EQ(logs->command, Command::kLogs);
  EXPECT_EQ(logs->job_id, "j4");
  EXPECT_TRUE(logs->follow);
  EXPECT_EQ(logs->output, OutputStyle::kJson);
  auto follow = Parse({"logs", "--follow", "j4"});
  ASSERT_TRUE(follow.ok());
  EXPECT_TRUE(follow->follow);
  EXPECT_FALSE(Parse({"logs", "j4"})->follow);
  EXPECT_THAT(ParseError({"logs"}), HasSubstr("logs: missing JOB"));

  auto completion = Parse({"completion", "zsh"});
  ASSERT_TRUE(completion.ok());
  EXPECT_EQ(completion->command, Command::kCompletion);
  EXPECT_EQ(completion->shell, "zsh");
  EXPECT_THAT(ParseError({"completion"}), HasSubstr("completion: missing SHELL"));
  EXPECT_THAT(ParseError({"completion", "fish"}),
              HasSubstr("completion: expected bash or zsh, got 'fish'"));

  auto config = Parse({"config", "view"});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->command, Command::kConfig);
  EXPECT_THAT(ParseError({"config", "set"}), HasSubstr("config: unknown subcommand 'set'"));
}

TEST(CliArgsTest, CommandAndFlagNamesComeFromTheParser) {
  std::vector<std::string> commands = CommandNames();
  EXPECT_EQ(commands.front(), "submit");
  EXPECT_NE(std::find(commands.begin(), commands.end(), "logs"), commands.end());
  std::vector<std::string> flags;
  bool follow_takes_value = true;
  for (const FlagName& f : CommandFlagNames("logs")) {
    flags.push_back(f.name);
    if (f.name == "--follow") follow_takes_value = f.takes_value;
  }
  EXPECT_EQ(flags, (std::vector<std::string>{"--coordinator", "--follow", "--help", "--output",
                                             "-f", "-o"}));
  EXPECT_FALSE(follow_takes_value);
  EXPECT_TRUE(CommandFlagNames("nope").empty());
  for (const std::string& command : commands) {
    for (const FlagName& f : CommandFlagNames(command)) {
      // Every listed flag parses for its command (value-taking ones with a plausible value).
      if (f.name == "--help" || command == "submit" || command == "replan") continue;
      std::vector<std::string> args = {command};
      if (command == "status" || command == "describe" || command == "cancel" ||
          command == "watch" || command == "logs") {
        args.push_back("j");
      }
      if (command == "completion") args.push_back("bash");
      if (command == "config") args.push_back("view");
      args.push_back(f.name);
      if (f.takes_value) args.push_back(f.name == "-o" || f.name == "--output" ? "json" : "1");
      if (f.name == "--device") args.back() = "cpu";
      EXPECT_TRUE(Parse(args).ok()) << command << " " << f.name;
    }
  }
}

TEST(CliArgsTest, AbsolutizeUri) {
  EXPECT_EQ(AbsolutizeUri("models/m", "/home/u"), "/home/u/models/m");
  EXPECT_EQ(AbsolutizeUri("./out/../q/", "/home/u"), "/home/u/q");
  EXPECT_EQ(AbsolutizeUri("/abs/path", "/home/u"), "/abs/path");
  EXPECT_EQ(AbsolutizeUri("s3://bucket/models/m", "/home/u"), "s3://bucket/models/m");
  EXPECT_EQ(AbsolutizeUri("file://rel/x", "/home/u"), "file://rel/x");
  EXPECT_EQ(AbsolutizeUri("", "/home/u"), "");
}

TEST(CliArgsTest, AbsolutizeSpecPathsTouchesOnlyThePaths) {
  v1::JobSpec spec;
  spec.set_model_uri("m");
  spec.set_out_uri("s3://b/o");
  spec.set_calib_uri("../c.i32");
  spec.set_nsamples(7);
  AbsolutizeSpecPaths("/w/d", spec);
  EXPECT_EQ(spec.model_uri(), "/w/d/m");
  EXPECT_EQ(spec.out_uri(), "s3://b/o");
  EXPECT_EQ(spec.calib_uri(), "/w/c.i32");
  EXPECT_EQ(spec.eval_uri(), "");
  EXPECT_EQ(spec.nsamples(), 7);
}

}  // namespace
}  // namespace sr2
