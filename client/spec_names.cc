#include "client/spec_names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/quant/checkpoint_export.h"
#include "common/quant/scheme.h"
#include "common/util/status_macros.h"

namespace sr2 {

std::string AlgorithmName(v1::Algorithm a) {
  switch (a) {
    case v1::ALGORITHM_RTN:
      return "rtn";
    case v1::ALGORITHM_SIGNROUND:
      return "signround";
    case v1::ALGORITHM_SIGNROUNDV2:
      return "signroundv2";
    default:
      return "";
  }
}

absl::StatusOr<v1::Algorithm> ParseAlgorithm(std::string_view std_name) {
  absl::string_view name(std_name.data(), std_name.size());
  for (v1::Algorithm a :
       {v1::ALGORITHM_RTN, v1::ALGORITHM_SIGNROUND, v1::ALGORITHM_SIGNROUNDV2}) {
    if (absl::EqualsIgnoreCase(name, AlgorithmName(a))) return a;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown algorithm '", name, "' (expected rtn, signround or signroundv2)"));
}

std::string OutputFormatName(v1::OutputFormat f) {
  switch (f) {
    case v1::FORMAT_FAKE:
      return std::string(ExportFormatName(ExportFormat::kFake));
    case v1::FORMAT_AUTO_ROUND:
      return std::string(ExportFormatName(ExportFormat::kAutoRound));
    case v1::FORMAT_AUTO_GPTQ:
      return std::string(ExportFormatName(ExportFormat::kAutoGptq));
    default:
      return "";
  }
}

absl::StatusOr<v1::OutputFormat> ParseOutputFormat(std::string_view name) {
  SR2_ASSIGN_OR_RETURN(ExportFormat format, ParseExportFormat(name));
  switch (format) {
    case ExportFormat::kFake:
      return v1::FORMAT_FAKE;
    case ExportFormat::kAutoRound:
      return v1::FORMAT_AUTO_ROUND;
    case ExportFormat::kAutoGptq:
      return v1::FORMAT_AUTO_GPTQ;
  }
  return absl::InternalError("unhandled export format");
}

std::string InputModeName(v1::InputMode m) {
  switch (m) {
    case v1::INPUT_MODE_QUANTIZED:
      return "quantized";
    case v1::INPUT_MODE_FP:
      return "fp";
    default:
      return "";
  }
}

absl::StatusOr<v1::InputMode> ParseInputMode(std::string_view std_name) {
  absl::string_view name(std_name.data(), std_name.size());
  for (v1::InputMode m : {v1::INPUT_MODE_QUANTIZED, v1::INPUT_MODE_FP}) {
    if (absl::EqualsIgnoreCase(name, InputModeName(m))) return m;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown input mode '", name, "' (expected quantized or fp)"));
}

std::string JobStateName(v1::JobState s) {
  return std::string(absl::StripPrefix(v1::JobState_Name(s), "JOB_STATE_"));
}

std::string StageName(v1::Stage s) {
  if (s == v1::STAGE_UNSPECIFIED) return "";
  return absl::AsciiStrToLower(absl::StripPrefix(v1::Stage_Name(s), "STAGE_"));
}

std::string QuantSchemeName(const v1::QuantScheme& s) {
  if (s.bits() == 0) return "";
  return SchemeName(Scheme{s.bits(), s.group_size(), s.sym()});
}

}  // namespace sr2
