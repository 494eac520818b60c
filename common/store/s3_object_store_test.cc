// S3ObjectStore against a real S3 implementation (OpenStack Swift + s3api, which checks SigV4
// signatures), started by scripts/start-swift-s3.sh, plus a canned-response HTTP server for
// failures Swift cannot be made to produce (throttling, clock skew).
#include "common/store/s3_object_store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/store/object_store_contract.h"
#include "common/store/store_factory.h"
#include "common/store/swift_test_server.h"
#include "common/tensor/checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using ::sr2::testing::kSwiftPort;
using ::sr2::testing::RunSwiftScript;
using ::sr2::testing::SwiftConfig;

// A second, private server for the test that stops it.
constexpr int kRestartSwiftPort = 18090;
constexpr const char* kBucket = ::sr2::testing::kSwiftBucket;
constexpr uint64_t kPartSize = kS3MinPartSize;

std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 random(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  return bytes;
}

std::shared_ptr<S3ObjectStore> MustCreate(const std::string& uri, S3Config config) {
  absl::StatusOr<std::shared_ptr<S3ObjectStore>> store = S3ObjectStore::Create(uri, config);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *store : nullptr;
}

using S3ObjectStoreTest = ::sr2::testing::SwiftStoreTest;

TEST_F(S3ObjectStoreTest, PutGetHeadRangeRoundTrip) {
  ::sr2::testing::ExpectWriteReadSizeAndRange(*store_, "x/y/data.bin");

  ASSERT_TRUE(store_->Write("x/y/data.bin", "v2").ok());
  EXPECT_EQ((*store_->Read("x/y/data.bin"))->view(), "v2");
  ASSERT_TRUE(store_->Write("empty", "").ok());
  EXPECT_EQ((*store_->Read("empty"))->size(), 0u);
  EXPECT_EQ(*store_->Size("empty"), 0u);

  const S3Stats& stats = store_->stats();
  EXPECT_EQ(stats.requests(S3Operation::kPutObject, S3Outcome::kSuccess), 3u);
  // The process-wide counters, which the metrics exporter reads, include this store's.
  EXPECT_GE(S3Stats::Process().requests(S3Operation::kPutObject, S3Outcome::kSuccess), 3u);
  EXPECT_GE(S3Stats::Process().bytes_sent(S3Operation::kPutObject), 13u);
  EXPECT_EQ(stats.bytes_sent(S3Operation::kPutObject), 13u);
  EXPECT_GE(stats.bytes_received(S3Operation::kGetObject), 11u);
}

// A checkpoint on S3 is read tensor by tensor with ranged GETs: opening it fetches the
// headers only, and a tensor costs its own bytes, not the shard's.
TEST_F(S3ObjectStoreTest, CheckpointTensorsAreFetchedWithRangedReads) {
  std::vector<OwnedTensor> tensors;
  for (int i = 0; i < 4; ++i) {
    tensors.push_back({absl::StrCat("layer", i, ".weight"), DType::kF32, {256, 256},
                       std::string(256 * 256 * 4, static_cast<char>('a' + i))});
  }
  ASSERT_TRUE(WriteCheckpoint(*store_, "ckpt", tensors, {}).ok());
  auto root = MustCreate(uri_ + "/ckpt", SwiftConfig(kSwiftPort));
  ASSERT_NE(root, nullptr);
  const uint64_t received_before = root->stats().bytes_received(S3Operation::kGetObject);
  auto reader = CheckpointReader::Open(root);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const uint64_t header_bytes = root->stats().bytes_received(S3Operation::kGetObject) - received_before;
  EXPECT_LT(header_bytes, 4096u);  // The shard is 1 MiB.

  auto bytes = (*reader)->Bytes("layer2.weight");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, tensors[2].bytes);
  // Asking again reuses the fetched copy.
  ASSERT_TRUE((*reader)->Bytes("layer2.weight").ok());
  EXPECT_EQ(root->stats().bytes_received(S3Operation::kGetObject) - received_before,
            header_bytes + tensors[2].bytes.size());
  auto values = (*reader)->ReadFloat("layer0.weight");
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(values->size(), 256u * 256u);
}

