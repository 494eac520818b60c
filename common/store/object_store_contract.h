// The read/write contract every ObjectStore keeps, checked the same way for each
// implementation's tests (local folder, S3).
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/store/object_store.h"

namespace sr2::testing {

// Writes "hello world" at `key`, then checks Read, Size and ReadRange, including the ranges
// that are out of range and must say so naming the key.
inline void ExpectWriteReadSizeAndRange(ObjectStore& store, const std::string& key) {
  ASSERT_TRUE(store.Write(key, "hello world").ok());
  absl::StatusOr<BlobPtr> blob = store.Read(key);
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ((*blob)->view(), "hello world");
  EXPECT_EQ(*store.Size(key), 11u);
  EXPECT_EQ(*store.ReadRange(key, 6, 5), "world");
  EXPECT_EQ(*store.ReadRange(key, 0, 1), "h");
  EXPECT_EQ(*store.ReadRange(key, 11, 0), "");

  absl::StatusOr<std::string> past_end = store.ReadRange(key, 6, 6);
  EXPECT_EQ(past_end.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(past_end.status().message(), ::testing::HasSubstr(key.substr(key.rfind('/') + 1)));
  EXPECT_EQ(store.ReadRange(key, 11, 1).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(store.ReadRange(key, 12, 0).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(store.ReadRange(key, 1, ~0ull).status().code(), absl::StatusCode::kOutOfRange);
}

}  // namespace sr2::testing
