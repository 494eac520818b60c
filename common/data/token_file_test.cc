#include "common/data/token_file.h"

#include <string>
#include <vector>

#include "common/store/store_factory.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string RawTokens(const std::vector<int32_t>& ids) {
  return std::string(reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof(int32_t));
}

TEST(TokenFileTest, ParsesLittleEndianIds) {
  absl::StatusOr<std::vector<int32_t>> tokens = ParseTokenFile(RawTokens({1, 0, 511}), 512, "t");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_THAT(*tokens, ElementsAre(1, 0, 511));
}

TEST(TokenFileTest, RejectsBadSizes) {
  absl::Status status = ParseTokenFile(RawTokens({1, 2}) + "x", 512, "odd.i32").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("odd.i32: size 9 bytes is not a multiple of 4"));
  status = ParseTokenFile("", 512, "empty.i32").status();
  EXPECT_THAT(status.message(), HasSubstr("empty.i32: file is empty"));
  EXPECT_FALSE(ParseTokenFile(RawTokens({1}), 0, "t").ok());
}

TEST(TokenFileTest, RejectsIdsOutsideTheVocabulary) {
  absl::Status status = ParseTokenFile(RawTokens({1, 512}), 512, "ids.i32").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("ids.i32: token 1 has id 512, outside [0, 512)"));
  status = ParseTokenFile(RawTokens({-1}), 512, "ids.i32").status();
  EXPECT_THAT(status.message(), HasSubstr("token 0 has id -1"));
}

TEST(TokenFileTest, TakeWindowsSplitsWithoutOverlap) {
  const std::vector<int32_t> tokens = {0, 1, 2, 3, 4, 5, 6};
  absl::StatusOr<std::vector<std::vector<int32_t>>> windows = TakeWindows(tokens, 2, 3, "t");
  ASSERT_TRUE(windows.ok()) << windows.status();
  EXPECT_THAT(*windows, ElementsAre(ElementsAre(0, 1, 2), ElementsAre(3, 4, 5)));
  EXPECT_THAT(*AllWindows(tokens, 2, "t"),
              ElementsAre(ElementsAre(0, 1), ElementsAre(2, 3), ElementsAre(4, 5)));
}

TEST(TokenFileTest, TooFewTokensForWindows) {
  const std::vector<int32_t> tokens(10, 1);
  absl::Status status = TakeWindows(tokens, 3, 4, "short.i32").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("need 12 tokens, but the file holds only 10"));
  status = AllWindows(tokens, 11, "short.i32").status();
  EXPECT_THAT(status.message(), HasSubstr("holds 10 tokens, fewer than one window of 11"));
  EXPECT_FALSE(TakeWindows(tokens, 0, 4, "t").ok());
  EXPECT_FALSE(AllWindows(tokens, 0, "t").ok());
}

TEST(TokenFileTest, RealEvalTokensGive256WindowsOf256) {
  const std::string uri = "../shared/data/tinystories/eval.tokens.i32";
  absl::StatusOr<BlobPtr> blob = ReadUri(uri);
  ASSERT_TRUE(blob.ok()) << blob.status();
  absl::StatusOr<std::vector<int32_t>> tokens = ParseTokenFile((*blob)->view(), 512, uri);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  ASSERT_EQ(tokens->size(), 65536u);
  EXPECT_EQ((*tokens)[0], 1);  // Every story starts with BOS.
  absl::StatusOr<std::vector<std::vector<int32_t>>> windows = AllWindows(*tokens, 256, uri);
  ASSERT_TRUE(windows.ok()) << windows.status();
  ASSERT_EQ(windows->size(), 256u);
  for (size_t i = 0; i < windows->size(); ++i) {
    ASSERT_EQ((*windows)[i].size(), 256u);
    EXPECT_TRUE(std::equal((*windows)[i].begin(), (*windows)[i].end(), tokens->begin() + 256 * i));
  }
  EXPECT_FALSE(TakeWindows(*tokens, 257, 256, uri).ok());
}

}  // namespace
}  // namespace sr2