TEST_F(S3ObjectStoreTest, MissingObjectsAreNotFoundAndNameBucketAndKey) {
  for (const absl::Status& status :
       {store_->Read("nope/x").status(), store_->Size("nope/x").status(),
        store_->ReadRange("nope/x", 0, 1).status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
    EXPECT_THAT(status.message(), AllOf(HasSubstr(kBucket), HasSubstr("nope/x")));
  }
  EXPECT_TRUE(store_->Delete("nope/x").ok());
  EXPECT_TRUE(store_->DeletePrefix("nope").ok());
}

TEST_F(S3ObjectStoreTest, InvalidKeysAreRejectedWithoutAnyRequest) {
  EXPECT_EQ(store_->Write("../escape", "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Read("/etc/passwd").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ReadRange("a/./b", 0, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Size("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->NewWriter("a//b").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Delete("..").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->DeletePrefix("a/../..").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->List("../").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Publish("a", "../b").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Write(std::string("a\0b", 3), "x").code(), absl::StatusCode::kInvalidArgument);
  for (S3Outcome outcome : {S3Outcome::kSuccess, S3Outcome::kClientError, S3Outcome::kServerError,
                            S3Outcome::kNetworkError}) {
    EXPECT_EQ(store_->stats().total_requests(outcome), 0u);
  }
}

TEST_F(S3ObjectStoreTest, KeysWithSpacesPlusAndUnicodeRoundTrip) {
  const std::vector<std::string> keys = {"dir/with space/a+b=c&d.txt", "unicode/Grüße/日本語.bin",
                                         "odd/semi;colon,comma'(x)*!~$@",
                                         "odd/percent%20literal?#[]", "odd/<xml>&amp;\"q\""};
  for (const std::string& key : keys) {
    ASSERT_TRUE(store_->Write(key, key).ok()) << key;
  }
  for (const std::string& key : keys) {
    absl::StatusOr<BlobPtr> blob = store_->Read(key);
    ASSERT_TRUE(blob.ok()) << key << ": " << blob.status();
    EXPECT_EQ((*blob)->view(), key);
    EXPECT_EQ(*store_->Size(key), key.size());
  }
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(*store_->List(""), sorted);
  EXPECT_THAT(*store_->List("unicode/Grü"), ElementsAre("unicode/Grüße/日本語.bin"));
  ASSERT_TRUE(store_->Delete("dir/with space/a+b=c&d.txt").ok());
  EXPECT_EQ(store_->Read("dir/with space/a+b=c&d.txt").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(S3ObjectStoreTest, ListPaginatesAndFiltersByPrefix) {
  S3Config config = SwiftConfig(kSwiftPort);
  config.list_page_size = 2;
  std::shared_ptr<S3ObjectStore> store = MustCreate(uri_, config);
  for (const char* key : {"b/2", "a/z/deep", "a/1", "ab", "c", "a/2", "a/3"}) {
    ASSERT_TRUE(store->Write(key, key).ok());
  }
  EXPECT_THAT(*store->List(""), ElementsAre("a/1", "a/2", "a/3", "a/z/deep", "ab", "b/2", "c"));
  EXPECT_GE(store->stats().requests(S3Operation::kListObjects, S3Outcome::kSuccess), 4u);
  EXPECT_THAT(*store->List("a"), ElementsAre("a/1", "a/2", "a/3", "a/z/deep", "ab"));
  EXPECT_THAT(*store->List("a/"), ElementsAre("a/1", "a/2", "a/3", "a/z/deep"));
  EXPECT_THAT(*store->List("zzz"), IsEmpty());

  // A store whose prefix is a string prefix of another's does not see the other's objects.
  std::shared_ptr<S3ObjectStore> sibling = MustCreate(uri_ + "x", SwiftConfig(kSwiftPort));
  ASSERT_TRUE(sibling->Write("other", "o").ok());
  EXPECT_EQ(store->List("")->size(), 7u);
  EXPECT_THAT(*sibling->List(""), ElementsAre("other"));
  ASSERT_TRUE(sibling->Delete("other").ok());
}

TEST_F(S3ObjectStoreTest, DeleteAndDeletePrefix) {
  for (const char* key : {"a/x", "a/y/z", "ab", "a"}) ASSERT_TRUE(store_->Write(key, "v").ok());
  ASSERT_TRUE(store_->DeletePrefix("a").ok());
  EXPECT_THAT(*store_->List(""), ElementsAre("a", "ab"));
  ASSERT_TRUE(store_->Delete("ab").ok());
  EXPECT_THAT(*store_->List(""), ElementsAre("a"));
}

TEST_F(S3ObjectStoreTest, LargeObjectGoesMultipartAndReadsBackByteForByte) {
  const std::string data = RandomBytes(12 << 20, 7);
  ASSERT_TRUE(store_->Write("big/object.bin", data).ok());
  const S3Stats& stats = store_->stats();
  EXPECT_EQ(stats.requests(S3Operation::kUploadPart, S3Outcome::kSuccess), 3u);
  EXPECT_EQ(stats.requests(S3Operation::kCompleteMultipartUpload, S3Outcome::kSuccess), 1u);
  EXPECT_EQ(stats.requests(S3Operation::kPutObject, S3Outcome::kSuccess), 0u);
  EXPECT_EQ(stats.bytes_sent(S3Operation::kUploadPart), data.size());
  absl::StatusOr<BlobPtr> blob = store_->Read("big/object.bin");
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_TRUE((*blob)->view() == data);
  EXPECT_EQ(*store_->Size("big/object.bin"), data.size());
  EXPECT_TRUE(*store_->ReadRange("big/object.bin", kPartSize - 3, 10) ==
              data.substr(kPartSize - 3, 10));
  EXPECT_THAT(*store_->ListPendingUploads(""), IsEmpty());
}

TEST_F(S3ObjectStoreTest, StreamingWriterIsInvisibleUntilClose) {
  const std::string data = RandomBytes(11 << 20, 11);
  absl::StatusOr<std::unique_ptr<ObjectWriter>> writer = store_->NewWriter("dir/stream");
  ASSERT_TRUE(writer.ok()) << writer.status();
  // Uneven appends straddle part boundaries.
  for (size_t offset = 0; offset < data.size();) {
    const size_t size = std::min<size_t>(data.size() - offset, 3 << 20 | 12345);
    ASSERT_TRUE((*writer)->Append(std::string_view(data).substr(offset, size)).ok());
    offset += size;
  }
  EXPECT_THAT(*store_->List(""), IsEmpty());
  EXPECT_EQ(store_->ListPendingUploads("")->size(), 1u);
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_TRUE((*store_->Read("dir/stream"))->view() == data);
  EXPECT_THAT(*store_->List(""), ElementsAre("dir/stream"));
  EXPECT_THAT(*store_->ListPendingUploads(""), IsEmpty());
  EXPECT_EQ((*writer)->Append("more").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*writer)->Close().code(), absl::StatusCode::kFailedPrecondition);

  // A small streamed object is a single PUT.
  absl::StatusOr<std::unique_ptr<ObjectWriter>> small = store_->NewWriter("dir/small");
  ASSERT_TRUE((*small)->Append("ab").ok() && (*small)->Append("c").ok());
  ASSERT_TRUE((*small)->Close().ok());
  EXPECT_EQ((*store_->Read("dir/small"))->view(), "abc");
}

TEST_F(S3ObjectStoreTest, ParallelPartsArriveInOrder) {
  S3Config config = SwiftConfig(kSwiftPort);
  config.upload_concurrency = 3;
  std::shared_ptr<S3ObjectStore> store = MustCreate(uri_, config);
  // 5 parts: 4 in flight behind the one being filled, and a short last part.
  const std::string data = RandomBytes(4 * kPartSize + 777, 13);
  absl::StatusOr<std::unique_ptr<ObjectWriter>> writer = store->NewWriter("parallel");
  ASSERT_TRUE(writer.ok());
  for (size_t offset = 0; offset < data.size(); offset += 1 << 20) {
    ASSERT_TRUE((*writer)->Append(std::string_view(data).substr(offset, 1 << 20)).ok());
  }
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_EQ(store->stats().requests(S3Operation::kUploadPart, S3Outcome::kSuccess), 5u);
  EXPECT_TRUE((*store->Read("parallel"))->view() == data);
  EXPECT_THAT(*store->ListPendingUploads(""), IsEmpty());
}

// Peak RSS of this process since the last reset, in bytes (Linux: VmHWM).
uint64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) << 10;
  }
  return 0;
}

