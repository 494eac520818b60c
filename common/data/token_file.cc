#include "common/data/token_file.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/store/store_factory.h"
#include "common/util/status_macros.h"

namespace sr2 {

absl::StatusOr<std::vector<int32_t>> ParseTokenFile(std::string_view bytes, int vocab_size,
                                                    std::string_view source) {
  if (vocab_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(source), ": vocabulary size ", vocab_size, " is not positive"));
  }
  if (bytes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(source), ": file is empty"));
  }
  if (bytes.size() % sizeof(int32_t) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(source), ": size ", bytes.size(),
                     " bytes is not a multiple of 4 (int32 token ids)"));
  }
  std::vector<int32_t> tokens(bytes.size() / sizeof(int32_t));
  std::memcpy(tokens.data(), bytes.data(), bytes.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(source), ": token ", i, " has id ",
                                                     tokens[i], ", outside [0, ", vocab_size, ")"));
    }
  }
  return tokens;
}

absl::StatusOr<std::vector<int32_t>> ReadTokenFile(const std::string& uri, int vocab_size) {
  SR2_ASSIGN_OR_RETURN(BlobPtr blob, ReadUri(uri));
  return ParseTokenFile(blob->view(), vocab_size, uri);
}

absl::StatusOr<std::vector<std::vector<int32_t>>> TakeWindows(const std::vector<int32_t>& tokens,
                                                              int count, int seqlen,
                                                              std::string_view source) {
  if (count <= 0 || seqlen <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(source), ": window count ", count,
                                                   " and length ", seqlen, " must be positive"));
  }
  const uint64_t needed = static_cast<uint64_t>(count) * static_cast<uint64_t>(seqlen);
  if (tokens.size() < needed) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(source), ": ", count, " windows of ", seqlen, " tokens need ",
                     needed, " tokens, but the file holds only ", tokens.size()));
  }
  std::vector<std::vector<int32_t>> windows;
  windows.reserve(count);
  for (int i = 0; i < count; ++i) {
    auto begin = tokens.begin() + static_cast<ptrdiff_t>(i) * seqlen;
    windows.emplace_back(begin, begin + seqlen);
  }
  return windows;
}

absl::StatusOr<std::vector<std::vector<int32_t>>> AllWindows(const std::vector<int32_t>& tokens,
                                                             int seqlen, std::string_view source) {
  if (seqlen <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(source), ": window length ", seqlen, " must be positive"));
  }
  const size_t count = tokens.size() / static_cast<size_t>(seqlen);
  if (count == 0) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(source), ": holds ", tokens.size(),
                                                   " tokens, fewer than one window of ", seqlen));
  }
  return TakeWindows(tokens, static_cast<int>(count), seqlen, source);
}

}  // namespace sr2
