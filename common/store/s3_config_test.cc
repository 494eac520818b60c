#include "common/store/s3_config.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "common/store/s3_object_store.h"
#include "common/store/s3_stats.h"
#include "common/store/s3_url.h"
#include "common/store/s3_xml.h"
#include "common/util/test_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRET";

class S3ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("sr2_s3_config");
    fs::create_directories(dir_ + "/home");
    // An empty HOME, so a developer's ~/.aws/credentials cannot leak into the test.
    env_["HOME"] = dir_ + "/home";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void WriteFile(const std::string& path, const std::string& contents) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << contents;
  }

  absl::StatusOr<S3Config> Resolve() {
    return ResolveS3Config([this](const std::string& name) -> std::optional<std::string> {
      const auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    });
  }

  std::string dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(S3ConfigTest, DefaultsToAwsWithPathStyle) {
  env_["AWS_ACCESS_KEY_ID"] = "AKIDEXAMPLE";
  env_["AWS_SECRET_ACCESS_KEY"] = kSecret;
  absl::StatusOr<S3Config> config = Resolve();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->region, "us-east-1");
  EXPECT_EQ(config->endpoint, "https://s3.us-east-1.amazonaws.com");
  EXPECT_EQ(config->addressing, S3Addressing::kPath);
  EXPECT_EQ(config->part_size, uint64_t{8} << 20);
  EXPECT_EQ(config->upload_concurrency, 4);
  EXPECT_EQ(config->credentials.access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(config->credentials.secret_access_key, kSecret);
  EXPECT_EQ(config->credentials.session_token, "");
}

TEST_F(S3ConfigTest, EnvironmentOverridesEndpointRegionAddressingAndTransfer) {
  env_["AWS_ACCESS_KEY_ID"] = "test:tester";
  env_["AWS_SECRET_ACCESS_KEY"] = kSecret;
  env_["AWS_SESSION_TOKEN"] = "token123";
  env_["AWS_REGION"] = "eu-west-3";
  env_["AWS_ENDPOINT_URL"] = "http://generic:1";
  env_["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:9000/";
  env_["SR2_S3_ADDRESSING"] = "virtual";
  env_["SR2_S3_PART_SIZE_MIB"] = "16";
  env_["SR2_S3_MAX_ATTEMPTS"] = "2";
  env_["SR2_S3_UPLOAD_CONCURRENCY"] = "8";
  absl::StatusOr<S3Config> config = Resolve();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->region, "eu-west-3");
  EXPECT_EQ(config->endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(config->addressing, S3Addressing::kVirtualHost);
  EXPECT_EQ(config->part_size, uint64_t{16} << 20);
  EXPECT_EQ(config->max_attempts, 2);
  EXPECT_EQ(config->upload_concurrency, 8);
  EXPECT_EQ(config->credentials.access_key_id, "test:tester");
  EXPECT_EQ(config->credentials.session_token, "token123");

  env_.erase("AWS_ENDPOINT_URL_S3");
  EXPECT_EQ(Resolve()->endpoint, "http://generic:1");
}

TEST_F(S3ConfigTest, MalformedSettingsAreRejected) {
  env_["AWS_ACCESS_KEY_ID"] = "AKIDEXAMPLE";
  env_["AWS_SECRET_ACCESS_KEY"] = kSecret;
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"SR2_S3_ADDRESSING", "dns"},          {"SR2_S3_PART_SIZE_MIB", "4"},
      {"SR2_S3_PART_SIZE_MIB", "lots"},      {"SR2_S3_MAX_ATTEMPTS", "0"},
      {"SR2_S3_UPLOAD_CONCURRENCY", "0"},    {"SR2_S3_UPLOAD_CONCURRENCY", "65"},
      {"AWS_ENDPOINT_URL_S3", "ftp://host"}, {"AWS_ENDPOINT_URL_S3", "http://host/path"},
  };
  for (const auto& [name, value] : bad) {
    std::map<std::string, std::string> saved = env_;
    env_[name] = value;
    absl::StatusOr<S3Config> config = Resolve();
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << name << "=" << value;
    env_ = saved;
  }
  // An endpoint with user info is refused without echoing it.
  env_["AWS_ENDPOINT_URL_S3"] = "http://user:hunter2@host";
  absl::StatusOr<S3Config> config = Resolve();
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), Not(HasSubstr("hunter2")));
}

TEST_F(S3ConfigTest, KeyIdWithoutSecretIsAnError) {
  env_["AWS_ACCESS_KEY_ID"] = "AKIDEXAMPLE";
  absl::StatusOr<S3Config> config = Resolve();
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("no secret access key"));
}