TEST_F(S3ObjectStoreTest, StreamingWriterMemoryStaysBoundedForLargeObjects) {
  S3Config config = SwiftConfig(kSwiftPort);
  config.upload_concurrency = 2;
  std::shared_ptr<S3ObjectStore> store = MustCreate(uri_, config);
  constexpr uint64_t kObjectSize = uint64_t{64} << 20;
  std::string chunk = RandomBytes(1 << 20, 17);
  std::ofstream("/proc/self/clear_refs") << "5";  // Resets VmHWM to the current RSS.
  const uint64_t baseline = PeakRssBytes();
  ASSERT_GT(baseline, 0u);
  absl::StatusOr<std::unique_ptr<ObjectWriter>> writer = store->NewWriter("large");
  ASSERT_TRUE(writer.ok());
  for (uint64_t written = 0; written < kObjectSize; written += chunk.size()) {
    chunk[0] = static_cast<char>(written >> 20);
    ASSERT_TRUE((*writer)->Append(chunk).ok());
  }
  ASSERT_TRUE((*writer)->Close().ok());
  // (concurrency + 1) parts of 5 MiB are 15 MiB; the whole object would be 64 MiB.
  EXPECT_LT(PeakRssBytes() - baseline, uint64_t{40} << 20);
  EXPECT_EQ(*store->Size("large"), kObjectSize);
  EXPECT_EQ(*store->ReadRange("large", (uint64_t{37} << 20) - 1, 2),
            absl::StrCat(std::string(1, chunk.back()), std::string(1, '\x25')));
  EXPECT_THAT(*store->ListPendingUploads(""), IsEmpty());
}

