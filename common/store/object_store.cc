#include "common/store/object_store.h"

#include <algorithm>
#include <string>

namespace sr2 {

absl::Status ValidateKey(std::string_view key) {
  auto invalid = [key](const std::string& why) {
    return absl::InvalidArgumentError("invalid object key \"" + std::string(key) + "\": " + why);
  };
  if (key.empty()) return invalid("empty");
  if (key.find('\0') != std::string_view::npos) return invalid("contains NUL");
  if (key.front() == '/') return invalid("absolute");
  size_t start = 0;
  while (start <= key.size()) {
    const size_t slash = std::min(key.find('/', start), key.size());
    const std::string_view segment = key.substr(start, slash - start);
    if (segment.empty()) return invalid("empty segment");
    if (segment == "." || segment == "..") {
      return invalid("\"" + std::string(segment) + "\" segment");
    }
    start = slash + 1;
  }
  return absl::OkStatus();
}

std::string JoinKey(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  std::string joined(a);
  joined += '/';
  joined += b;
  return joined;
}

absl::Status ValidateKeyPrefix(std::string_view prefix) {
  if (prefix.empty()) return absl::OkStatus();
  if (prefix.back() == '/') prefix.remove_suffix(1);
  return ValidateKey(prefix);
}

}  // namespace sr2
