// The names sr2ctl shows and accepts for the sr2.v1 enums ("signroundv2", "RUNNING", "quantize").
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sr2/v1/common.pb.h"

namespace sr2 {

// "rtn", "signround", "signroundv2"; "" for UNSPECIFIED.
std::string AlgorithmName(v1::Algorithm a);
absl::StatusOr<v1::Algorithm> ParseAlgorithm(std::string_view name);

// The export format names of common/quant/checkpoint_export.h; "" for UNSPECIFIED.
std::string OutputFormatName(v1::OutputFormat f);
absl::StatusOr<v1::OutputFormat> ParseOutputFormat(std::string_view name);

// "quantized", "fp"; "" for UNSPECIFIED.
std::string InputModeName(v1::InputMode m);
absl::StatusOr<v1::InputMode> ParseInputMode(std::string_view name);

// "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"; "UNSPECIFIED" otherwise.
std::string JobStateName(v1::JobState s);
// "inspect" ... "evaluate"; "" for UNSPECIFIED.
std::string StageName(v1::Stage s);

// "W4G128"; "" when the scheme has no bits (left to the coordinator's default).
std::string QuantSchemeName(const v1::QuantScheme& s);

}  // namespace sr2
