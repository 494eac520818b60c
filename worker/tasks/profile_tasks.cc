#include "worker/tasks/profile_tasks.h"

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/data/token_file.h"
#include "common/store/store_factory.h"
#include "common/store/work_keys.h"
#include "common/util/status_macros.h"
#include "worker/model/llama_model.h"
#include "worker/quant/delta_loss.h"
#include "worker/tasks/activation_io.h"

namespace sr2::worker {
namespace {

// What every phase needs: the task's slice of the model and its place in the pipeline.
struct Stage {
  LlamaModel model;
  ObjectStorePtr work;
  int candidate = 0;
  int batch = 0;
  int begin = 0;  // Block range [begin, end); empty for the head.
  int end = 0;
  std::vector<std::vector<std::string>> targets;  // By block (TargetsByBlock).
};

absl::Status Invalid(const v1::Task& task, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("profile task ", task.task_id(), ": ", why));
}

absl::StatusOr<Stage> OpenStage(const v1::Task& task, const TaskContext& ctx) {
  const v1::JobSpec& spec = task.spec();
  const bool head = task.profile_phase() == v1::PROFILE_PHASE_HEAD;
  if (task.candidate_index() < 0 || task.candidate_index() >= spec.candidates_size()) {
    return Invalid(task, absl::StrCat("candidate index ", task.candidate_index(),
                                      " is out of range"));
  }
  if (spec.profile_batch_size() < 1 || task.batch_index() < 0 ||
      int64_t{task.batch_index()} * spec.profile_batch_size() >= spec.profile_nsamples()) {
    return Invalid(task, absl::StrCat("batch ", task.batch_index(), " of ",
                                      spec.profile_batch_size(), " windows is outside the ",
                                      spec.profile_nsamples(), " profile samples"));
  }
  if (!head && (task.block_index() < 0 || task.block_index() >= task.block_end() ||
                task.block_end() > task.num_blocks())) {
    return Invalid(task, absl::StrCat("block range [", task.block_index(), ", ",
                                      task.block_end(), ") is outside the model's ",
                                      task.num_blocks(), " blocks"));
  }
  ModelParts parts;
  parts.block_begin = head ? 0 : task.block_index();
  parts.block_end = head ? 0 : task.block_end();
  parts.embedding = task.profile_phase() == v1::PROFILE_PHASE_FORWARD && task.block_index() == 0;
  parts.head = head;
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr model_store, OpenStore(spec.model_uri()));
  SR2_ASSIGN_OR_RETURN(LlamaModel model,
                       LoadLlamaModel(model_store, torch::Device(ctx.device), parts));
  if (model.num_blocks() != task.num_blocks()) {
    return Invalid(task, absl::StrCat("the model has ", model.num_blocks(),
                                      " blocks, the job planned ", task.num_blocks()));
  }
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr work, OpenStore(task.work_uri()));
  Stage stage{std::move(model),    std::move(work),  task.candidate_index(),
              task.batch_index(),  parts.block_begin, parts.block_end, {}};
  std::vector<std::string> names;
  for (const v1::LayerAssignment& a : task.layers()) names.push_back(a.name());
  SR2_ASSIGN_OR_RETURN(stage.targets, TargetsByBlock(names, stage.model.num_blocks()));
  for (int b = 0; b < stage.model.num_blocks(); ++b) {
    if (!stage.targets[b].empty() && (b < stage.begin || b >= stage.end)) {
      return Invalid(task, absl::StrCat("target block ", b, " is outside the task's range"));
    }
  }
  return stage;
}

// The task's calibration batch: windows [batch * size, (batch + 1) * size) of the profile set.
absl::StatusOr<torch::Tensor> BatchTokens(const v1::JobSpec& spec, const Stage& stage) {
  SR2_ASSIGN_OR_RETURN(std::vector<int32_t> tokens,
                       ReadTokenFile(spec.calib_uri(), stage.model.config().vocab_size));
  SR2_ASSIGN_OR_RETURN(auto windows, TakeWindows(tokens, spec.profile_nsamples(),
                                                 spec.profile_seqlen(), spec.calib_uri()));
  SR2_RETURN_IF_ERROR(ValidateWindows(windows, stage.model.config().vocab_size));
  const size_t begin = static_cast<size_t>(stage.batch) * spec.profile_batch_size();
  const size_t end = std::min(windows.size(), begin + spec.profile_batch_size());
  return TokenBatch(windows, begin, end, stage.model.device());
}

Scheme CandidateScheme(const v1::Task& task) {
  const v1::QuantScheme& s = task.spec().candidates(task.candidate_index());
  return Scheme{s.bits(), s.group_size(), s.sym()};
}

