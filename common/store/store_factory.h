// Opening stores from URIs. A URI names a folder-like location: a plain path, file:///path or
// s3://bucket/prefix (configured from the environment, see s3_config.h). Objects are then
// addressed by keys relative to it.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/store/object_store.h"

namespace sr2 {

// A store rooted at `uri`. For local paths the folder need not exist yet (it is created on
// the first write). InvalidArgument for unsupported schemes.
absl::StatusOr<ObjectStorePtr> OpenStore(std::string_view uri);

// Splits "a/b/c.bin" into {"a/b", "c.bin"} (works for every scheme). InvalidArgument when the
// URI has no last segment.
struct UriLeaf {
  std::string parent;
  std::string name;
};
absl::StatusOr<UriLeaf> SplitUriLeaf(std::string_view uri);

// Reads the single object named by a file URI (e.g. a token file).
absl::StatusOr<BlobPtr> ReadUri(std::string_view uri);

// Appends a key to a store URI: JoinUri("s3://b/p", "x/y") == "s3://b/p/x/y".
std::string JoinUri(std::string_view uri, std::string_view key);

}  // namespace sr2
