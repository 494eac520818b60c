#include "common/quant/scheme.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sr2 {

absl::StatusOr<Scheme> ParseScheme(std::string_view text, bool sym) {
  const std::string given(text);
  const auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid scheme '", given, "': ", why,
                     " (expected W<bits>G<group> with bits 2, 3, 4 or 8 and group -1 or >= 1, "
                     "e.g. W4G128)"));
  };
  const std::string upper = absl::AsciiStrToUpper(given);
  const size_t g = upper.find('G');
  if (upper.empty() || upper[0] != 'W' || g == std::string::npos) {
    return invalid("not of the form W<bits>G<group>");
  }
  Scheme s;
  s.sym = sym;
  if (!absl::SimpleAtoi(absl::string_view(upper).substr(1, g - 1), &s.bits) ||
      !absl::SimpleAtoi(absl::string_view(upper).substr(g + 1), &s.group_size)) {
    return invalid("bits and group must be integers");
  }
  if (!ValidateScheme(s).ok()) return invalid("unsupported bits or group size");
  return s;
}

std::string SchemeName(const Scheme& s) { return absl::StrCat("W", s.bits, "G", s.group_size); }

absl::Status ValidateScheme(const Scheme& s) {
  if ((s.bits != 2 && s.bits != 3 && s.bits != 4 && s.bits != 8) ||
      (s.group_size != -1 && s.group_size < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported scheme ", SchemeName(s),
                                                   ": bits must be 2, 3, 4 or 8 and the group "
                                                   "-1 or >= 1"));
  }
  return absl::OkStatus();
}

int64_t EffectiveGroupSize(const Scheme& s, int64_t in_features) {
  if (s.group_size == -1 || in_features < s.group_size) return in_features;
  return s.group_size;
}

int64_t GroupsPerRow(const Scheme& s, int64_t in_features) {
  const int64_t g = EffectiveGroupSize(s, in_features);
  return (in_features + g - 1) / g;
}

int64_t LayerBits(const Scheme& s, int64_t out_features, int64_t in_features,
                  bool ignore_scale_zp_bits) {
  const int64_t numel = out_features * in_features;
  if (s.bits >= 16) return 16 * numel;
  if (ignore_scale_zp_bits) return s.bits * numel;
  // Every int scheme is charged a zero point, sym included (auto-round's accounting).
  return s.bits * numel + out_features * GroupsPerRow(s, in_features) * (16 + s.bits);
}

}  // namespace sr2