TEST_F(S3ObjectStoreTest, AbandonedWriterLeavesNoObjectAndNoPendingUpload) {
  ASSERT_TRUE(store_->Write("dir/obj", "old").ok());
  {
    absl::StatusOr<std::unique_ptr<ObjectWriter>> writer = store_->NewWriter("dir/obj");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(RandomBytes(6 << 20, 3)).ok());  // One part uploaded.
    EXPECT_EQ(store_->ListPendingUploads("")->size(), 1u);
  }
  EXPECT_THAT(*store_->ListPendingUploads(""), IsEmpty());
  EXPECT_EQ(store_->stats().requests(S3Operation::kAbortMultipartUpload, S3Outcome::kSuccess), 1u);
  EXPECT_EQ((*store_->Read("dir/obj"))->view(), "old");
  EXPECT_THAT(*store_->List(""), ElementsAre("dir/obj"));
}

TEST_F(S3ObjectStoreTest, PublishCopiesTheTreeAndRemovesTheSource) {
  for (const char* key : {"staging/a", "staging/sub/b", "staging/sr2_manifest.json", "other"}) {
    ASSERT_TRUE(store_->Write(key, key).ok());
  }
  ASSERT_TRUE(store_->Publish("staging", "final/run1").ok());
  EXPECT_THAT(*store_->List(""), ElementsAre("final/run1/a", "final/run1/sr2_manifest.json",
                                             "final/run1/sub/b", "other"));
  EXPECT_EQ((*store_->Read("final/run1/sub/b"))->view(), "staging/sub/b");

  ASSERT_TRUE(store_->Write("staging2/x", "x").ok());
  absl::Status exists = store_->Publish("staging2", "final/run1");
  EXPECT_EQ(exists.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(exists.message(), HasSubstr("already exists"));
  EXPECT_EQ(store_->Publish("missing", "final/run2").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Publish("staging2", "staging2/inner").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->Read("staging2/x").ok());
}

TEST_F(S3ObjectStoreTest, PublishCopiesLargeObjectsPartByPart) {
  S3Config config = SwiftConfig(kSwiftPort);
  config.max_single_copy_size = kPartSize;
  std::shared_ptr<S3ObjectStore> store = MustCreate(uri_, config);
  const std::string data = RandomBytes(12 << 20, 5);
  ASSERT_TRUE(store->Write("from/big", data).ok());
  ASSERT_TRUE(store->Write("from/small", "s").ok());
  const absl::Status published = store->Publish("from", "to");
  ASSERT_TRUE(published.ok()) << published;
  EXPECT_EQ(store->stats().requests(S3Operation::kUploadPart, S3Outcome::kSuccess), 6u);
  EXPECT_EQ(store->stats().requests(S3Operation::kCopyObject, S3Outcome::kSuccess), 1u);
  EXPECT_TRUE((*store->Read("to/big"))->view() == data);
  EXPECT_THAT(*store->List(""), ElementsAre("to/big", "to/small"));
}

TEST_F(S3ObjectStoreTest, WrongSecretIsPermissionDeniedWithoutLeakingIt) {
  S3Config config = SwiftConfig(kSwiftPort);
  config.credentials.secret_access_key = "Zq9-not-the-secret-Zq9";
  std::shared_ptr<S3ObjectStore> store = MustCreate(uri_, config);
  absl::Status status = store->Write("k", "v");
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("403"), HasSubstr("SignatureDoesNotMatch"), HasSubstr(kBucket),
                    HasSubstr("key "), Not(HasSubstr("Zq9")), Not(HasSubstr("testing"))));
  // Not retried: the first answer is final.
  EXPECT_EQ(store->stats().requests(S3Operation::kPutObject, S3Outcome::kClientError), 1u);
  EXPECT_EQ(store->Read("k").status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(S3ObjectStoreTest, MissingBucketIsAFailedPreconditionNamingIt) {
  std::shared_ptr<S3ObjectStore> store =
      MustCreate("s3://sr2-no-such-bucket/p", SwiftConfig(kSwiftPort));
  for (const absl::Status& status :
       {store->Write("k", "v"), store->Read("k").status(), store->List("").status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
    EXPECT_THAT(status.message(), AllOf(HasSubstr("bucket sr2-no-such-bucket does not exist"),
                                        HasSubstr("127.0.0.1")));
  }
}

TEST_F(S3ObjectStoreTest, OpenStoreResolvesS3UrisFromTheEnvironment) {
  setenv("AWS_ENDPOINT_URL_S3", absl::StrCat("http://127.0.0.1:", kSwiftPort).c_str(), 1);
  setenv("AWS_ACCESS_KEY_ID", "test:tester", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "testing", 1);
  absl::StatusOr<ObjectStorePtr> store = OpenStore(uri_ + "/");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->uri(), uri_);
  ASSERT_TRUE((*store)->Write("tokens.bin", "abcd").ok());
  EXPECT_EQ((*ReadUri(uri_ + "/tokens.bin"))->view(), "abcd");
  EXPECT_EQ((*store_->Read("tokens.bin"))->view(), "abcd");

  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  setenv("SR2_S3_CREDENTIALS_DIR", "/nonexistent-sr2-credentials", 1);
  absl::StatusOr<ObjectStorePtr> no_credentials = OpenStore(uri_);
  EXPECT_EQ(no_credentials.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_credentials.status().message(), HasSubstr(uri_));
  unsetenv("SR2_S3_CREDENTIALS_DIR");
  unsetenv("AWS_ENDPOINT_URL_S3");
}

// Stops the (private) server between two parts of a multipart upload.
TEST_F(S3ObjectStoreTest, ServerStoppedMidMultipartFailsCleanly) {
  ASSERT_EQ(RunSwiftScript(absl::StrCat("start ", kRestartSwiftPort, " ", kBucket)), 0);
  S3Config config = SwiftConfig(kRestartSwiftPort);
  config.max_attempts = 2;
  std::shared_ptr<S3ObjectStore> store = MustCreate(uri_, config);
  absl::StatusOr<std::unique_ptr<ObjectWriter>> writer = store->NewWriter("half/object");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append(RandomBytes(kPartSize, 1)).ok());  // Part 1 is uploaded.

  ASSERT_EQ(RunSwiftScript(absl::StrCat("stop ", kRestartSwiftPort)), 0);
  absl::Status failed = (*writer)->Append(RandomBytes(kPartSize, 2));
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << failed;
  EXPECT_THAT(failed.message(), AllOf(HasSubstr("UploadPart"), HasSubstr("half/object"),
                                      HasSubstr("aborting the upload failed too")));
  EXPECT_EQ(store->stats().requests(S3Operation::kUploadPart, S3Outcome::kNetworkError), 2u);
  EXPECT_EQ(store->stats().requests(S3Operation::kAbortMultipartUpload, S3Outcome::kNetworkError),
            2u);
  EXPECT_EQ((*writer)->Close().code(), absl::StatusCode::kFailedPrecondition);
  writer->reset();

  ASSERT_EQ(RunSwiftScript(absl::StrCat("start ", kRestartSwiftPort, " ", kBucket)), 0);
  EXPECT_EQ(store->Read("half/object").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(*store->List(""), IsEmpty());
  // The abort could not reach the server; the upload is found and cleaned up afterwards.
  EXPECT_EQ(store->ListPendingUploads("")->size(), 1u);
  ASSERT_TRUE(store->AbortPendingUploads("").ok());
  EXPECT_THAT(*store->ListPendingUploads(""), IsEmpty());
  RunSwiftScript(absl::StrCat("clean ", kRestartSwiftPort));
}

// Answers each connection with the next canned reply (the last one repeats) and records the request
// heads.
class CannedHttpServer {
 public:
  struct Reply {
    int status;
    std::string body;
  };

  explicit CannedHttpServer(std::vector<Reply> replies) : replies_(std::move(replies)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~CannedHttpServer() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }

  int port() const { return port_; }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  void Serve() {
    size_t next = 0;
    while (!stop_) {
      pollfd poll_fd{listen_fd_, POLLIN, 0};
      if (poll(&poll_fd, 1, 20) <= 0) continue;
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      std::string request;
      char buffer[65536];
      size_t head_end = std::string::npos;
      size_t body_length = 0;
      while (true) {
        if (head_end == std::string::npos) {
          head_end = request.find("\r\n\r\n");
          if (head_end != std::string::npos) {
            std::string lower = request.substr(0, head_end);
            absl::AsciiStrToLower(&lower);
            const size_t header = lower.find("content-length:");
            if (header != std::string::npos) {
              body_length = std::strtoul(lower.c_str() + header + 15, nullptr, 10);
            }
          }
        }
        if (head_end != std::string::npos && request.size() >= head_end + 4 + body_length) break;
        const ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
        if (got <= 0) break;
        request.append(buffer, static_cast<size_t>(got));
      }
      const Reply& reply = replies_[std::min(next++, replies_.size() - 1)];
      {
        std::lock_guard<std::mutex> lock(mutex_);
        requests_.push_back(request.substr(0, head_end));
      }
      const std::string response =
          absl::StrCat("HTTP/1.1 ", reply.status, " Canned\r\nContent-Length: ", reply.body.size(),
                       "\r\nConnection: close\r\n\r\n", reply.body);
      send(fd, response.data(), response.size(), MSG_NOSIGNAL);
      close(fd);
    }
  }

  const std::vector<Reply> replies_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> requests_;
};

std::string ErrorXml(const std::string& code, const std::string& message) {
  return absl::StrCat("<?xml version=\"1.0\"?><Error><Code>", code, "</Code><Message>", message,
                      "</Message></Error>");
}

S3Config CannedConfig(const CannedHttpServer& server) {
  S3Config config;
  config.endpoint = absl::StrCat("http://127.0.0.1:", server.port());
  config.credentials = {"AKIDCANNED", "canned-secret-value", ""};
  config.max_attempts = 3;
  config.initial_backoff_ms = 1;
  config.max_backoff_ms = 5;
  return config;
}

TEST(S3CannedServerTest, ThrottlingIsRetriedThenSucceeds) {
  CannedHttpServer server({{503, ErrorXml("SlowDown", "Reduce your request rate.")},
                           {500, ErrorXml("InternalError", "oops")},
                           {200, "payload"}});
  std::shared_ptr<S3ObjectStore> store = MustCreate("s3://bkt/p", CannedConfig(server));
  absl::StatusOr<BlobPtr> blob = store->Read("k");
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ((*blob)->view(), "payload");
  EXPECT_EQ(store->stats().requests(S3Operation::kGetObject, S3Outcome::kServerError), 2u);
  EXPECT_EQ(store->stats().requests(S3Operation::kGetObject, S3Outcome::kSuccess), 1u);
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(S3CannedServerTest, PersistentServerErrorsGiveUpAfterMaxAttempts) {
  CannedHttpServer server({{503, ErrorXml("ServiceUnavailable", "down")}});
  std::shared_ptr<S3ObjectStore> store = MustCreate("s3://bkt", CannedConfig(server));
  absl::Status status = store->Write("dir/k", "v");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("503 ServiceUnavailable"), HasSubstr("bucket bkt"),
                                      HasSubstr("key dir/k"), HasSubstr("after 3 attempts")));
  EXPECT_EQ(server.requests().size(), 3u);
}

