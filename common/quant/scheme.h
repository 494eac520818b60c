// Weight quantization schemes ("W4G128") and their bit accounting (algorithm.md §1.2, §3.2).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sr2 {

struct Scheme {
  int bits = 4;
  int group_size = 128;  // -1: one group per output row.
  bool sym = true;

  // Full-range symmetric: codes in [-N, N-1] with N = 2^(bits-1).
  int64_t n() const { return int64_t{1} << (bits - 1); }
  // Largest unsigned code: 2^bits - 1.
  int64_t qmax() const { return (int64_t{1} << bits) - 1; }
  bool operator==(const Scheme& o) const {
    return bits == o.bits && group_size == o.group_size && sym == o.sym;
  }
};

// Parses "W<bits>G<group>" (case-insensitive, group -1 allowed); bits must be 2, 3, 4 or 8 and
// the group -1 or >= 1. InvalidArgument with the accepted form otherwise. `sym` is set as given.
absl::StatusOr<Scheme> ParseScheme(std::string_view text, bool sym);
// "W4G128"
std::string SchemeName(const Scheme& s);
// InvalidArgument unless bits is 2, 3, 4 or 8 and the group -1 or >= 1.
absl::Status ValidateScheme(const Scheme& s);

// The group size actually used for a layer with `in_features` inputs: `in` for -1 and when
// in < group_size (auto-round falls back to per-row), else group_size.
int64_t EffectiveGroupSize(const Scheme& s, int64_t in_features);
// Groups per output row: ceil(in / effective group); the last group may be short.
int64_t GroupsPerRow(const Scheme& s, int64_t in_features);

// Bits a layer costs (§3.2): b*numel + n_groups*(16 + b), or b*numel when ignoring scale/zp.
int64_t LayerBits(const Scheme& s, int64_t out_features, int64_t in_features,
                  bool ignore_scale_zp_bits);

}  // namespace sr2