TEST_F(S3ConfigTest, NoCredentialsIsAFailedPreconditionNamingTheOptions) {
  absl::StatusOr<S3Config> config = Resolve();
  EXPECT_EQ(config.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(config.status().message(), HasSubstr("AWS_ACCESS_KEY_ID"));
  EXPECT_THAT(config.status().message(), HasSubstr("SR2_S3_CREDENTIALS_DIR"));
}

TEST_F(S3ConfigTest, ReadsSharedCredentialsFileProfiles) {
  const std::string file = dir_ + "/credentials";
  WriteFile(file, std::string("# comment\n[other]\naws_access_key_id = OTHER\n"
                              "aws_secret_access_key = other-secret\n\n[default]\n"
                              "aws_access_key_id=DEFAULTKEY\naws_secret_access_key = ") +
                      kSecret + "\naws_session_token = tok\n");
  env_["AWS_SHARED_CREDENTIALS_FILE"] = file;
  absl::StatusOr<S3Config> config = Resolve();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->credentials.access_key_id, "DEFAULTKEY");
  EXPECT_EQ(config->credentials.secret_access_key, kSecret);
  EXPECT_EQ(config->credentials.session_token, "tok");

  env_["AWS_PROFILE"] = "other";
  EXPECT_EQ(Resolve()->credentials.access_key_id, "OTHER");
  env_["AWS_PROFILE"] = "missing";
  EXPECT_EQ(Resolve().status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Resolve().status().message(), HasSubstr("[missing]"));
}

TEST_F(S3ConfigTest, HomeCredentialsFileIsTheLastResort) {
  WriteFile(dir_ + "/home/.aws/credentials",
            "[default]\naws_access_key_id = HOMEKEY\naws_secret_access_key = s\n");
  EXPECT_EQ(Resolve()->credentials.access_key_id, "HOMEKEY");
}

