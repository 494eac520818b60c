// Token files: raw little-endian int32 token ids, concatenated documents.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace sr2 {

// Parses token ids. InvalidArgument when the size is not a multiple of 4, the file is empty,
// or an id lies outside [0, vocab_size). `source` names the file in errors.
absl::StatusOr<std::vector<int32_t>> ParseTokenFile(std::string_view bytes, int vocab_size,
                                                    std::string_view source);

// Reads the token file at `uri` (path, file:// or s3://) and parses it as ParseTokenFile does.
absl::StatusOr<std::vector<int32_t>> ReadTokenFile(const std::string& uri, int vocab_size);

// The first `count` non-overlapping windows of `seqlen` tokens. InvalidArgument when the
// file holds fewer than count*seqlen tokens (the message gives both numbers).
absl::StatusOr<std::vector<std::vector<int32_t>>> TakeWindows(const std::vector<int32_t>& tokens,
                                                              int count, int seqlen,
                                                              std::string_view source);

// All full non-overlapping windows (evaluation protocol); at least one required.
absl::StatusOr<std::vector<std::vector<int32_t>>> AllWindows(const std::vector<int32_t>& tokens,
                                                             int seqlen, std::string_view source);

}  // namespace sr2