// libcurl 7.88 signs with the current time and sends a caller-supplied x-amz-date twice, so a
// skewed clock cannot be simulated against Swift; the server's answer to one is canned here.
TEST(S3CannedServerTest, ClockSkewIsPermissionDeniedWithAHintAndNotRetried) {
  CannedHttpServer server({{403, ErrorXml("RequestTimeTooSkewed",
                                          "The difference between the request "
                                          "time and the current time is too "
                                          "large.")}});
  std::shared_ptr<S3ObjectStore> store = MustCreate("s3://bkt", CannedConfig(server));
  absl::Status status = store->Read("k").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("403 RequestTimeTooSkewed"), HasSubstr("clock"),
                    HasSubstr("bucket bkt key k"), Not(HasSubstr("canned-secret-value"))));
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(S3CannedServerTest, RequestsAreSignedCanonicallyAndCarryTheSessionToken) {
  CannedHttpServer server({{200, ""}});
  S3Config config = CannedConfig(server);
  config.credentials.session_token = "session-token-1";
  config.region = "eu-central-1";
  std::shared_ptr<S3ObjectStore> store = MustCreate("s3://bkt/pre fix", config);
  ASSERT_TRUE(store->Write("a b+c/é", "body").ok());
  ASSERT_TRUE(store->ListPendingUploads("x/").ok());
  const std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_THAT(requests[0], HasSubstr("PUT /bkt/pre%20fix/a%20b%2Bc/%C3%A9 HTTP/1.1"));
  EXPECT_THAT(requests[1], HasSubstr("GET /bkt?prefix=pre%20fix%2Fx%2F&uploads= HTTP/1.1"));
  for (const std::string& request : requests) {
    EXPECT_THAT(request, HasSubstr("Credential=AKIDCANNED/"));
    EXPECT_THAT(request, HasSubstr("/eu-central-1/s3/aws4_request"));
    EXPECT_THAT(request, HasSubstr("x-amz-content-sha256: "));
    EXPECT_THAT(request, HasSubstr("x-amz-security-token: session-token-1"));
    EXPECT_THAT(request, Not(HasSubstr("canned-secret-value")));
  }
  // sha256("body"): the payload hash is real, so the server can reject corrupted bodies.
  EXPECT_THAT(requests[0],
              HasSubstr("230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5"));
}

