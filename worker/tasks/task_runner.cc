#include "worker/tasks/task_runner.h"

#include <chrono>
#include <deque>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/data/token_file.h"
#include "common/quant/float_weights.h"
#include "common/quant/quantized_layer.h"
#include "common/store/store_factory.h"
#include "common/store/work_keys.h"
#include "common/tensor/checkpoint.h"
#include "common/util/status_macros.h"
#include "worker/model/llama_model.h"
#include "worker/quant/weight_quantizer.h"

namespace sr2::worker {
namespace {

// Evaluation windows per forward pass.
constexpr int kEvalBatch = 8;

Scheme SchemeOf(const v1::QuantScheme& s) { return Scheme{s.bits(), s.group_size(), s.sym()}; }

struct LoadedModel {
  ObjectStorePtr store;
  LlamaConfig config;
  std::string config_json;
  std::unique_ptr<CheckpointReader> checkpoint;
};

absl::StatusOr<LoadedModel> OpenModel(const std::string& uri) {
  LoadedModel m;
  SR2_ASSIGN_OR_RETURN(m.store, OpenStore(uri));
  SR2_ASSIGN_OR_RETURN(BlobPtr config, m.store->Read("config.json"));
  m.config_json = std::string(config->view());
  SR2_ASSIGN_OR_RETURN(m.config, LlamaConfig::FromJson(m.config_json));
  SR2_ASSIGN_OR_RETURN(m.checkpoint, CheckpointReader::Open(m.store));
  return m;
}

absl::StatusOr<std::vector<int32_t>> ReadTokens(const std::string& uri, int vocab_size) {
  SR2_ASSIGN_OR_RETURN(BlobPtr blob, ReadUri(uri));
  return ParseTokenFile(blob->view(), vocab_size, uri);
}

// Checks the calibration windows. RTN needs no activations; the tuning algorithms start from
// these windows' embeddings.
absl::StatusOr<v1::TaskOutput> RunCalibrate(const v1::Task& task, const TaskContext& ctx) {
  const v1::JobSpec& spec = task.spec();
  SR2_ASSIGN_OR_RETURN(LoadedModel model, OpenModel(spec.model_uri()));
  SR2_ASSIGN_OR_RETURN(std::vector<int32_t> tokens,
                       ReadTokens(spec.calib_uri(), model.config.vocab_size));
  SR2_ASSIGN_OR_RETURN(auto windows,
                       TakeWindows(tokens, spec.nsamples(), spec.seqlen(), spec.calib_uri()));
  ctx.progress(1.0, absl::StrCat(windows.size(), " calibration windows"), 0);
  return v1::TaskOutput();
}

absl::StatusOr<v1::TaskOutput> RunQuantizeBlock(const v1::Task& task, const TaskContext& ctx) {
  const v1::JobSpec& spec = task.spec();
  SR2_ASSIGN_OR_RETURN(LoadedModel model, OpenModel(spec.model_uri()));
  const torch::Device device(ctx.device);
  v1::TaskOutput output;
  std::vector<QuantizedLayer> layers;
  int i = 0;
  for (const v1::LayerAssignment& a : task.layers()) {
    if (ctx.cancelled()) return absl::CancelledError("task cancelled");
    const std::string weight_name = a.name() + ".weight";
    const TensorInfo* info = model.checkpoint->Find(weight_name);
    if (info == nullptr || info->shape.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat("model has no 2-D tensor ", weight_name));
    }
    SR2_ASSIGN_OR_RETURN(std::vector<float> values, model.checkpoint->ReadFloat(weight_name));
    torch::Tensor w = torch::from_blob(values.data(), {info->shape[0], info->shape[1]},
                                       torch::kFloat32)
                          .to(device, /*non_blocking=*/false, /*copy=*/true);
    layers.push_back(QuantizeToIntegers(a.name(), w, SchemeOf(a.scheme()), QuantParams{}));
    v1::LayerResult* r = output.add_layers();
    r->set_name(a.name());
    r->set_quantized(true);
    *r->mutable_scheme() = a.scheme();
    r->set_numel(info->shape[0] * info->shape[1]);
    ctx.progress(static_cast<double>(++i) / task.layers_size(), a.name(), 0);
  }
  std::vector<TensorRef> refs;
  std::deque<std::string> scratch;
  for (const QuantizedLayer& l : layers) AppendLayerTensors(l, &refs, &scratch);
  SR2_ASSIGN_OR_RETURN(std::string bytes, SerializeSafetensors(refs));
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr work, OpenStore(task.work_uri()));
  const std::string key = BlockResultKey(task.block_index());
  SR2_RETURN_IF_ERROR(work->Write(key, bytes));
  output.add_written_keys(key);
  return output;
}

absl::StatusOr<v1::TaskOutput> RunEvaluate(const v1::Task& task, const TaskContext& ctx) {
  const v1::JobSpec& spec = task.spec();
  SR2_ASSIGN_OR_RETURN(LoadedModel model, OpenModel(task.checkpoint_uri()));
  SR2_ASSIGN_OR_RETURN(auto weights, LoadFloatWeights(*model.checkpoint, model.config_json));
  SR2_ASSIGN_OR_RETURN(LlamaModel llama,
                       LlamaModel::Create(model.config, weights, torch::Device(ctx.device)));
  SR2_ASSIGN_OR_RETURN(std::vector<int32_t> tokens,
                       ReadTokens(spec.eval_uri(), model.config.vocab_size));
  SR2_ASSIGN_OR_RETURN(auto windows, AllWindows(tokens, spec.eval_seqlen(), spec.eval_uri()));
  ctx.progress(0.1, absl::StrCat("evaluating ", windows.size(), " windows"), 0);
  PerplexityResult ppl = EvaluatePerplexity(llama, windows, kEvalBatch);
  v1::TaskOutput output;
  output.set_perplexity(ppl.perplexity());
  output.set_eval_targets(ppl.targets);
  return output;
}

absl::StatusOr<v1::TaskOutput> Dispatch(const v1::Task& task, const TaskContext& ctx) {
  switch (task.kind()) {
    case v1::TASK_KIND_CALIBRATE:
      return RunCalibrate(task, ctx);
    case v1::TASK_KIND_QUANTIZE_BLOCK:
      return RunQuantizeBlock(task, ctx);
    case v1::TASK_KIND_EVALUATE:
      return RunEvaluate(task, ctx);
    default:
      return absl::UnimplementedError(
          absl::StrCat("task kind ", v1::TaskKind_Name(task.kind()), " is not supported"));
  }
}

}  // namespace

bool IsRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kPermissionDenied:
      return false;
    default:
      return true;
  }
}

absl::StatusOr<v1::TaskOutput> RunTask(const v1::Task& task, const TaskContext& context) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<v1::TaskOutput> output;
  try {
    torch::NoGradGuard no_grad;
    output = Dispatch(task, context);
  } catch (const std::exception& e) {
    // c10::Error and friends: keep the first line, which names the failing op.
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    output = absl::InternalError(absl::StrCat("libtorch error: ", what));
  }
  if (!output.ok()) return Annotate(output.status(), task.task_id());
  output->set_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return output;
}

}  // namespace sr2::worker
