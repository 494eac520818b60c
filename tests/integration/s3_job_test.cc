// Jobs whose model, calibration and evaluation tokens, work files and output all live in S3
// (OpenStack Swift + s3api, which checks SigV4), run by a real coordinator and workers; and the
// job-level S3 faults: a wrong secret and a missing bucket, which fail the job with the reason.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/store/s3_object_store.h"
#include "common/store/store_factory.h"
#include "common/store/swift_test_server.h"
#include "gmock/gmock.h"
#include "tests/integration/test_cluster.h"

namespace sr2::testing {
namespace {
namespace fs = std::filesystem;

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kWrongSecret[] = "Zq9-wrong-secret-Zq9";

// The environment that points sr2 at the test server, as a deployment would set it.
std::vector<std::string> SwiftEnvironment(const std::string& secret) {
  return {absl::StrCat("AWS_ENDPOINT_URL_S3=http://127.0.0.1:", kSwiftPort),
          "AWS_REGION=us-east-1", absl::StrCat("AWS_ACCESS_KEY_ID=", kSwiftAccessKey),
          absl::StrCat("AWS_SECRET_ACCESS_KEY=", secret)};
}

// A short SignRoundV2 job: it reads the calibration tokens on the workers, tunes, evaluates and
// exports the auto_round format (one safetensors file plus config and tokenizer files).
std::vector<std::string> SubmitArgs(const std::string& model, const std::string& calib,
                                    const std::string& eval, const std::string& out) {
  return {"submit", model, "--out", out, "--calib", calib, "--eval", eval,
          "--scheme", "W4G32", "--sym", "--algorithm", "signroundv2", "--iters", "2",
          "--format", "auto_round", "--nsamples", "8", "--seqlen", "64", "--wait"};
}

class S3JobTest : public SwiftStoreTest {
 protected:
  // Copies the model folder and the token files to S3 below this test's root.
  void UploadInputs() {
    for (const auto& entry : fs::directory_iterator(kStoriesModel)) {
      if (!entry.is_regular_file()) continue;
      const std::string name = entry.path().filename().string();
      ASSERT_TRUE(store_->Write("model/" + name, ReadFile(entry.path().string())).ok()) << name;
    }
    ASSERT_TRUE(store_->Write("data/calib.tokens.i32", ReadFile(kCalibTokens)).ok());
    ASSERT_TRUE(store_->Write("data/eval.tokens.i32", ReadFile(kEvalTokens)).ok());
  }
  std::string Uri(const std::string& key) const { return JoinUri(uri_, key); }
};

TEST_F(S3JobTest, JobFromS3ToS3WritesTheSameCheckpointAsOnTheLocalStore) {
  UploadInputs();
  std::string local_out;
  nlohmann::json local_status;
  {
    TestCluster local(1);
    local_out = local.dir() + "/out-local";
    CommandResult r = local.Sr2ctl(SubmitArgs(kStoriesModel, kCalibTokens, kEvalTokens, local_out));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    local_status = local.Status(JobIdOf(r));
    // Keep the output past the cluster's cleanup of its folder.
    const std::string kept = fs::temp_directory_path() / absl::StrCat("sr2-s3-job-", getpid());
    fs::remove_all(kept);
    fs::copy(local_out, kept, fs::copy_options::recursive);
    local_out = kept;
  }
  ASSERT_EQ(local_status["state"], "SUCCEEDED");

  TestClusterOptions options;
  options.workers = 2;
  options.store_uri = Uri("work");
  options.coordinator_env = SwiftEnvironment(kSwiftSecret);
  options.worker_env = options.coordinator_env;
  TestCluster cluster(options);
  const std::string out = Uri("out/stories-w4g32");
  CommandResult r = cluster.Sr2ctl(SubmitArgs(Uri("model"), Uri("data/calib.tokens.i32"),
                                              Uri("data/eval.tokens.i32"), out));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  nlohmann::json status = cluster.Status(JobIdOf(r));
  EXPECT_EQ(status["state"], "SUCCEEDED");
  EXPECT_EQ(status["output_uri"], out);
  EXPECT_EQ(status["perplexity"], local_status["perplexity"]);

  // Every file of the local output, byte for byte, and nothing else.
  std::map<std::string, std::string> local_files;
  for (const auto& entry : fs::directory_iterator(local_out)) {
    local_files[entry.path().filename().string()] = ReadFile(entry.path().string());
  }
  fs::remove_all(local_out);
  EXPECT_TRUE(local_files.count("model.safetensors"));
  EXPECT_TRUE(local_files.count("config.json"));
  EXPECT_TRUE(local_files.count("sr2_manifest.json"));
  absl::StatusOr<std::vector<std::string>> keys = store_->List("out/");
  ASSERT_TRUE(keys.ok()) << keys.status();
  std::vector<std::string> expected_keys;
  for (const auto& [name, bytes] : local_files) expected_keys.push_back("out/stories-w4g32/" + name);
  EXPECT_EQ(*keys, expected_keys);
  for (const auto& [name, bytes] : local_files) {
    absl::StatusOr<BlobPtr> blob = store_->Read("out/stories-w4g32/" + name);
    ASSERT_TRUE(blob.ok()) << blob.status();
    EXPECT_TRUE((*blob)->view() == bytes) << name << " differs from the local job's";
  }
  // No staging copy, no unfinished upload, and the work files are cleaned up once it is done.
  EXPECT_THAT(*store_->ListPendingUploads(""), IsEmpty());
  for (int i = 0; i < 50 && !store_->List("work/")->empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_THAT(*store_->List("work/"), IsEmpty());
}

TEST_F(S3JobTest, WorkersWithAWrongSecretFailTheJobWithTheReason) {
  UploadInputs();
  TestClusterOptions options;
  options.workers = 1;
  options.store_uri = Uri("work");
  options.coordinator_env = SwiftEnvironment(kSwiftSecret);
  options.worker_env = SwiftEnvironment(kWrongSecret);
  TestCluster cluster(options);
  CommandResult r = cluster.Sr2ctl(SubmitArgs(Uri("model"), Uri("data/calib.tokens.i32"),
                                              Uri("data/eval.tokens.i32"), Uri("out/x")));
  EXPECT_NE(r.exit_code, 0);
  nlohmann::json status = cluster.Status(JobIdOf(r));
  EXPECT_EQ(status["state"], "FAILED");
  const std::string error = status["error"].get<std::string>();
  EXPECT_THAT(error, AllOf(HasSubstr("403"), HasSubstr("SignatureDoesNotMatch"),
                           HasSubstr(absl::StrCat("bucket ", kSwiftBucket)), HasSubstr(" key "),
                           Not(HasSubstr(kWrongSecret)), Not(HasSubstr(kSwiftSecret))));
  EXPECT_THAT(*store_->List("out/"), IsEmpty());
}

TEST_F(S3JobTest, CoordinatorWithAWrongSecretOrAMissingBucketFailsTheJobClearly) {
  UploadInputs();
  const std::vector<std::string> inputs = {Uri("model"), Uri("data/calib.tokens.i32"),
                                           Uri("data/eval.tokens.i32")};
  {
    TestClusterOptions options;
    options.workers = 0;
    options.coordinator_env = SwiftEnvironment(kWrongSecret);
    TestCluster cluster(options);
    CommandResult r = cluster.Sr2ctl(SubmitArgs(inputs[0], inputs[1], inputs[2], Uri("out/x")));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, AllOf(HasSubstr("FAILED"), HasSubstr("403"), HasSubstr("SignatureDoesNotMatch"),
                             HasSubstr(absl::StrCat("bucket ", kSwiftBucket)),
                             HasSubstr("model/config.json"), Not(HasSubstr(kWrongSecret))));
  }
  TestClusterOptions options;
  options.workers = 0;
  options.coordinator_env = SwiftEnvironment(kSwiftSecret);
  TestCluster cluster(options);
  CommandResult out = cluster.Sr2ctl(
      SubmitArgs(inputs[0], inputs[1], inputs[2], "s3://sr2-no-such-bucket/out/x"));
  EXPECT_NE(out.exit_code, 0);
  EXPECT_THAT(out.err, AllOf(HasSubstr("FAILED"), HasSubstr("output s3://sr2-no-such-bucket/out/x"),
                             HasSubstr("bucket sr2-no-such-bucket does not exist")));
  CommandResult model = cluster.Sr2ctl(
      SubmitArgs("s3://sr2-no-such-bucket/model", inputs[1], inputs[2], Uri("out/x")));
  EXPECT_NE(model.exit_code, 0);
  EXPECT_THAT(model.err, AllOf(HasSubstr("FAILED"), HasSubstr("model s3://sr2-no-such-bucket/model"),
                               HasSubstr("bucket sr2-no-such-bucket does not exist")));
  EXPECT_THAT(*store_->List("out/"), IsEmpty());
}

}  // namespace
}  // namespace sr2::testing
