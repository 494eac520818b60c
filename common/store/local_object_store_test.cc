#include "common/store/local_object_store.h"

#include <filesystem>
#include <string>
#include <vector>

#include "common/store/object_store_contract.h"
#include "common/store/store_factory.h"
#include "common/util/sha256.h"
#include "common/util/test_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class LocalObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::FreshTestDir("sr2_store");
    store_ = LocalObjectStore::Create(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Every file below the root, hidden ones included.
  std::vector<std::string> AllFiles() const {
    std::vector<std::string> files;
    if (!fs::exists(root_)) return files;
    for (const auto& entry : fs::recursive_directory_iterator(root_)) {
      if (entry.is_regular_file()) files.push_back(entry.path().filename().string());
    }
    return files;
  }

  std::string root_;
  std::shared_ptr<LocalObjectStore> store_;
};

TEST(ValidateKeyTest, AcceptsRelativePaths) {
  EXPECT_TRUE(ValidateKey("a").ok());
  EXPECT_TRUE(ValidateKey("jobs/j1/blocks/0.safetensors").ok());
  EXPECT_TRUE(ValidateKey(".hidden/..dots").ok());
}

TEST(ValidateKeyTest, RejectsEscapesAndMalformedKeys) {
  const std::vector<std::string> keys = {"",    "/abs",  "../x", "a/../b", "a/..",
                                         "./a", "a/./b", "a//b", "a/",     std::string("a\0b", 3)};
  for (const std::string& key : keys) {
    absl::Status status = ValidateKey(key);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_THAT(status.message(), HasSubstr("invalid object key")) << key;
  }
  EXPECT_THAT(ValidateKey("a/../b").message(), HasSubstr("a/../b"));
}

TEST(JoinKeyTest, SkipsEmptyParts) {
  EXPECT_EQ(JoinKey("a/b", "c"), "a/b/c");
  EXPECT_EQ(JoinKey("", "c"), "c");
  EXPECT_EQ(JoinKey("a", ""), "a");
}

TEST_F(LocalObjectStoreTest, WriteThenReadSizeAndRange) {
  testing::ExpectWriteReadSizeAndRange(*store_, "x/y/data.bin");
}

TEST_F(LocalObjectStoreTest, OverwriteReplacesWholeObjectAndEmptyObjectsWork) {
  ASSERT_TRUE(store_->Write("k", "first version").ok());
  BlobPtr old_blob = *store_->Read("k");
  ASSERT_TRUE(store_->Write("k", "v2").ok());
  EXPECT_EQ((*store_->Read("k"))->view(), "v2");
  // A mapping taken before the rename still shows the old object.
  EXPECT_EQ(old_blob->view(), "first version");
  ASSERT_TRUE(store_->Write("empty", "").ok());
  EXPECT_EQ((*store_->Read("empty"))->size(), 0u);
}

