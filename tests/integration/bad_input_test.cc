// Bad input end to end: each case gets one clear error, the job ends FAILED with the reason,
// nothing appears at --out, and the coordinator keeps serving.
#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>

#include "tests/integration/test_cluster.h"

namespace sr2::testing {
namespace {
namespace fs = std::filesystem;

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new TestCluster(1); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  // Submits a small RTN job and waits; returns the final status.
  nlohmann::json RunJob(const std::string& model, const std::string& out,
                        const std::string& calib = kCalibTokens) {
    CommandResult r = cluster_->Sr2ctl({"submit", model, "--out", out, "--calib", calib,
                                        "--scheme", "W4G32", "--algorithm", "rtn", "--format",
                                        "fake", "--nsamples", "4", "--seqlen", "64", "--wait"});
    last_exit_ = r.exit_code;
    last_err_ = r.err;
    return cluster_->Status(JobIdOf(r));
  }

  // The job must fail with `needle` in its error, exit 1, and leave nothing at `out`.
  void ExpectFailed(const nlohmann::json& status, const std::string& out,
                    const std::string& needle) {
    EXPECT_EQ(last_exit_, 1) << last_err_;
    EXPECT_EQ(status["state"], "FAILED");
    const std::string error = status["error"];
    EXPECT_NE(error.find(needle), std::string::npos) << error;
    EXPECT_NE(last_err_.find(needle), std::string::npos) << last_err_;
    EXPECT_FALSE(fs::exists(out));
    for (const auto& e : fs::directory_iterator(cluster_->dir())) {
      EXPECT_EQ(e.path().filename().string().find("staging"), std::string::npos) << e.path();
    }
  }

  // A copy of the real model that a test may break.
  std::string CopyModel(const std::string& name) {
    const std::string dir = cluster_->dir() + "/" + name;
    CopyFolder(kStoriesModel, dir);
    return dir;
  }

  std::string Out(const std::string& name) { return cluster_->dir() + "/out-" + name; }

  static TestCluster* cluster_;
  int last_exit_ = 0;
  std::string last_err_;
};
TestCluster* BadInputTest::cluster_ = nullptr;

TEST_F(BadInputTest, MissingModel) {
  auto s = RunJob(cluster_->dir() + "/no-such-model", Out("missing"));
  ExpectFailed(s, Out("missing"), "config.json");
}

TEST_F(BadInputTest, TruncatedSafetensors) {
  const std::string model = CopyModel("truncated");
  const std::string bytes = ReadFile(model + "/model.safetensors");
  WriteFile(model + "/model.safetensors", bytes.substr(0, bytes.size() / 2));
  ExpectFailed(RunJob(model, Out("truncated")), Out("truncated"), "model.safetensors");
}

TEST_F(BadInputTest, HeaderOffsetsPastTheEnd) {
  const std::string model = CopyModel("offsets");
  std::string bytes = ReadFile(model + "/model.safetensors");
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  auto header = nlohmann::json::parse(bytes.substr(8, header_len));
  header["model.norm.weight"]["data_offsets"][1] = uint64_t{1} << 40;
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');
  uint64_t new_len = text.size();
  std::string patched(reinterpret_cast<const char*>(&new_len), 8);
  patched += text + bytes.substr(8 + header_len);
  WriteFile(model + "/model.safetensors", patched);
  ExpectFailed(RunJob(model, Out("offsets")), Out("offsets"), "model.norm.weight");
}

TEST_F(BadInputTest, UnknownArchitecture) {
  const std::string model = CopyModel("gpt2");
  auto config = nlohmann::json::parse(ReadFile(model + "/config.json"));
  config["model_type"] = "gpt2";
  config["architectures"] = {"GPT2LMHeadModel"};
  WriteFile(model + "/config.json", config.dump());
  ExpectFailed(RunJob(model, Out("gpt2")), Out("gpt2"), "gpt2");
}

TEST_F(BadInputTest, MissingTensor) {
  const std::string model = CopyModel("missing-tensor");
  auto config = nlohmann::json::parse(ReadFile(model + "/config.json"));
  config["num_hidden_layers"] = 6;  // The checkpoint has only 5 blocks.
  WriteFile(model + "/config.json", config.dump());
  ExpectFailed(RunJob(model, Out("missing-tensor")), Out("missing-tensor"), "model.layers.5");
}

TEST_F(BadInputTest, TokenFileOfTheWrongSize) {
  const std::string calib = cluster_->dir() + "/odd.tokens.i32";
  WriteFile(calib, std::string(4097, '\0'));
  ExpectFailed(RunJob(kStoriesModel, Out("odd"), calib), Out("odd"), "multiple of 4");
}

TEST_F(BadInputTest, TokenIdOutsideTheVocabulary) {
  const std::string calib = cluster_->dir() + "/big.tokens.i32";
  std::string bytes = ReadFile(kCalibTokens);
  const int32_t bad = 100000;
  std::memcpy(bytes.data() + 40, &bad, 4);
  WriteFile(calib, bytes);
  ExpectFailed(RunJob(kStoriesModel, Out("vocab"), calib), Out("vocab"), "100000");
}

TEST_F(BadInputTest, OutputAlreadyExists) {
  const std::string out = Out("exists");
  fs::create_directories(out);
  WriteFile(out + "/keep.txt", "user data");
  auto s = RunJob(kStoriesModel, out);
  EXPECT_EQ(s["state"], "FAILED");
  EXPECT_NE(s["error"].get<std::string>().find("already exists"), std::string::npos);
  EXPECT_EQ(ReadFile(out + "/keep.txt"), "user data");
}

TEST_F(BadInputTest, BadSchemeIsRejectedBeforeSubmitting) {
  const size_t jobs_before = nlohmann::json::parse(cluster_->Sr2ctl({"list", "-o", "json"}).out).size();
  CommandResult r = cluster_->Sr2ctl({"submit", kStoriesModel, "--out", Out("scheme"), "--calib",
                                      kCalibTokens, "--scheme", "W5G32"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("W5G32"), std::string::npos) << r.err;
  EXPECT_EQ(nlohmann::json::parse(cluster_->Sr2ctl({"list", "-o", "json"}).out).size(),
            jobs_before);
}

TEST_F(BadInputTest, UnreachableCoordinator) {
  CommandResult r = RunCommand({BinDir() + "/sr2ctl", "--coordinator", "127.0.0.1:1", "list"}, 30);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("cannot reach coordinator"), std::string::npos) << r.err;
}

// After failed jobs, the same coordinator and worker still quantize a good model.
TEST_F(BadInputTest, CoordinatorKeepsServingAfterFailures) {
  RunJob(cluster_->dir() + "/no-such-model", Out("first-failure"));
  const std::string model = CopyModel("broken");
  WriteFile(model + "/model.safetensors", "garbage");
  EXPECT_EQ(RunJob(model, Out("second-failure"))["state"], "FAILED");
  auto s = RunJob(kStoriesModel, Out("good"));
  EXPECT_EQ(s["state"], "SUCCEEDED") << s.dump();
  EXPECT_TRUE(fs::exists(Out("good") + "/sr2_manifest.json"));
}

}  // namespace
}  // namespace sr2::testing
