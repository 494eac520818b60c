// sr2-s3-bench: upload and download throughput of S3ObjectStore (single PUT, and multipart with
// parallel parts) against plain curl with --aws-sigv4 on the same server and objects.
// Endpoint and credentials come from the usual variables (AWS_ENDPOINT_URL_S3,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; see common/store/s3_config.h); the bucket must exist.
// Usage (e.g. against scripts/start-swift-s3.sh start 18080 sr2-test):
//   AWS_ENDPOINT_URL_S3=http://127.0.0.1:18080 AWS_ACCESS_KEY_ID=test:tester \
//   AWS_SECRET_ACCESS_KEY=testing sr2-s3-bench [--bucket sr2-test] [--sizes_mib 64,256]
//   [--part_size_mib 8] [--concurrency 1,4] [--repeats 3]
// Prints a Markdown table of median MiB/s (and seconds) per tool and operation.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/store/s3_object_store.h"
#include "common/store/s3_url.h"
#include "common/util/sha256.h"

ABSL_FLAG(std::string, bucket, "sr2-test", "existing bucket to write the test objects into");
ABSL_FLAG(std::vector<std::string>, sizes_mib, std::vector<std::string>({"64", "256"}),
          "object sizes in MiB");
ABSL_FLAG(int, part_size_mib, 8, "multipart part size in MiB (>= 5)");
ABSL_FLAG(std::vector<std::string>, concurrency, std::vector<std::string>({"1", "4"}),
          "parallel parts per multipart upload, one row each");
ABSL_FLAG(int, repeats, 3, "runs per measurement; the median is reported");
ABSL_FLAG(std::string, tmp_dir, "/tmp", "where curl's upload file is written");