TEST_F(S3ConfigTest, MalformedCredentialsFileNamesTheLineNotTheSecret) {
  const std::string file = dir_ + "/credentials";
  WriteFile(file, std::string("[default]\naws_access_key_id = K\n") + kSecret + "\n");
  absl::StatusOr<S3Credentials> credentials = ReadSharedCredentialsFile(file, "default");
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(credentials.status().message(), HasSubstr(file + ":3"));
  EXPECT_THAT(credentials.status().message(), Not(HasSubstr(kSecret)));
  EXPECT_EQ(ReadSharedCredentialsFile(dir_ + "/nope", "default").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(S3ConfigTest, CredentialsFolderLikeAKubernetesSecret) {
  const std::string folder = dir_ + "/secret";
  WriteFile(folder + "/access_key_id", "FOLDERKEY\n");
  WriteFile(folder + "/secret_access_key", std::string(kSecret) + "\n");
  env_["SR2_S3_CREDENTIALS_DIR"] = folder;
  // A shared file is ignored while a folder is configured.
  env_["AWS_SHARED_CREDENTIALS_FILE"] = dir_ + "/missing";
  absl::StatusOr<S3Config> config = Resolve();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->credentials.access_key_id, "FOLDERKEY");
  EXPECT_EQ(config->credentials.secret_access_key, kSecret);
  EXPECT_EQ(config->credentials.session_token, "");

  WriteFile(folder + "/session_token", "tok\n");
  EXPECT_EQ(Resolve()->credentials.session_token, "tok");
  // Environment keys win over the folder.
  env_["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  env_["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  EXPECT_EQ(Resolve()->credentials.access_key_id, "ENVKEY");

  fs::remove(folder + "/secret_access_key");
  env_.erase("AWS_ACCESS_KEY_ID");
  env_.erase("AWS_SECRET_ACCESS_KEY");
  absl::StatusOr<S3Config> missing = Resolve();
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(folder + "/secret_access_key"));
}

TEST(S3UrlTest, PercentEncodesTheAwsWay) {
  EXPECT_EQ(AwsPercentEncode("a b+c/é~_-.", /*keep_slash=*/true), "a%20b%2Bc/%C3%A9~_-.");
  EXPECT_EQ(AwsPercentEncode("p/=x", /*keep_slash=*/false), "p%2F%3Dx");
}

TEST(S3UrlTest, CanonicalQueryIsSortedWithValuelessSubresources) {
  EXPECT_EQ(CanonicalQuery({{"prefix", "p/"}, {"list-type", "2"}, {"continuation-token", "ab=="}}),
            "continuation-token=ab%3D%3D&list-type=2&prefix=p%2F");
  EXPECT_EQ(CanonicalQuery({{"uploads", ""}, {"prefix", "x"}}), "prefix=x&uploads=");
  EXPECT_EQ(CanonicalQuery({}), "");
}

TEST(S3UrlTest, UrlDecodeHandlesPlusAndRejectsBadEscapes) {
  EXPECT_EQ(*UrlDecode("a+b%2Bc%20d%C3%A9"), "a b+c dé");
  EXPECT_EQ(UrlDecode("bad%2").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UrlDecode("bad%zz").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(S3XmlTest, FindsElementsByExactTagAndUnescapes) {
  const std::string xml =
      "<?xml version='1.0'?><R xmlns=\"x\"><KeyCount>2</KeyCount><Prefix/>"
      "<Contents><Key>a&amp;b&lt;&#233;&#x41;</Key></"
      "Contents><Contents><Key>c</Key></Contents></R>";
  EXPECT_THAT(XmlElements(xml, "Key"), ElementsAre("a&amp;b&lt;&#233;&#x41;", "c"));
  EXPECT_EQ(XmlText(xml, "Key"), "a&b<éA");
  EXPECT_EQ(XmlText(xml, "KeyCount"), "2");
  EXPECT_EQ(XmlText(xml, "Prefix"), "");
  EXPECT_EQ(XmlText(xml, "Missing"), "");
  EXPECT_EQ(XmlElements(xml, "Contents").size(), 2u);
  EXPECT_EQ(XmlUnescape("&bogus; &"), "&bogus; &");
  EXPECT_EQ(XmlEscape("\"a\"&<b>"), "&quot;a&quot;&amp;&lt;b&gt;");
}

TEST(S3UriTest, ParsesBucketAndPrefix) {
  absl::StatusOr<S3Uri> uri = ParseS3Uri("s3://my-bucket.data/a/b/");
  ASSERT_TRUE(uri.ok()) << uri.status();
  EXPECT_EQ(uri->bucket, "my-bucket.data");
  EXPECT_EQ(uri->prefix, "a/b");
  EXPECT_EQ(ParseS3Uri("s3://bkt")->prefix, "");
  for (const char* bad : {"s3://", "s3://ab", "s3://Upper", "s3://-dash", "s3://b_u",
                          "s3://bucket/../x", "s3://bucket/a//b", "gs://bucket"}) {
    EXPECT_EQ(ParseS3Uri(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(S3StatsTest, CountsByOperationAndOutcome) {
  S3Stats stats;
  stats.Record(S3Operation::kPutObject, S3Outcome::kSuccess, 10, 0);
  stats.Record(S3Operation::kPutObject, S3Outcome::kServerError, 10, 5);
  stats.Record(S3Operation::kGetObject, S3Outcome::kSuccess, 0, 7);
  EXPECT_EQ(stats.requests(S3Operation::kPutObject, S3Outcome::kSuccess), 1u);
  EXPECT_EQ(stats.requests(S3Operation::kPutObject, S3Outcome::kServerError), 1u);
  EXPECT_EQ(stats.bytes_sent(S3Operation::kPutObject), 20u);
  EXPECT_EQ(stats.bytes_received(S3Operation::kPutObject), 5u);
  EXPECT_EQ(stats.bytes(S3Operation::kPutObject, S3Outcome::kSuccess), 10u);
  EXPECT_EQ(stats.bytes(S3Operation::kPutObject, S3Outcome::kServerError), 15u);
  EXPECT_EQ(stats.total_requests(S3Outcome::kSuccess), 2u);
  const std::vector<S3StatsEntry> snapshot = stats.Snapshot();
  ASSERT_EQ(snapshot.size(), 3u);
  EXPECT_EQ(snapshot[0].operation, S3Operation::kGetObject);
  EXPECT_EQ(snapshot[0].bytes_received, 7u);
  EXPECT_EQ(snapshot[2].operation, S3Operation::kPutObject);
  EXPECT_EQ(snapshot[2].outcome, S3Outcome::kServerError);
  EXPECT_EQ(snapshot[2].requests, 1u);
  EXPECT_EQ(snapshot[2].bytes_sent, 10u);
  EXPECT_EQ(snapshot[2].bytes_received, 5u);
  EXPECT_STREQ(S3OperationName(S3Operation::kCompleteMultipartUpload), "CompleteMultipartUpload");
  EXPECT_STREQ(S3OutcomeName(S3Outcome::kNetworkError), "network_error");
}

}  // namespace
}  // namespace sr2