TEST_F(LocalObjectStoreTest, MissingObjectsAreNotFoundAndNameThePath) {
  for (const absl::Status& status :
       {store_->Read("nope/x").status(), store_->Size("nope/x").status(),
        store_->ReadRange("nope/x", 0, 1).status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(status.message(), HasSubstr(root_ + "/nope/x"));
  }
}

TEST_F(LocalObjectStoreTest, InvalidKeysAreRejectedByEveryOperation) {
  EXPECT_EQ(store_->Write("../escape", "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Read("/etc/passwd").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->NewWriter("a//b").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Delete("..").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->DeletePrefix("a/../..").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->List("../").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Publish("a", "../b").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(fs::path(root_).parent_path() / "escape"));
}

TEST_F(LocalObjectStoreTest, WriterIsInvisibleUntilClose) {
  absl::StatusOr<std::unique_ptr<ObjectWriter>> writer = store_->NewWriter("dir/obj");
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->Append("part1,").ok());
  ASSERT_TRUE((*writer)->Append("part2").ok());
  EXPECT_THAT(*store_->List(""), IsEmpty());
  EXPECT_EQ(store_->Read("dir/obj").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_EQ((*store_->Read("dir/obj"))->view(), "part1,part2");
  EXPECT_THAT(*store_->List(""), ElementsAre("dir/obj"));
  EXPECT_THAT(AllFiles(), ElementsAre("obj"));
  EXPECT_FALSE((*writer)->Append("more").ok());
}

TEST_F(LocalObjectStoreTest, AbandonedWriterLeavesNothing) {
  ASSERT_TRUE(store_->Write("dir/obj", "old").ok());
  {
    absl::StatusOr<std::unique_ptr<ObjectWriter>> writer = store_->NewWriter("dir/obj");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append("new data that is never committed").ok());
    EXPECT_EQ(AllFiles().size(), 2u);  // The object and the temporary file.
  }
  EXPECT_EQ((*store_->Read("dir/obj"))->view(), "old");
  EXPECT_THAT(AllFiles(), ElementsAre("obj"));
}

TEST_F(LocalObjectStoreTest, ListIsSortedRecursiveAndFiltersByPrefix) {
  for (const char* key : {"b/2", "a/z/deep", "a/1", "ab", "c"}) {
    ASSERT_TRUE(store_->Write(key, key).ok());
  }
  EXPECT_THAT(*store_->List(""), ElementsAre("a/1", "a/z/deep", "ab", "b/2", "c"));
  EXPECT_THAT(*store_->List("a"), ElementsAre("a/1", "a/z/deep", "ab"));
  EXPECT_THAT(*store_->List("a/"), ElementsAre("a/1", "a/z/deep"));
  EXPECT_THAT(*store_->List("a/z"), ElementsAre("a/z/deep"));
  EXPECT_THAT(*store_->List("missing/"), IsEmpty());
}

TEST_F(LocalObjectStoreTest, ListOfStoreWithoutFolderIsEmpty) {
  EXPECT_THAT(*store_->List(""), IsEmpty());
}

TEST_F(LocalObjectStoreTest, DeleteAndDeletePrefix) {
  for (const char* key : {"job/a", "job/sub/b", "jobs/c", "other"}) {
    ASSERT_TRUE(store_->Write(key, "x").ok());
  }
  ASSERT_TRUE(store_->Delete("other").ok());
  ASSERT_TRUE(store_->Delete("other").ok());  // Already gone: not an error.
  ASSERT_TRUE(store_->DeletePrefix("job").ok());
  EXPECT_THAT(*store_->List(""), ElementsAre("jobs/c"));
  ASSERT_TRUE(store_->DeletePrefix("never").ok());
}

TEST_F(LocalObjectStoreTest, PublishMovesTheWholeTree) {
  ASSERT_TRUE(store_->Write("staging/run1/a", "A").ok());
  ASSERT_TRUE(store_->Write("staging/run1/sub/b", "B").ok());
  ASSERT_TRUE(store_->Publish("staging/run1", "final/run1").ok());
  EXPECT_THAT(*store_->List(""), ElementsAre("final/run1/a", "final/run1/sub/b"));
  EXPECT_EQ((*store_->Read("final/run1/sub/b"))->view(), "B");
}

TEST_F(LocalObjectStoreTest, PublishRefusesExistingTargetAndMissingSource) {
  ASSERT_TRUE(store_->Write("staging/a", "new").ok());
  ASSERT_TRUE(store_->Write("final/a", "old").ok());
  absl::Status status = store_->Publish("staging", "final");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr(root_ + "/final"));
  EXPECT_EQ((*store_->Read("final/a"))->view(), "old");
  EXPECT_EQ((*store_->Read("staging/a"))->view(), "new");

  status = store_->Publish("missing", "elsewhere");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(root_ + "/missing"));
}

TEST_F(LocalObjectStoreTest, StoreFactoryOpensLocalPathsAndReadsUris) {
  ASSERT_TRUE(store_->Write("tokens.bin", "abcd").ok());
  for (const std::string& uri : {root_, "file://" + root_}) {
    absl::StatusOr<ObjectStorePtr> store = OpenStore(uri);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*(*store)->Read("tokens.bin"))->view(), "abcd");
  }
  EXPECT_EQ((*ReadUri(root_ + "/tokens.bin"))->view(), "abcd");
  EXPECT_EQ((*ReadUri("file://" + root_ + "/tokens.bin"))->view(), "abcd");
  EXPECT_EQ(ReadUri(root_ + "/missing").status().code(), absl::StatusCode::kNotFound);
}

TEST(StoreFactoryTest, RejectsUnsupportedSchemes) {
  EXPECT_EQ(OpenStore("gs://bucket").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenStore("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenStore("file://").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StoreFactoryTest, SplitUriLeaf) {
  auto split = [](std::string_view uri) {
    absl::StatusOr<UriLeaf> leaf = SplitUriLeaf(uri);
    return leaf.ok() ? leaf->parent + "|" + leaf->name : std::string("error");
  };
  EXPECT_EQ(split("a/b/c.bin"), "a/b|c.bin");
  EXPECT_EQ(split("c.bin"), ".|c.bin");
  EXPECT_EQ(split("/c.bin"), "/|c.bin");
  EXPECT_EQ(split("file:///data/c.bin"), "file:///data|c.bin");
  EXPECT_EQ(split("file:///c.bin"), "file:///|c.bin");
  EXPECT_EQ(split("s3://bucket/p/c.bin"), "s3://bucket/p|c.bin");
  EXPECT_EQ(split("s3://bucket"), "error");
  EXPECT_EQ(split("a/b/"), "error");
  EXPECT_EQ(split(""), "error");
}

TEST(StoreFactoryTest, JoinUri) {
  EXPECT_EQ(JoinUri("s3://b/p", "x/y"), "s3://b/p/x/y");
  EXPECT_EQ(JoinUri("/data/", "x"), "/data/x");
  EXPECT_EQ(JoinUri("/data", ""), "/data");
}

TEST(Sha256Test, MatchesKnownDigestsAndStreams) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 hasher;
  hasher.Update("a");
  hasher.Update("bc");
  EXPECT_EQ(hasher.FinishHex(), Sha256Hex("abc"));
}

}  // namespace
}  // namespace sr2
