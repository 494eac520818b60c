#include "server/profile_planner.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sr2::server {
namespace {

std::string TaskName(int candidate, int batch, const std::string& phase, int block) {
  return absl::StrFormat("profile-c%d-b%d-%s-%05d", candidate, batch, phase, block);
}

}  // namespace

int ProfileBatchCount(const v1::JobSpec& spec) {
  if (spec.profile_batch_size() < 1) return 0;
  return (spec.profile_nsamples() + spec.profile_batch_size() - 1) / spec.profile_batch_size();
}

absl::StatusOr<std::vector<ProfileTask>> PlanProfileTasks(const v1::JobSpec& spec,
                                                          const std::vector<LinearLayer>& layers,
                                                          int num_blocks) {
  const int per_task = spec.profile_blocks_per_task();
  if (per_task < 1 || spec.profile_batch_size() < 1 || spec.profile_nsamples() < 1 ||
      spec.candidates_size() < 1 || num_blocks < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DeltaLoss profile needs positive blocks per task (", per_task, "), batch size (",
        spec.profile_batch_size(), "), samples (", spec.profile_nsamples(), "), candidates (",
        spec.candidates_size(), ") and blocks (", num_blocks, ")"));
  }
  if (layers.empty()) return absl::InvalidArgumentError("DeltaLoss profile: no layers to score");
  int first_target = num_blocks;
  for (const LinearLayer& l : layers) first_target = std::min(first_target, l.block);

  std::vector<std::pair<int, int>> ranges;  // [begin, end)
  for (int b = 0; b < num_blocks; b += per_task) {
    ranges.emplace_back(b, std::min(num_blocks, b + per_task));
  }

  std::vector<ProfileTask> tasks;
  for (int c = 0; c < spec.candidates_size(); ++c) {
    for (int k = 0; k < ProfileBatchCount(spec); ++k) {
      auto add = [&](v1::ProfilePhase phase, const std::string& phase_name, int begin, int end,
                     std::optional<std::string> dep) {
        ProfileTask& t = tasks.emplace_back();
        t.name = TaskName(c, k, phase_name, begin);
        t.task.set_kind(v1::TASK_KIND_PROFILE);
        t.task.set_profile_phase(phase);
        t.task.set_candidate_index(c);
        t.task.set_batch_index(k);
        t.task.set_block_index(begin);
        t.task.set_block_end(end);
        for (const LinearLayer& l : layers) {
          if (l.block < begin || l.block >= end) continue;
          v1::LayerAssignment* a = t.task.add_layers();
          a->set_name(l.name);
          *a->mutable_scheme() = spec.candidates(c);
        }
        if (dep) t.deps.push_back(*dep);
        return t.name;
      };
      std::optional<std::string> previous;
      for (const auto& [begin, end] : ranges) {
        previous = add(v1::PROFILE_PHASE_FORWARD, "fwd", begin, end, previous);
      }
      previous = add(v1::PROFILE_PHASE_HEAD, "head", num_blocks, num_blocks, previous);
      for (auto it = ranges.rbegin(); it != ranges.rend() && it->second > first_target; ++it) {
        previous = add(v1::PROFILE_PHASE_BACKWARD, "bwd", it->first, it->second, previous);
      }
    }
  }
  return tasks;
}

absl::StatusOr<std::map<std::string, std::vector<double>>> SumProfileScores(
    const v1::JobSpec& spec, const std::vector<LinearLayer>& layers,
    const std::vector<FinishedTask>& done) {
  const int candidates = spec.candidates_size();
  const int batches = ProfileBatchCount(spec);
  // per_batch[layer][c][k]; nullopt until reported.
  std::map<std::string, std::vector<std::vector<std::optional<double>>>> per_batch;
  for (const LinearLayer& l : layers) {
    per_batch[l.name].assign(candidates, std::vector<std::optional<double>>(batches));
  }
  for (const auto& [task, output] : done) {
    if (task->kind() != v1::TASK_KIND_PROFILE ||
        task->profile_phase() != v1::PROFILE_PHASE_BACKWARD) {
      continue;
    }
    const int c = task->candidate_index(), k = task->batch_index();
    for (const auto& [name, score] : output->layer_scores()) {
      auto it = per_batch.find(name);
      if (it == per_batch.end() || c < 0 || c >= candidates || k < 0 || k >= batches ||
          it->second[c][k].has_value()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "DeltaLoss task ", task->task_id(), " reported an unexpected or repeated score for ",
            name, " (candidate ", c, ", batch ", k, ")"));
      }
      it->second[c][k] = score;
    }
  }
  std::map<std::string, std::vector<double>> scores;
  for (const auto& [name, rows] : per_batch) {
    std::vector<double>& sums = scores[name];
    for (int c = 0; c < candidates; ++c) {
      double sum = 0;
      for (int k = 0; k < batches; ++k) {
        if (!rows[c][k].has_value()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "no DeltaLoss score for ", name, " (candidate ", c, ", batch ", k, ")"));
        }
        sum += *rows[c][k];
      }
      sums.push_back(sum);
    }
  }
  return scores;
}

}  // namespace sr2::server
