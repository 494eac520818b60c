// The OpenStack Swift + s3api server of scripts/start-swift-s3.sh, for tests that need a real S3
// (it checks SigV4 signatures and multipart rules). Under ctest the sr2_swift fixture
// (common/CMakeLists.txt) starts one server for every test process; a test binary run by hand
// starts it itself.
#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "common/store/s3_config.h"
#include "common/store/s3_object_store.h"

namespace sr2::testing {

// Must match the sr2_swift fixture in common/CMakeLists.txt.
inline constexpr int kSwiftPort = 18080;
inline constexpr char kSwiftBucket[] = "sr2-test";
// The script's tempauth user.
inline constexpr char kSwiftAccessKey[] = "test:tester";
inline constexpr char kSwiftSecret[] = "testing";

// Whether the Debian Swift packages are installed (scripts/install-deps.sh).
bool SwiftInstalled();

// Runs scripts/start-swift-s3.sh (from the source root) with `arguments`; its exit status.
int RunSwiftScript(const std::string& arguments);

// Starts the server on `port` with `bucket` unless it runs already. Returns whether this call
// started it (the caller then cleans it up), or -1 on failure.
int EnsureSwift(int port, const std::string& bucket);

// A config for the server on `port`, with short timeouts and back-off so faults show quickly.
S3Config SwiftConfig(int port);

// A fixture on the server at kSwiftPort: starts it for the suite unless it runs (and then cleans it
// up afterwards), skips the tests when Swift is not installed, and gives every test a fresh root
// s3://sr2-test/<test name>-<pid>, emptied afterwards (tests may run concurrently on one server).
class SwiftStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;
  void TearDown() override;

  std::string uri_;  // The root, without a trailing '/'.
  std::shared_ptr<S3ObjectStore> store_;

 private:
  static inline bool started_here_ = false;
};

}  // namespace sr2::testing
