#include "common/tensor/dtype.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sr2 {
namespace {

struct DTypeEntry {
  DType dtype;
  std::string_view name;
  size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::kF64, "F64", 8},   {DType::kF32, "F32", 4}, {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2}, {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},   {DType::kI8, "I8", 1},   {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
};

const DTypeEntry& EntryOf(DType dtype) {
  for (const DTypeEntry& entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  return kDTypes[0];  // Unreachable: every enumerator is listed.
}

uint32_t FloatBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits;
}

float BitsToFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// Drops the low `shift` bits of `value`, rounding to nearest with ties to even.
uint32_t ShiftRightRoundEven(uint32_t value, int shift) {
  const uint32_t kept = value >> shift;
  const uint32_t rest = value & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  return kept + ((rest > half || (rest == half && (kept & 1))) ? 1 : 0);
}

}  // namespace

std::string_view DTypeName(DType dtype) { return EntryOf(dtype).name; }

absl::StatusOr<DType> ParseDType(std::string_view name) {
  for (const DTypeEntry& entry : kDTypes) {
    if (entry.name == name) return entry.dtype;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown dtype \"", std::string(name), "\""));
}

size_t DTypeSize(DType dtype) { return EntryOf(dtype).size; }

bool IsFloat(DType dtype) {
  return dtype == DType::kF64 || dtype == DType::kF32 || dtype == DType::kF16 ||
         dtype == DType::kBF16;
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  const uint32_t mantissa = h & 0x3ff;
  if (exponent == 0x1f) return BitsToFloat(sign | 0x7f800000 | (mantissa << 13));
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  return BitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t FloatToHalf(float f) {
  const uint32_t bits = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude > 0x7f800000) {
    // NaN: keep the top payload bits; make sure the result is still a NaN.
    const uint16_t payload = static_cast<uint16_t>((magnitude >> 13) & 0x3ff);
    return sign | 0x7c00 | (payload != 0 ? payload : 0x200);
  }
  // 65520 is the midpoint between 65504 (largest half, odd mantissa) and 2^16: ties go to inf.
  if (magnitude >= 0x477ff000) return sign | 0x7c00;
  if (magnitude >= 0x38800000) {
    // Normal half: rebias the exponent (127 - 15 = 112); a mantissa carry bumps the exponent.
    return sign | static_cast<uint16_t>(ShiftRightRoundEven(magnitude - 0x38000000, 13));
  }
  // Subnormal half (units of 2^-24). Below 2^-25 everything rounds to zero.
  if (magnitude < 0x33000000) return sign;
  const int exponent = static_cast<int>(magnitude >> 23);
  const uint32_t mantissa = (magnitude & 0x7fffff) | 0x800000;
  return sign | static_cast<uint16_t>(ShiftRightRoundEven(mantissa, 126 - exponent));
}

float BFloat16ToFloat(uint16_t b) { return BitsToFloat(static_cast<uint32_t>(b) << 16); }

uint16_t FloatToBFloat16(float f) {
  const uint32_t bits = FloatBits(f);
  if ((bits & 0x7fffffff) > 0x7f800000) {
    const uint16_t high = static_cast<uint16_t>(bits >> 16);
    // A payload only in the dropped bits would turn the NaN into an infinity.
    return (high & 0x7f) != 0 ? high : static_cast<uint16_t>(high | 0x40);
  }
  return static_cast<uint16_t>(ShiftRightRoundEven(bits, 16));
}

}  // namespace sr2
