// sr2-s3-bench: upload and download throughput of S3ObjectStore (single PUT, and multipart with
// parallel parts) against plain curl with --aws-sigv4 on the same server and objects.
// Endpoint and credentials come from the usual variables (AWS_ENDPOINT_URL_S3,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; see common/store/s3_config.h); the bucket must exist.
// Usage (e.g. against scripts/start-swift-s3.sh start 18080 sr2-test), with
//   AWS_ENDPOINT_URL_S3=http://127.0.0.1:18080 AWS_ACCESS_KEY_ID=test:tester
//   AWS_SECRET_ACCESS_KEY=testing in the environment:
//   sr2-s3-bench [--bucket sr2-test] [--sizes_mib 64,256] [--part_size_mib 8]
//                [--concurrency 1,4] [--repeats 3]
// Prints a Markdown table of median MiB/s (and seconds) per tool and operation; every round runs
// all of them once, in the order of the table.
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
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/store/s3_object_store.h"
#include "common/store/s3_url.h"
#include "common/store/s3_xml.h"
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

// One measured transfer; `run` returns false on failure.
struct Case {
  Case(std::string tool, std::string operation, std::function<bool()> run)
      : tool(std::move(tool)), operation(std::move(operation)), run(std::move(run)) {}

  std::string tool;
  std::string operation;
  std::function<bool()> run;
  std::vector<double> seconds;
  bool failed = false;
};