namespace sr2 {
namespace {

using Clock = std::chrono::steady_clock;

// Median seconds of `repeats` runs of `run`, which returns false on failure.
double MedianSeconds(int repeats, const std::function<bool()>& run) {
  std::vector<double> seconds;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    if (!run()) return -1;
    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// curl with its built-in SigV4 (path-style URL). Credentials go in the URL: --user would split an
// access key like Swift's "test:tester" at its colon.
class Curl {
 public:
  Curl(const S3Config& config, std::string bucket) : config_(config), bucket_(std::move(bucket)) {}

  bool Put(const std::string& key, const std::string& file, const std::string& payload_hash) {
    return Run(absl::StrCat("-T ", ShellQuote(file), " -H ",
                            ShellQuote("x-amz-content-sha256: " + payload_hash), " ", Url(key),
                            " -o /dev/null"));
  }
  bool Get(const std::string& key) {
    return Run(absl::StrCat("-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' ", Url(key),
                            " -o /dev/null"));
  }

 private:
  std::string Url(const std::string& key) const {
    const size_t scheme_end = config_.endpoint.find("://") + 3;
    return ShellQuote(absl::StrCat(
        config_.endpoint.substr(0, scheme_end),
        AwsPercentEncode(config_.credentials.access_key_id, false), ":",
        AwsPercentEncode(config_.credentials.secret_access_key, false), "@",
        config_.endpoint.substr(scheme_end), "/", bucket_, "/", AwsPercentEncode(key, true)));
  }
  bool Run(const std::string& arguments) const {
    const std::string command =
        absl::StrCat("curl -sS -f --aws-sigv4 ", ShellQuote("aws:amz:" + config_.region + ":s3"),
                     " ", arguments);
    return std::system(command.c_str()) == 0;
  }

  const S3Config config_;
  const std::string bucket_;
};

std::string RandomBytes(size_t size) {
  std::mt19937_64 random(size);
  std::string bytes(size, '\0');
  for (size_t i = 0; i + 8 <= size; i += 8) {
    const uint64_t value = random();
    std::memcpy(&bytes[i], &value, 8);
  }
  return bytes;
}

void PrintRow(const std::string& tool, const std::string& operation, uint64_t size,
              double seconds) {
  if (seconds < 0) {
    std::printf("| %s | %s | %llu | FAILED | |\n", tool.c_str(), operation.c_str(),
                static_cast<unsigned long long>(size >> 20));
  } else {
    std::printf("| %s | %s | %llu | %.0f | %.2f |\n", tool.c_str(), operation.c_str(),
                static_cast<unsigned long long>(size >> 20), (size >> 20) / seconds, seconds);
  }
  std::fflush(stdout);
}

int Run() {
  absl::StatusOr<S3Config> base = S3ConfigFromEnvironment();
  if (!base.ok()) {
    std::fprintf(stderr, "sr2-s3-bench: %s\n", std::string(base.status().message()).c_str());
    return 2;
  }
  const std::string bucket = absl::GetFlag(FLAGS_bucket);
  const std::string uri = absl::StrCat("s3://", bucket, "/sr2-s3-bench-", getpid());
  const int repeats = std::max(1, absl::GetFlag(FLAGS_repeats));
  auto open = [&uri](S3Config config) -> std::shared_ptr<S3ObjectStore> {
    absl::StatusOr<std::shared_ptr<S3ObjectStore>> store = S3ObjectStore::Create(uri, config);
    if (!store.ok()) {
      std::fprintf(stderr, "sr2-s3-bench: %s\n", std::string(store.status().message()).c_str());
      std::exit(2);
    }
    return *store;
  };
  Curl curl(*base, bucket);
  const std::string prefix = open(*base)->uri().substr(bucket.size() + 6);

  std::printf("endpoint %s, median of %d runs\n\n", base->endpoint.c_str(), repeats);
  std::printf("| tool | operation | MiB | MiB/s | s |\n|---|---|---|---|---|\n");
  for (const std::string& size_text : absl::GetFlag(FLAGS_sizes_mib)) {
    uint64_t size_mib = 0;
    if (!absl::SimpleAtoi(size_text, &size_mib) || size_mib == 0) {
      std::fprintf(stderr, "sr2-s3-bench: bad size %s\n", size_text.c_str());
      return 2;
    }
    const uint64_t size = size_mib << 20;
    const std::string data = RandomBytes(size);
    const std::string key = absl::StrCat("object-", size_mib);
    auto write_with = [&](S3Config config) {
      std::shared_ptr<S3ObjectStore> store = open(std::move(config));
      return MedianSeconds(repeats, [&] {
        const absl::Status status = store->Write(key, data);
        if (!status.ok()) std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
        return status.ok();
      });
    };

    S3Config single = *base;
    single.part_size = std::max<uint64_t>(size, kS3MinPartSize);
    single.max_single_copy_size = std::max(single.max_single_copy_size, single.part_size);
    PrintRow("sr2", "PUT, single part", size, write_with(single));
    for (const std::string& concurrency_text : absl::GetFlag(FLAGS_concurrency)) {
      S3Config multipart = *base;
      multipart.part_size = uint64_t(absl::GetFlag(FLAGS_part_size_mib)) << 20;
      if (!absl::SimpleAtoi(concurrency_text, &multipart.upload_concurrency)) return 2;
      PrintRow("sr2",
               absl::StrCat("PUT, multipart ", multipart.part_size >> 20, " MiB parts x ",
                            multipart.upload_concurrency, " parallel"),
               size, write_with(multipart));
    }
    std::shared_ptr<S3ObjectStore> reader = open(*base);
    PrintRow("sr2", "GET", size, MedianSeconds(repeats, [&] {
               absl::StatusOr<BlobPtr> blob = reader->Read(key);
               return blob.ok() && (*blob)->size() == size;
             }));

    const std::string file = absl::StrCat(absl::GetFlag(FLAGS_tmp_dir), "/sr2-s3-bench-", getpid());
    std::ofstream(file, std::ios::binary) << data;
    const std::string curl_key = absl::StrCat("curl-", size_mib);
    PrintRow("curl", "PUT, UNSIGNED-PAYLOAD", size, MedianSeconds(repeats, [&] {
               return curl.Put(absl::StrCat(prefix, "/", curl_key), file, "UNSIGNED-PAYLOAD");
             }));
    // sr2 hashes every body it signs; give curl the hash for free to compare the rest.
    const std::string hash = Sha256Hex(data);
    PrintRow("curl", "PUT, SHA-256 payload (hash precomputed)", size,
             MedianSeconds(repeats, [&] {
               return curl.Put(absl::StrCat(prefix, "/", curl_key), file, hash);
             }));
    PrintRow("curl", "GET", size, MedianSeconds(repeats, [&] {
               return curl.Get(absl::StrCat(prefix, "/", curl_key));
             }));
    std::remove(file.c_str());
    reader->Delete(key).IgnoreError();
    reader->Delete(curl_key).IgnoreError();
  }
  return 0;
}

}  // namespace
}  // namespace sr2

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return sr2::Run();
}
