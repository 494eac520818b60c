#include "client/job_format.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/allocation_format.h"
#include "client/spec_names.h"
#include "client/text_columns.h"

namespace sr2 {
namespace {

// Keys stay in the order written: id and state first for people reading the output.
using json = nlohmann::ordered_json;

json TimeOrNull(int64_t unix_ms) {
  return unix_ms > 0 ? json(FormatUnixMs(unix_ms)) : json(nullptr);
}

json SpecToJson(const v1::JobSpec& spec) {
  json candidates = json::array();
  for (const v1::QuantScheme& c : spec.candidates()) candidates.push_back(QuantSchemeName(c));
  return {{"model_uri", spec.model_uri()},
          {"out_uri", spec.out_uri()},
          {"calib_uri", spec.calib_uri()},
          {"eval_uri", spec.eval_uri()},
          {"scheme", QuantSchemeName(spec.scheme())},
          {"sym", spec.scheme().sym()},
          {"algorithm", AlgorithmName(spec.algorithm())},
          {"format", OutputFormatName(spec.format())},
          {"input_mode", InputModeName(spec.input_mode())},
          {"nsamples", spec.nsamples()},
          {"seqlen", spec.seqlen()},
          {"iters", spec.iters()},
          {"eval_seqlen", spec.eval_seqlen()},
          {"batch_size", spec.batch_size()},
          {"lr", spec.lr()},
          {"seed", spec.seed()},
          {"preset", spec.preset()},
          {"avg_bits", spec.avg_bits()},
          {"candidates", std::move(candidates)},
          {"ignore_scale_zp_bits", spec.ignore_scale_zp_bits()},
          {"share_fused_layers", spec.share_fused_layers()},
          {"profile_nsamples", spec.profile_nsamples()},
          {"profile_seqlen", spec.profile_seqlen()},
          {"profile_batch_size", spec.profile_batch_size()},
          {"profile_blocks_per_task", spec.profile_blocks_per_task()}};
}

json ResultToJson(const v1::JobResult& result) {
  json layers = json::array();
  for (const v1::LayerResult& layer : result.layers()) {
    layers.push_back({{"name", layer.name()},
                      {"quantized", layer.quantized()},
                      {"scheme", layer.quantized() ? QuantSchemeName(layer.scheme()) : ""},
                      {"reason", layer.reason()},
                      {"loss", layer.loss()},
                      {"numel", layer.numel()}});
  }
  return {{"output_uri", result.output_uri()},
          {"perplexity", result.has_perplexity() ? json(result.perplexity()) : json(nullptr)},
          {"avg_bits", result.avg_bits()},
          {"eval_targets", result.eval_targets()},
          {"unquantized_layers", std::vector<std::string>(result.unquantized_layers().begin(),
                                                          result.unquantized_layers().end())},
          {"layers", std::move(layers)},
          {"manifest_sha256", result.manifest_sha256()}};
}

std::string Percent(double progress) {
  return absl::StrFormat("%d%%", static_cast<int>(std::floor(std::clamp(progress, 0.0, 1.0) * 100)));
}

// The progress entry of the job's current stage, if the coordinator reported one.
const v1::StageProgress* CurrentStage(const v1::Job& job) {
  for (const v1::StageProgress& s : job.stages()) {
    if (s.stage() == job.stage()) return &s;
  }
  return nullptr;
}

// "quantize 3/8", or just "quantize" before the stage has a task count.
std::string StageWithCount(const v1::Job& job) {
  std::string stage = StageName(job.stage());
  const v1::StageProgress* current = CurrentStage(job);
  if (stage.empty() || current == nullptr || current->total() <= 0) return stage;
  return absl::StrCat(stage, " ", current->done(), "/", current->total());
}

// Compact age for lists: "42s", "12m", "5h", "3d".
std::string FormatAge(int64_t ms) {
  int64_t s = std::max<int64_t>(ms, 0) / 1000;
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrCat(s / 60, "m");
  if (s < 86400) return absl::StrCat(s / 3600, "h");
  return absl::StrCat(s / 86400, "d");
}

std::string DurationBetween(int64_t start_ms, int64_t end_ms) {
  return FormatDuration(static_cast<double>(end_ms - start_ms) / 1000.0);
}

}  // namespace

bool IsTerminal(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
         state == v1::JOB_STATE_CANCELLED;
}

std::string FormatDuration(double seconds) {
  if (!(seconds >= 0)) return "unknown";
  int64_t s = static_cast<int64_t>(std::nearbyint(seconds));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

std::string FormatUnixMs(int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json JobToJson(const v1::Job& job) {
  json stages = json::array();
  for (const v1::StageProgress& s : job.stages()) {
    stages.push_back({{"stage", StageName(s.stage())},
                      {"done", s.done()},
                      {"total", s.total()},
                      {"elapsed_seconds", s.elapsed_seconds()}});
  }
  const v1::JobResult& result = job.result();
  json out = {{"id", job.id()},
               {"state", JobStateName(job.state())},
               {"stage", StageName(job.stage())},
               {"error", job.error()},
               {"waiting_reason", job.waiting_reason()},
               {"output_uri", result.output_uri()},
               {"perplexity", result.has_perplexity() ? json(result.perplexity()) : json(nullptr)},
               {"progress", job.progress()},
               {"eta_seconds", job.eta_seconds() >= 0 ? json(job.eta_seconds()) : json(nullptr)},
               {"stages", std::move(stages)},
               {"spec", SpecToJson(job.spec())},
               {"result", ResultToJson(result)},
               {"create_time", TimeOrNull(job.create_time_ms())},
               {"start_time", TimeOrNull(job.start_time_ms())},
               {"end_time", TimeOrNull(job.end_time_ms())}};
  if (result.has_allocation()) {
    out["allocation"] = AllocationToJson(result.allocation(), job.spec().candidates());
  }
  return out;
}

std::string JobTable(const v1::Job& job) {
  const v1::JobSpec& spec = job.spec();
  const v1::JobResult& result = job.result();
  std::vector<std::vector<std::string>> rows;
  auto add = [&rows](std::string key, std::string value) {
    if (!value.empty()) rows.push_back({std::move(key), std::move(value)});
  };
  add("Job:", job.id());
  std::string state = JobStateName(job.state());
  if (job.stage() != v1::STAGE_UNSPECIFIED) absl::StrAppend(&state, " (", StageWithCount(job), ")");
  add("State:", state);
  std::string progress = Percent(job.progress());
  if (!IsTerminal(job.state())) absl::StrAppend(&progress, ", ETA ", FormatDuration(job.eta_seconds()));
  add("Progress:", progress);
  add("Waiting:", job.waiting_reason());
  add("Model:", spec.model_uri());
  add("Output:", spec.out_uri());
  add("Calib:", spec.calib_uri());
  add("Eval:", spec.eval_uri());
  std::vector<std::string> settings;
  if (spec.scheme().bits() > 0) {
    settings.push_back(absl::StrCat(QuantSchemeName(spec.scheme()),
                                    spec.scheme().sym() ? " sym" : " asym"));
  }
  for (const auto& [name, value] :
       {std::pair<const char*, std::string>{"algorithm ", AlgorithmName(spec.algorithm())},
        {"format ", OutputFormatName(spec.format())},
        {"input ", InputModeName(spec.input_mode())}}) {
    if (!value.empty()) settings.push_back(name + value);
  }
  add("Quantize:", absl::StrJoin(settings, ", "));
  // lr 0 means 1/iters (job_service.proto).
  std::string lr = spec.lr() > 0 ? absl::StrFormat("%g", spec.lr()) : "1/iters";
  add("Tuning:", absl::StrFormat("nsamples %d, seqlen %d, iters %d, batch %d, lr %s, seed %d",
                                 spec.nsamples(), spec.seqlen(), spec.iters(), spec.batch_size(),
                                 lr, spec.seed()));
  if (job.create_time_ms() > 0) add("Created:", FormatUnixMs(job.create_time_ms()));
  if (job.start_time_ms() > 0) add("Started:", FormatUnixMs(job.start_time_ms()));
  if (job.end_time_ms() > 0) {
    std::string ended = FormatUnixMs(job.end_time_ms());
    if (job.start_time_ms() > 0) {
      absl::StrAppend(&ended, " (ran ", DurationBetween(job.start_time_ms(), job.end_time_ms()), ")");
    }
    add("Ended:", ended);
  }
  add("Written:", result.output_uri());
  if (result.has_perplexity()) {
    add("Perplexity:", absl::StrFormat("%.4f (%d tokens)", result.perplexity(),
                                       result.eval_targets()));
  }
  if (result.avg_bits() > 0) add("Avg bits:", absl::StrFormat("%.4f", result.avg_bits()));
  if (result.layers_size() > 0) {
    int quantized = static_cast<int>(std::count_if(
        result.layers().begin(), result.layers().end(),
        [](const v1::LayerResult& l) { return l.quantized(); }));
    add("Layers:", absl::StrCat(quantized, " quantized, ", result.layers_size() - quantized,
                                " kept (details: sr2ctl describe)"));
  }
  add("Unquantized:", absl::StrJoin(result.unquantized_layers(), ", "));
  add("Error:", job.error());
  std::string out = RenderColumns(rows);
  if (job.stages_size() > 0) {
    std::vector<std::vector<std::string>> stage_rows = {{"STAGE", "DONE", "ELAPSED"}};
    for (const v1::StageProgress& s : job.stages()) {
      stage_rows.push_back({StageName(s.stage()), absl::StrCat(s.done(), "/", s.total()),
                            FormatDuration(s.elapsed_seconds())});
    }
    absl::StrAppend(&out, "Stages:\n", RenderColumns(stage_rows, 2));
  }
  return out;
}

std::string JobListTable(const std::vector<v1::Job>& jobs, int64_t now_unix_ms) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATE", "STAGE", "PROGRESS", "MODEL", "AGE"}};
  for (const v1::Job& job : jobs) {
    rows.push_back({job.id(), JobStateName(job.state()), StageWithCount(job),
                    Percent(job.progress()), job.spec().model_uri(),
                    job.create_time_ms() > 0 ? FormatAge(now_unix_ms - job.create_time_ms())
                                             : "-"});
  }
  return RenderColumns(rows);
}

std::string ProgressLine(const v1::Job& job) {
  std::vector<std::string> parts = {job.id(), JobStateName(job.state())};
  std::string stage = StageWithCount(job);
  if (!stage.empty()) parts.push_back(stage);
  if (job.state() == v1::JOB_STATE_RUNNING || IsTerminal(job.state())) {
    parts.push_back(Percent(job.progress()));
  }
  if (job.state() == v1::JOB_STATE_RUNNING) {
    parts.push_back(absl::StrCat("ETA ", FormatDuration(job.eta_seconds())));
  }
  return absl::StrJoin(parts, "  ");
}

std::string JobSummary(const v1::Job& job) {
  const v1::JobResult& result = job.result();
  std::string out = absl::StrCat("job ", job.id(), " ", JobStateName(job.state()));
  if (job.start_time_ms() > 0 && job.end_time_ms() >= job.start_time_ms()) {
    absl::StrAppend(&out, " in ", DurationBetween(job.start_time_ms(), job.end_time_ms()));
  }
  absl::StrAppend(&out, "\n");
  if (!result.output_uri().empty()) absl::StrAppend(&out, "  output:     ", result.output_uri(), "\n");
  if (result.avg_bits() > 0) {
    absl::StrAppend(&out, absl::StrFormat("  avg bits:   %.4f\n", result.avg_bits()));
  }
  if (result.has_perplexity()) {
    absl::StrAppend(&out, absl::StrFormat("  perplexity: %.4f\n", result.perplexity()));
  }
  if (!job.error().empty()) absl::StrAppend(&out, "  error:      ", job.error(), "\n");
  return out;
}

}  // namespace sr2
