#include "client/log_format.h"

#include "client/golden_file.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

constexpr int64_t kStart = 1714564800000;  // 2024-05-01T12:00:00Z

// A short job: one block granted, lost with its worker, retried and completed, then a failure.
std::vector<v1::JobLogEntry> Entries() {
  std::vector<v1::JobLogEntry> out;
  auto add = [&out](int64_t offset_ms, v1::JobLogKind kind, std::string message) {
    v1::JobLogEntry& e = out.emplace_back();
    e.set_seq(static_cast<int64_t>(out.size()));
    e.set_time_ms(kStart + offset_ms);
    e.set_kind(kind);
    e.set_message(std::move(message));
    return &e;
  };
  add(0, v1::JOB_LOG_KIND_SUBMITTED, "submitted: /models/m -> /out/q (W4G128 sym, signround)");
  add(40, v1::JOB_LOG_KIND_STAGE_STARTED, "stage quantize started (1 task)")
      ->set_stage(v1::STAGE_QUANTIZE);
  v1::JobLogEntry* granted = add(1000, v1::JOB_LOG_KIND_TASK_GRANTED,
                                 "task block-00000 granted to worker w-1 (attempt 1)");
  granted->set_task_id("job-1/block-00000");
  granted->set_worker_id("w-1");
  granted->set_attempt(1);
  v1::JobLogEntry* expired = add(
      17000, v1::JOB_LOG_KIND_LEASE_EXPIRED,
      "task block-00000: lease expired on worker w-1 (no heartbeat for 15000 ms) (attempt 1 of "
      "3); retrying");
  expired->set_task_id("job-1/block-00000");
  expired->set_worker_id("w-1");
  expired->set_attempt(1);
  expired->set_duration_seconds(16);
  expired->set_will_retry(true);
  add(99000, v1::JOB_LOG_KIND_JOB_FAILED,
      "job failed: task job-1/assemble failed: \"out\": disk full\n(details in the worker log)");
  return out;
}

std::string Render(OutputStyle style) {
  std::string out;
  for (const v1::JobLogEntry& e : Entries()) out += RenderLogEntry(e, style);
  return out;
}

TEST(LogFormatTest, TableMatchesGolden) { ExpectMatchesGolden(Render(OutputStyle::kTable), "logs.txt"); }

TEST(LogFormatTest, JsonLinesMatchGolden) {
  ExpectMatchesGolden(Render(OutputStyle::kJson), "logs.jsonl");
}

TEST(LogFormatTest, YamlSequenceMatchesGolden) {
  ExpectMatchesGolden(Render(OutputStyle::kYaml), "logs.yaml");
}

TEST(LogFormatTest, JsonHasEveryKey) {
  nlohmann::ordered_json j = LogEntryToJson(Entries()[3]);
  EXPECT_EQ(j["kind"], "lease_expired");
  EXPECT_EQ(j["time"], "2024-05-01T12:00:17Z");
  EXPECT_EQ(j["will_retry"], true);
  EXPECT_EQ(j["stage"], "");
  EXPECT_EQ(j.size(), 10u);
}

}  // namespace
}  // namespace sr2
