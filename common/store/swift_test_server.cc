#include "common/store/swift_test_server.h"

#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"

namespace sr2::testing {

bool SwiftInstalled() {
  return access("/usr/bin/swift-proxy-server", X_OK) == 0 &&
         access("/usr/bin/memcached", X_OK) == 0;
}

int RunSwiftScript(const std::string& arguments) {
  return std::system(absl::StrCat("scripts/start-swift-s3.sh ", arguments).c_str());
}

int EnsureSwift(int port, const std::string& bucket) {
  const bool running = RunSwiftScript(absl::StrCat("check ", port, " >/dev/null 2>&1")) == 0;
  // "start" on a running server only creates the bucket.
  if (RunSwiftScript(absl::StrCat("start ", port, " ", bucket)) != 0) return -1;
  return running ? 0 : 1;
}

S3Config SwiftConfig(int port) {
  S3Config config;
  config.endpoint = absl::StrCat("http://127.0.0.1:", port);
  config.credentials = {kSwiftAccessKey, kSwiftSecret, ""};
  config.part_size = kS3MinPartSize;
  config.max_attempts = 3;
  config.initial_backoff_ms = 20;
  config.max_backoff_ms = 200;
  config.connect_timeout_ms = 2000;
  config.request_timeout_ms = 30000;
  return config;
}

void SwiftStoreTest::SetUpTestSuite() {
  if (!SwiftInstalled()) return;
  const int started = EnsureSwift(kSwiftPort, kSwiftBucket);
  ASSERT_GE(started, 0) << "cannot start Swift on port " << kSwiftPort;
  started_here_ = started == 1;
}

void SwiftStoreTest::TearDownTestSuite() {
  if (started_here_) RunSwiftScript(absl::StrCat("clean ", kSwiftPort));
}

void SwiftStoreTest::SetUp() {
  if (!SwiftInstalled()) GTEST_SKIP() << "Swift is not installed (scripts/install-deps.sh)";
  uri_ = absl::StrCat("s3://", kSwiftBucket, "/",
                      ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-",
                      getpid());
  absl::StatusOr<std::shared_ptr<S3ObjectStore>> store =
      S3ObjectStore::Create(uri_, SwiftConfig(kSwiftPort));
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = *store;
}

void SwiftStoreTest::TearDown() {
  if (store_ == nullptr) return;
  EXPECT_TRUE(store_->AbortPendingUploads("").ok());
  for (const std::string& key : store_->List("").value_or(std::vector<std::string>{})) {
    EXPECT_TRUE(store_->Delete(key).ok()) << key;
  }
}

}  // namespace sr2::testing
