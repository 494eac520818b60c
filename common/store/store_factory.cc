#include "common/store/store_factory.h"

#include "absl/strings/str_cat.h"
#include "common/store/local_object_store.h"
#include "common/store/s3_object_store.h"
#include "common/util/status_macros.h"

namespace sr2 {
namespace {

constexpr std::string_view kFileScheme = "file://";
constexpr std::string_view kS3Scheme = "s3://";

// Length of "scheme://", or 0 for a plain path.
size_t SchemeLength(std::string_view uri) {
  const size_t pos = uri.find("://");
  return pos == std::string_view::npos ? 0 : pos + 3;
}

}  // namespace

absl::StatusOr<ObjectStorePtr> OpenStore(std::string_view uri) {
  if (uri.empty()) return absl::InvalidArgumentError("empty store URI");
  if (uri.rfind(kS3Scheme, 0) == 0) {
    SR2_ASSIGN_OR_RETURN(ObjectStorePtr store, S3ObjectStore::Open(uri));
    return store;
  }
  std::string_view path = uri;
  if (uri.rfind(kFileScheme, 0) == 0) {
    path.remove_prefix(kFileScheme.size());
    if (path.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("no path in URI ", std::string(uri)));
    }
  } else if (SchemeLength(uri) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported store URI scheme in ", std::string(uri)));
  }
  return LocalObjectStore::Create(std::string(path));
}

absl::StatusOr<UriLeaf> SplitUriLeaf(std::string_view uri) {
  const size_t body_start = SchemeLength(uri);
  const size_t slash = uri.rfind('/');
  if (slash == std::string_view::npos) {
    if (uri.empty()) return absl::InvalidArgumentError("empty URI has no last segment");
    return UriLeaf{".", std::string(uri)};
  }
  if (slash + 1 == uri.size() || slash < body_start) {
    return absl::InvalidArgumentError(
        absl::StrCat("URI ", std::string(uri), " has no last segment"));
  }
  // "/x" and "file:///x" keep the root slash in the parent.
  const size_t parent_length = slash == body_start ? slash + 1 : slash;
  return UriLeaf{std::string(uri.substr(0, parent_length)), std::string(uri.substr(slash + 1))};
}

absl::StatusOr<BlobPtr> ReadUri(std::string_view uri) {
  SR2_ASSIGN_OR_RETURN(UriLeaf leaf, SplitUriLeaf(uri));
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr store, OpenStore(leaf.parent));
  return store->Read(leaf.name);
}

std::string JoinUri(std::string_view uri, std::string_view key) {
  std::string joined(uri);
  if (!joined.empty() && !key.empty() && joined.back() != '/') joined += '/';
  joined += key;
  return joined;
}

}  // namespace sr2
