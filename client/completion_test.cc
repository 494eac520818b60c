// Runs the generated bash completion in a real bash: syntax, then completions for sample
// command lines, with a stand-in sr2ctl that lists two job ids.
#include "client/completion.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

class CompletionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("bash -c true >/dev/null 2>&1") != 0) GTEST_SKIP() << "no bash";
    dir_ = std::filesystem::temp_directory_path() /
           ("sr2_completion_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    absl::StatusOr<std::string> script = CompletionScript("bash");
    ASSERT_TRUE(script.ok()) << script.status();
    script_ = (dir_ / "sr2ctl.bash").string();
    std::ofstream(script_) << *script;
    // The stand-in records its arguments, so the test sees how job ids were asked for.
    fake_ = (dir_ / "sr2ctl").string();
    std::ofstream(fake_) << "#!/bin/sh\necho \"$*\" > \"$(dirname \"$0\")/args\"\n"
                            "printf 'job-0a1b2c3d\\njob-ff00ee11\\n'\n";
    std::filesystem::permissions(fake_, std::filesystem::perms::owner_all);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Completes `words` (the last one being completed) and returns COMPREPLY, space-joined.
  std::string Complete(std::vector<std::string> words) {
    words.insert(words.begin(), fake_);
    std::vector<std::string> quoted;
    for (const std::string& w : words) quoted.push_back(absl::StrCat("'", w, "'"));
    std::string command = absl::StrCat(
        "bash -c 'source \"$0\"; COMP_WORDS=(\"${@}\"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); ",
        kCompletionFunction, "; echo \"${COMPREPLY[*]}\"' ", script_, " ",
        absl::StrJoin(quoted, " "), " 2>&1");
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return "popen failed";
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
    pclose(pipe);
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  std::string FakeArgs() {
    std::ifstream in(dir_ / "args");
    std::string line;
    std::getline(in, line);
    return line;
  }

  std::filesystem::path dir_;
  std::string script_;
  std::string fake_;
};

TEST_F(CompletionTest, BashAcceptsBothScripts) {
  EXPECT_EQ(std::system(("bash -n " + script_).c_str()), 0);
  // zsh runs the same function through bashcompinit; bash can check its syntax as well.
  absl::StatusOr<std::string> zsh = CompletionScript("zsh");
  ASSERT_TRUE(zsh.ok());
  EXPECT_NE(zsh->find("bashcompinit"), std::string::npos);
  const std::string zsh_path = (dir_ / "sr2ctl.zsh").string();
  std::ofstream(zsh_path) << *zsh;
  EXPECT_EQ(std::system(("bash -n " + zsh_path).c_str()), 0);
  EXPECT_FALSE(CompletionScript("fish").ok());
}

TEST_F(CompletionTest, CommandsFlagsAndValues) {
  EXPECT_EQ(Complete({"de"}), "describe");
  EXPECT_EQ(Complete({"l"}), "list logs local");
  EXPECT_EQ(Complete({"--"}), "--coordinator --help --version");
  EXPECT_EQ(Complete({"--coordinator", "h:1", "wa"}), "watch");
  EXPECT_EQ(Complete({"logs", "--f"}), "--follow");
  EXPECT_EQ(Complete({"submit", "m", "--share"}), "--share-fused-layers");
  EXPECT_EQ(Complete({"status", "j", "-o", ""}), "table json yaml");
  EXPECT_EQ(Complete({"list", "--output", "n"}), "name");
  EXPECT_EQ(Complete({"submit", "m", "--algorithm", "sign"}), "signround signroundv2");
  EXPECT_EQ(Complete({"submit", "m", "--format", ""}), "fake auto_round auto_gptq");
  EXPECT_EQ(Complete({"submit", "m", "--nsamples", ""}), "");  // A number: nothing offered.
  EXPECT_EQ(Complete({"completion", ""}), "bash zsh");
  EXPECT_EQ(Complete({"help", "rep"}), "replan");
}

TEST_F(CompletionTest, JobIdsComeFromListWithTheSameCoordinator) {
  EXPECT_EQ(Complete({"describe", "job-f"}), "job-ff00ee11");
  EXPECT_EQ(FakeArgs(), "list -o name");
  EXPECT_EQ(Complete({"--coordinator", "h:9", "logs", ""}), "job-0a1b2c3d job-ff00ee11");
  EXPECT_EQ(FakeArgs(), "--coordinator h:9 list -o name");
  EXPECT_EQ(Complete({"cancel", "--coordinator", "=", "h:8", "job-0"}), "job-0a1b2c3d");
  EXPECT_EQ(FakeArgs(), "--coordinator h:8 list -o name");
}

TEST_F(CompletionTest, PathsForSubmit) {
  std::ofstream(dir_ / "calib.tokens.i32") << "x";
  EXPECT_EQ(Complete({"submit", "m", "--calib", (dir_ / "calib.tok").string()}),
            (dir_ / "calib.tokens.i32").string());
}

}  // namespace
}  // namespace sr2
