#include "common/store/swift_test_server.h"

#include <unistd.h>

#include <cstdlib>

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

}  // namespace sr2::testing