absl::StatusOr<v1::TaskOutput> RunForward(const v1::Task& task, const Stage& stage,
                                          const TaskContext& ctx) {
  v1::TaskOutput output;
  auto save = [&](int block, const torch::Tensor& x) -> absl::Status {
    const std::string key = ProfileActivationKey(stage.candidate, stage.batch, block);
    SR2_RETURN_IF_ERROR(SaveActivation(*stage.work, key, x));
    output.add_written_keys(key);
    return absl::OkStatus();
  };
  torch::Tensor x;
  if (stage.begin == 0) {
    SR2_ASSIGN_OR_RETURN(torch::Tensor tokens, BatchTokens(task.spec(), stage));
    x = stage.model.Embed(tokens);
    SR2_RETURN_IF_ERROR(save(0, x));
  } else {
    SR2_ASSIGN_OR_RETURN(x, LoadActivation(*stage.work,
                                           ProfileActivationKey(stage.candidate, stage.batch,
                                                                stage.begin),
                                           stage.model.device()));
  }
  const QdqRange range =
      MakeQdqRange(stage.model, stage.begin, stage.end, stage.targets, CandidateScheme(task));
  const RopeTables rope = MakeRopeTables(stage.model.config(), x.size(1), stage.model.device());
  const std::vector<torch::Tensor> inputs =
      ForwardBlockInputs(stage.model.config(), range.qdq, rope, x);
  for (int b = stage.begin + 1; b <= stage.end; ++b) {
    if (ctx.cancelled()) return absl::CancelledError("task cancelled");
    SR2_RETURN_IF_ERROR(save(b, inputs[b - stage.begin]));
  }
  return output;
}

absl::StatusOr<v1::TaskOutput> RunHead(const v1::Task& task, const Stage& stage) {
  const int last = stage.model.num_blocks();
  SR2_ASSIGN_OR_RETURN(torch::Tensor tokens, BatchTokens(task.spec(), stage));
  SR2_ASSIGN_OR_RETURN(torch::Tensor hidden,
                       LoadActivation(*stage.work,
                                      ProfileActivationKey(stage.candidate, stage.batch, last),
                                      stage.model.device()));
  if (hidden.size(0) != tokens.size(0) || hidden.size(1) != tokens.size(1)) {
    return absl::DataLossError(absl::StrCat("profile task ", task.task_id(),
                                            ": the last hidden states do not match the batch"));
  }
  const HeadGradient head = HeadLossGradient(stage.model, hidden, tokens);
  v1::TaskOutput output;
  const std::string key = ProfileGradientKey(stage.candidate, stage.batch, last);
  SR2_RETURN_IF_ERROR(SaveActivation(*stage.work, key, head.grad_hidden));
  output.add_written_keys(key);
  return output;
}

absl::StatusOr<v1::TaskOutput> RunBackward(const v1::Task& task, const Stage& stage,
                                           const TaskContext& ctx) {
  const torch::Device device = stage.model.device();
  SR2_ASSIGN_OR_RETURN(
      torch::Tensor grad,
      LoadActivation(*stage.work, ProfileGradientKey(stage.candidate, stage.batch, stage.end),
                     device));
  std::vector<torch::Tensor> inputs;
  for (int b = stage.begin; b < stage.end; ++b) {
    SR2_ASSIGN_OR_RETURN(
        inputs.emplace_back(),
        LoadActivation(*stage.work, ProfileActivationKey(stage.candidate, stage.batch, b), device));
  }
  if (ctx.cancelled()) return absl::CancelledError("task cancelled");
  const QdqRange range =
      MakeQdqRange(stage.model, stage.begin, stage.end, stage.targets, CandidateScheme(task));
  const RopeTables rope = MakeRopeTables(stage.model.config(), grad.size(1), device);
  std::map<std::string, double> scores;
  grad = BackwardRange(stage.model, range, rope, &inputs, grad, stage.begin, &scores);
  v1::TaskOutput output;
  for (const auto& [name, score] : scores) (*output.mutable_layer_scores())[name] = score;
  // The range below continues the replay from here.
  if (stage.begin > 0) {
    const std::string key = ProfileGradientKey(stage.candidate, stage.batch, stage.begin);
    SR2_RETURN_IF_ERROR(SaveActivation(*stage.work, key, grad));
    output.add_written_keys(key);
  }
  return output;
}

}  // namespace

absl::StatusOr<v1::TaskOutput> RunProfileTask(const v1::Task& task, const TaskContext& ctx) {
  const v1::ProfilePhase phase = task.profile_phase();
  if (phase != v1::PROFILE_PHASE_FORWARD && phase != v1::PROFILE_PHASE_HEAD &&
      phase != v1::PROFILE_PHASE_BACKWARD) {
    return Invalid(task, absl::StrCat("unknown phase ", v1::ProfilePhase_Name(phase)));
  }
  SR2_ASSIGN_OR_RETURN(Stage stage, OpenStage(task, ctx));
  ctx.progress(0.1, absl::StrCat("DeltaLoss ", v1::ProfilePhase_Name(phase), " candidate ",
                                 stage.candidate, " batch ", stage.batch),
               0);
  switch (phase) {
    case v1::PROFILE_PHASE_FORWARD:
      return RunForward(task, stage, ctx);
    case v1::PROFILE_PHASE_HEAD:
      return RunHead(task, stage);
    default:
      return RunBackward(task, stage, ctx);
  }
}

}  // namespace sr2::worker
