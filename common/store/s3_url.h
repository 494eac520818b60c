// URL encoding for S3 requests. libcurl 7.88 signs the path and query exactly as written
// (CURLOPT_AWS_SIGV4 does not canonicalise them), so URLs must be built in SigV4 canonical form.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace sr2 {

// Percent-encodes every byte except A-Za-z0-9-_.~ (and '/' when `keep_slash`), as SigV4 does.
std::string AwsPercentEncode(std::string_view text, bool keep_slash);

// "name=value&..." sorted by name (then value), names and values AWS-encoded. Valueless
// sub-resources are written "uploads=", which is how S3 canonicalises them.
using QueryParams = std::vector<std::pair<std::string, std::string>>;
std::string CanonicalQuery(QueryParams params);

// Decodes %XX escapes and '+' (a space), the form of keys listed with encoding-type=url.
// InvalidArgument for a truncated or non-hex escape.
absl::StatusOr<std::string> UrlDecode(std::string_view text);

}  // namespace sr2