TEST(S3CannedServerTest, VirtualHostAddressingPutsTheBucketInTheHost) {
  CannedHttpServer server({{200, "x"}});
  S3Config config = CannedConfig(server);
  // curl resolves every *.localhost name to the loopback address itself.
  config.endpoint = absl::StrCat("http://localhost:", server.port());
  config.addressing = S3Addressing::kVirtualHost;
  std::shared_ptr<S3ObjectStore> store = MustCreate("s3://bkt/p", config);
  ASSERT_TRUE(store->Read("k").ok());
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_THAT(server.requests()[0],
              AllOf(HasSubstr("GET /p/k HTTP/1.1"),
                    HasSubstr(absl::StrCat("Host: bkt.localhost:", server.port()))));
}

TEST(S3CannedServerTest, PublishWritesTheManifestLastAndDeletesItFirst) {
  const std::string listing =
      "<ListBucketResult><IsTruncated>false</IsTruncated>"
      "<Contents><Key>p/from/a</Key><Size>1</Size></Contents>"
      "<Contents><Key>p/from/sr2_manifest.json</Key><Size>2</Size></Contents>"
      "<Contents><Key>p/from/z</Key><Size>1</Size></Contents></"
      "ListBucketResult>";
  CannedHttpServer server({{200,
                            "<ListBucketResult><IsTruncated>false</IsTruncated>"
                            "</ListBucketResult>"},
                           {200, listing},
                           {200, "<CopyObjectResult><ETag>\"e\"</ETag></CopyObjectResult>"},
                           {200, "<CopyObjectResult><ETag>\"e\"</ETag></CopyObjectResult>"},
                           {200, "<CopyObjectResult><ETag>\"e\"</ETag></CopyObjectResult>"},
                           {204, ""}});
  std::shared_ptr<S3ObjectStore> store = MustCreate("s3://bkt/p", CannedConfig(server));
  ASSERT_TRUE(store->Publish("from", "to").ok());
  const std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), 8u);
  EXPECT_THAT(requests[2],
              AllOf(HasSubstr("PUT /bkt/p/to/a "), HasSubstr("x-amz-copy-source: /bkt/p/from/a")));
  EXPECT_THAT(requests[3], HasSubstr("PUT /bkt/p/to/z "));
  EXPECT_THAT(requests[4], HasSubstr("PUT /bkt/p/to/sr2_manifest.json "));
  EXPECT_THAT(requests[5], HasSubstr("DELETE /bkt/p/from/sr2_manifest.json "));
}

