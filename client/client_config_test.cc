#include "client/client_config.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

using ::testing::HasSubstr;

std::string ConfigError(const std::string& text) {
  absl::StatusOr<std::map<std::string, std::string>> parsed = ParseConfigText(text, "cfg");
  EXPECT_FALSE(parsed.ok());
  return parsed.ok() ? "" : std::string(parsed.status().message());
}

TEST(ClientConfigTest, ParsesKeyValueLinesQuotedOrBare) {
  absl::StatusOr<std::map<std::string, std::string>> parsed = ParseConfigText(
      "# sr2ctl settings\n\n  coordinator = \"10.0.0.5:7070\"  # the lab cluster\noutput=yaml\n",
      "cfg");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, (std::map<std::string, std::string>{{"coordinator", "10.0.0.5:7070"},
                                                         {"output", "yaml"}}));
  ASSERT_TRUE(ParseConfigText("", "cfg").ok());
}

TEST(ClientConfigTest, ErrorsNameTheFileAndLine) {
  EXPECT_EQ(ConfigError("output = json\ncolor = red\n"),
            "cfg:2: unknown key 'color' (known: coordinator, output)");
  EXPECT_EQ(ConfigError("coordinator\n"), "cfg:1: expected `key = value`");
  EXPECT_THAT(ConfigError("[sr2]\n"), HasSubstr("cfg:1: sections are not supported"));
  EXPECT_EQ(ConfigError("coordinator = \n"), "cfg:1: empty value");
  EXPECT_EQ(ConfigError("coordinator = \"h:1\n"), "cfg:1: unterminated quoted value");
  EXPECT_EQ(ConfigError("coordinator = \"h:1\" x\n"),
            "cfg:1: unexpected text after the quoted value");
  EXPECT_EQ(ConfigError("coordinator = \"h\\t1\"\n"), "cfg:1: escapes are not supported in values");
  EXPECT_EQ(ConfigError("output = xml\n"), "cfg:1: output: expected table, json or yaml, got 'xml'");
  EXPECT_EQ(ConfigError("output = name\n"),
            "cfg:1: output: expected table, json or yaml, got 'name'");
  EXPECT_EQ(ConfigError("output = json\noutput = yaml\n"), "cfg:2: 'output' set twice");
}

// An environment from a map; unset names read as nullptr.
EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(ClientConfigTest, ConfigPathOrder) {
  EXPECT_EQ(ConfigPath(Env({{"SR2_CONFIG", "/etc/sr2.toml"}, {"HOME", "/home/u"}})),
            "/etc/sr2.toml");
  EXPECT_EQ(ConfigPath(Env({{"XDG_CONFIG_HOME", "/x"}, {"HOME", "/home/u"}})),
            "/x/sr2/config.toml");
  EXPECT_EQ(ConfigPath(Env({{"HOME", "/home/u"}, {"XDG_CONFIG_HOME", ""}})),
            "/home/u/.config/sr2/config.toml");
  EXPECT_EQ(ConfigPath(Env({})), "");
}

class ClientConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sr2_client_config_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "config.toml").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& text) { std::ofstream(path_) << text; }

  ClientConfig Load(const std::vector<std::string>& argv, std::map<std::string, std::string> env) {
    absl::StatusOr<CliArgs> args = ParseCliArgs(argv);
    EXPECT_TRUE(args.ok()) << args.status();
    env["SR2_CONFIG"] = path_;
    absl::StatusOr<ClientConfig> config = LoadClientConfig(*args, Env(env));
    EXPECT_TRUE(config.ok()) << config.status();
    return config.ok() ? *config : ClientConfig{};
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(ClientConfigFileTest, FlagsWinOverEnvWhichWinsOverTheFile) {
  ClientConfig none = Load({"list"}, {});
  EXPECT_FALSE(none.config_found);
  EXPECT_EQ(none.coordinator.value, kDefaultCoordinator);
  EXPECT_EQ(none.coordinator.source, "default");
  EXPECT_EQ(none.output.value, "table");

  Write("coordinator = \"file:1\"\noutput = yaml\n");
  ClientConfig file = Load({"list"}, {});
  EXPECT_TRUE(file.config_found);
  EXPECT_EQ(file.coordinator.value, "file:1");
  EXPECT_EQ(file.coordinator.source, "config " + path_);
  EXPECT_EQ(file.output.value, "yaml");

  ClientConfig env = Load({"list"}, {{"SR2_COORDINATOR", "env:2"}, {"SR2_OUTPUT", "json"}});
  EXPECT_EQ(env.coordinator.value, "env:2");
  EXPECT_EQ(env.coordinator.source, "env SR2_COORDINATOR");
  EXPECT_EQ(env.output.value, "json");
  EXPECT_EQ(env.output.source, "env SR2_OUTPUT");

  ClientConfig flag = Load({"--coordinator", "flag:3", "list", "-o", "table"},
                           {{"SR2_COORDINATOR", "env:2"}, {"SR2_OUTPUT", "json"}});
  EXPECT_EQ(flag.coordinator.value, "flag:3");
  EXPECT_EQ(flag.coordinator.source, "flag");
  EXPECT_EQ(flag.output.value, "table");
  EXPECT_EQ(flag.output.source, "flag");

  // An empty variable counts as unset.
  EXPECT_EQ(Load({"list"}, {{"SR2_COORDINATOR", ""}}).coordinator.value, "file:1");
}

TEST_F(ClientConfigFileTest, ApplyFillsOnlyWhatTheCommandLineLeftOpen) {
  Write("output = yaml\n");
  absl::StatusOr<CliArgs> args = ParseCliArgs({"status", "j"});
  ASSERT_TRUE(args.ok());
  ApplyClientConfig(Load({"status", "j"}, {}), *args);
  EXPECT_EQ(args->output, OutputStyle::kYaml);
  EXPECT_EQ(args->coordinator, kDefaultCoordinator);
  absl::StatusOr<CliArgs> flagged = ParseCliArgs({"status", "j", "-o", "json"});
  ASSERT_TRUE(flagged.ok());
  ApplyClientConfig(Load({"status", "j", "-o", "json"}, {}), *flagged);
  EXPECT_EQ(flagged->output, OutputStyle::kJson);
}

TEST_F(ClientConfigFileTest, BadFileOrEnvIsAnError) {
  Write("output = xml\n");
  absl::StatusOr<CliArgs> args = ParseCliArgs({"list"});
  ASSERT_TRUE(args.ok());
  absl::StatusOr<ClientConfig> bad_file = LoadClientConfig(*args, Env({{"SR2_CONFIG", path_}}));
  ASSERT_FALSE(bad_file.ok());
  EXPECT_THAT(bad_file.status().message(), HasSubstr(path_ + ":1: output"));
  Write("");
  absl::StatusOr<ClientConfig> bad_env =
      LoadClientConfig(*args, Env({{"SR2_CONFIG", path_}, {"SR2_OUTPUT", "xml"}}));
  ASSERT_FALSE(bad_env.ok());
  EXPECT_EQ(bad_env.status().message(), "SR2_OUTPUT: output: expected table, json or yaml, got 'xml'");
}

TEST_F(ClientConfigFileTest, ViewShowsValuesAndSources) {
  Write("coordinator = file:1\n");
  EXPECT_EQ(ConfigView(Load({"config", "view"}, {{"SR2_OUTPUT", "json"}})),
            "SETTING      VALUE   SOURCE\n"
            "coordinator  file:1  config " + path_ + "\n"
            "output       json    env SR2_OUTPUT\n"
            "Config file: " + path_ + "\n");
}

}  // namespace
}  // namespace sr2