// Runs every case once per round, so that a change in the machine's load (it is shared) hits all
// cases alike rather than whichever ran then.
void RunRounds(int rounds, std::vector<Case>& cases) {
  for (int round = 0; round < rounds; ++round) {
    for (Case& c : cases) {
      if (c.failed) continue;
      const auto start = Clock::now();
      c.failed = !c.run();
      c.seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
  }
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
    return Run(absl::StrCat(kUnsigned, Url(key), " -o /dev/null"));
  }
  // A multipart upload of `part_files`, one curl process per request, parts one after another
  // (what a shell script would do).
  bool MultipartPut(const std::string& key, const std::vector<std::string>& part_files) {
    std::string answer;
    if (!Run(absl::StrCat(kUnsigned, "-X POST ", Url(key, {{"uploads", ""}})), &answer)) {
      return false;
    }
    const std::string upload_id = XmlText(answer, "UploadId");
    std::string complete = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < part_files.size(); ++i) {
      const std::string number = std::to_string(i + 1);
      std::string headers;
      if (upload_id.empty() ||
          !Run(absl::StrCat(kUnsigned, "-T ", ShellQuote(part_files[i]), " -D - -o /dev/null ",
                            Url(key, {{"partNumber", number}, {"uploadId", upload_id}})),
               &headers)) {
        return false;
      }
      absl::AsciiStrToLower(&headers);
      const size_t etag = headers.find("\netag: ");
      if (etag == std::string::npos) return false;
      const size_t end = headers.find_first_of("\r\n", etag + 7);
      absl::StrAppend(&complete, "<Part><PartNumber>", number, "</PartNumber><ETag>",
                      headers.substr(etag + 7, end - etag - 7), "</ETag></Part>");
    }
    complete += "</CompleteMultipartUpload>";
    return Run(absl::StrCat(kUnsigned, "-X POST --data-binary ", ShellQuote(complete), " ",
                            Url(key, {{"uploadId", upload_id}}), " -o /dev/null"));
  }

 private:
  static constexpr char kUnsigned[] = "-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' ";

  // curl signs the query as written: it must be canonical already.
  std::string Url(const std::string& key, const QueryParams& query = {}) const {
    const size_t scheme_end = config_.endpoint.find("://") + 3;
    std::string url = absl::StrCat(
        config_.endpoint.substr(0, scheme_end),
        AwsPercentEncode(config_.credentials.access_key_id, false), ":",
        AwsPercentEncode(config_.credentials.secret_access_key, false), "@",
        config_.endpoint.substr(scheme_end), "/", bucket_, "/", AwsPercentEncode(key, true));
    if (!query.empty()) absl::StrAppend(&url, "?", CanonicalQuery(query));
    return ShellQuote(url);
  }
  // Runs curl; its standard output goes to `output` when given.
  bool Run(const std::string& arguments, std::string* output = nullptr) const {
    const std::string command =
        absl::StrCat("curl -sS -f --aws-sigv4 ", ShellQuote("aws:amz:" + config_.region + ":s3"),
                     " ", arguments);
    if (output == nullptr) return std::system(command.c_str()) == 0;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return false;
    char buffer[4096];
    for (size_t got; (got = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) {
      output->append(buffer, got);
    }
    return pclose(pipe) == 0;
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

void PrintRow(Case& c, uint64_t size) {
  const unsigned long long mib = size >> 20;
  if (c.failed || c.seconds.empty()) {
    std::printf("| %s | %s | %llu | FAILED | |\n", c.tool.c_str(), c.operation.c_str(), mib);
    return;
  }
  std::sort(c.seconds.begin(), c.seconds.end());
  const double median = c.seconds[c.seconds.size() / 2];
  std::printf("| %s | %s | %llu | %.0f | %.2f |\n", c.tool.c_str(), c.operation.c_str(), mib,
              mib / median, median);
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

  std::printf("endpoint %s, median of %d rounds\n\n", base->endpoint.c_str(), repeats);
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
    const std::string file =
        absl::StrCat(absl::GetFlag(FLAGS_tmp_dir), "/sr2-s3-bench-", getpid());
    std::ofstream(file, std::ios::binary) << data;
    const std::string curl_key = absl::StrCat("curl-", size_mib);
    const std::string curl_full_key = absl::StrCat(prefix, "/", curl_key);
    // sr2 hashes every body it signs; curl gets the hash for free to compare the rest.
    const std::string hash = Sha256Hex(data);

    std::vector<Case> cases;
    auto add_write = [&](const std::string& operation, S3Config config) {
      std::shared_ptr<S3ObjectStore> store = open(std::move(config));
      cases.emplace_back("sr2", operation, [store, &key, &data] {
                         const absl::Status status = store->Write(key, data);
                         if (!status.ok()) std::fprintf(stderr, "%s\n", status.ToString().c_str());
                         return status.ok();
                       });
    };
    S3Config single = *base;
    single.part_size = std::max<uint64_t>(size, kS3MinPartSize);
    single.max_single_copy_size = std::max(single.max_single_copy_size, single.part_size);
    add_write("PUT, single part", single);
    for (const std::string& concurrency_text : absl::GetFlag(FLAGS_concurrency)) {
      S3Config multipart = *base;
      multipart.part_size = uint64_t(absl::GetFlag(FLAGS_part_size_mib)) << 20;
      if (!absl::SimpleAtoi(concurrency_text, &multipart.upload_concurrency)) return 2;
      add_write(absl::StrCat("PUT, multipart ", multipart.part_size >> 20, " MiB parts x ",
                             multipart.upload_concurrency, " parallel"),
                multipart);
    }
    std::shared_ptr<S3ObjectStore> reader = open(*base);
    cases.emplace_back("sr2", "GET", [&] {
                       absl::StatusOr<BlobPtr> blob = reader->Read(key);
                       return blob.ok() && (*blob)->size() == size;
                     });
    cases.emplace_back("curl", "PUT, UNSIGNED-PAYLOAD",
                     [&] { return curl.Put(curl_full_key, file, "UNSIGNED-PAYLOAD"); });
    cases.emplace_back("curl", "PUT, SHA-256 payload (hash precomputed)",
                     [&] { return curl.Put(curl_full_key, file, hash); });
    const uint64_t curl_part_size = uint64_t(absl::GetFlag(FLAGS_part_size_mib)) << 20;
    std::vector<std::string> part_files;
    for (uint64_t offset = 0; offset < size; offset += curl_part_size) {
      part_files.push_back(absl::StrCat(file, ".part", part_files.size() + 1));
      std::ofstream(part_files.back(), std::ios::binary)
          << std::string_view(data).substr(offset, curl_part_size);
    }
    cases.emplace_back("curl",
                       absl::StrCat("PUT, multipart ", curl_part_size >> 20,
                                    " MiB parts, sequential"),
                       [&] { return curl.MultipartPut(curl_full_key, part_files); });
    cases.emplace_back("curl", "GET", [&] { return curl.Get(curl_full_key); });
    RunRounds(repeats, cases);
    for (Case& c : cases) PrintRow(c, size);
    std::fflush(stdout);
    std::remove(file.c_str());
    for (const std::string& part_file : part_files) std::remove(part_file.c_str());
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
