#include "client/log_format.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "client/job_format.h"
#include "client/spec_names.h"
#include "client/yaml_format.h"

namespace sr2 {

nlohmann::ordered_json LogEntryToJson(const v1::JobLogEntry& entry) {
  return {{"seq", entry.seq()},
          {"time", FormatUnixMs(entry.time_ms())},
          {"kind", absl::AsciiStrToLower(
                       absl::StripPrefix(v1::JobLogKind_Name(entry.kind()), "JOB_LOG_KIND_"))},
          {"stage", StageName(entry.stage())},
          {"task_id", entry.task_id()},
          {"worker_id", entry.worker_id()},
          {"attempt", entry.attempt()},
          {"duration_seconds", entry.duration_seconds()},
          {"will_retry", entry.will_retry()},
          {"message", entry.message()}};
}

std::string RenderLogEntry(const v1::JobLogEntry& entry, OutputStyle style) {
  switch (style) {
    case OutputStyle::kJson:
      return LogEntryToJson(entry).dump() + "\n";
    case OutputStyle::kYaml:
      return ToYamlSequenceItem(LogEntryToJson(entry));
    default: {
      // A multi-line message (a worker's error) keeps its later lines under the first.
      const std::string time = FormatUnixMs(entry.time_ms());
      return absl::StrCat(time, "  ",
                          absl::StrReplaceAll(entry.message(),
                                              {{"\n", "\n" + std::string(time.size() + 2, ' ')}}),
                          "\n");
    }
  }
}

}  // namespace sr2
