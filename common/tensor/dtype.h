// Element types of safetensors files and exact conversions between float formats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace sr2 {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// "F32", "BF16", ... as spelled in safetensors headers.
std::string_view DTypeName(DType dtype);
absl::StatusOr<DType> ParseDType(std::string_view name);
size_t DTypeSize(DType dtype);
bool IsFloat(DType dtype);

// IEEE binary16 / bfloat16 <-> float. Float -> 16-bit rounds to nearest, ties to even;
// NaN stays NaN. These are the only conversions used anywhere for 16-bit data.
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);
float BFloat16ToFloat(uint16_t b);
uint16_t FloatToBFloat16(float f);

// Rounds a float to the nearest fp16 value, returned as float (used for scales).
inline float RoundToHalf(float f) { return HalfToFloat(FloatToHalf(f)); }

}  // namespace sr2