TEST(S3CannedServerTest, FailedPartAbortsTheUploadAfterThePartsInFlight) {
  CannedHttpServer server({{200, "<InitiateMultipartUploadResult><UploadId>u1</UploadId>"
                                 "</InitiateMultipartUploadResult>"},
                           {400, ErrorXml("InvalidArgument", "bad part")},
                           {400, ErrorXml("InvalidArgument", "bad part")},
                           {204, ""}});
  S3Config config = CannedConfig(server);
  config.part_size = kPartSize;
  config.upload_concurrency = 2;
  std::shared_ptr<S3ObjectStore> store = MustCreate("s3://bkt", config);
  const absl::Status status = store->Write("dir/k", std::string(3 * kPartSize, 'x'));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("UploadPart"), HasSubstr("key dir/k")));
  // Create, the two parts in flight (the third never starts), then the abort.
  const std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_THAT(requests[1], HasSubstr("PUT /bkt/dir/k?partNumber="));
  EXPECT_THAT(requests[2], HasSubstr("PUT /bkt/dir/k?partNumber="));
  EXPECT_THAT(requests[3], HasSubstr("DELETE /bkt/dir/k?uploadId=u1 "));
}

TEST(S3CannedServerTest, CopyErrorInsideA200IsRetriedAndReported) {
  CannedHttpServer server({{200,
                            "<ListBucketResult><IsTruncated>false</IsTruncated></"
                            "ListBucketResult>"},
                           {200,
                            "<ListBucketResult><IsTruncated>false</IsTruncated>"
                            "<Contents><Key>from/a</Key><Size>1</Size></Contents></"
                            "ListBucketResult>"},
                           {200, ErrorXml("InternalError", "copy failed")}});
  S3Config config = CannedConfig(server);
  config.max_attempts = 2;
  std::shared_ptr<S3ObjectStore> store = MustCreate("s3://bkt", config);
  absl::Status status = store->Publish("from", "to");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("200 InternalError"), HasSubstr("key to/a"),
                                      HasSubstr("CopyObject"), HasSubstr("copy failed")));
  // Two list requests and two copy attempts; the source is left alone.
  EXPECT_EQ(server.requests().size(), 4u);
}

}  // namespace
}  // namespace sr2
