#include "worker/tasks/task_runner.h"

#include <chrono>
#include <deque>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/data/token_file.h"
#include "common/quant/quantized_layer.h"
#include "common/store/store_factory.h"
#include "common/store/work_keys.h"
#include "common/tensor/checkpoint.h"
#include "common/util/status_macros.h"
#include "worker/model/llama_model.h"
#include "worker/quant/block_tuner.h"
#include "worker/quant/weight_quantizer.h"
#include "worker/tasks/activation_io.h"
#include "worker/tasks/profile_tasks.h"

namespace sr2::worker {
namespace {

// Evaluation windows per forward pass.
constexpr int kEvalBatch = 8;
// Calibration samples per forward pass when running the FP chain.
constexpr int64_t kForwardBatch = 16;

Scheme SchemeOf(const v1::QuantScheme& s) { return Scheme{s.bits(), s.group_size(), s.sym()}; }

bool NeedsActivations(const v1::JobSpec& spec) { return spec.algorithm() != v1::ALGORITHM_RTN; }

// Runs `fn` over the first dimension of `x` in slices, concatenating the results.
torch::Tensor Batched(const torch::Tensor& x, const std::function<torch::Tensor(torch::Tensor)>& fn) {
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < x.size(0); i += kForwardBatch) {
    parts.push_back(fn(x.slice(0, i, std::min(i + kForwardBatch, x.size(0)))));
  }
  return torch::cat(parts, 0);
}

// Checks the calibration windows and, for the tuning algorithms, writes block 0's input
// (and in fp-input mode the whole FP chain, since every block is then tuned at once).
absl::StatusOr<v1::TaskOutput> RunCalibrate(const v1::Task& task, const TaskContext& ctx) {
  const v1::JobSpec& spec = task.spec();
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr model_store, OpenStore(spec.model_uri()));
  SR2_ASSIGN_OR_RETURN(BlobPtr config_blob, model_store->Read("config.json"));
  SR2_ASSIGN_OR_RETURN(LlamaConfig config, LlamaConfig::FromJson(config_blob->view()));
  SR2_ASSIGN_OR_RETURN(std::vector<int32_t> tokens, ReadTokenFile(spec.calib_uri(), config.vocab_size));
  SR2_ASSIGN_OR_RETURN(auto windows,
                       TakeWindows(tokens, spec.nsamples(), spec.seqlen(), spec.calib_uri()));
  v1::TaskOutput output;
  if (!NeedsActivations(spec)) return output;

  const torch::Device device(ctx.device);
  SR2_ASSIGN_OR_RETURN(LlamaModel model, LoadLlamaModel(model_store, device));
  torch::Tensor ids = torch::empty({spec.nsamples(), spec.seqlen()}, torch::kInt64);
  for (int i = 0; i < spec.nsamples(); ++i) {
    for (int t = 0; t < spec.seqlen(); ++t) ids[i][t] = windows[i][t];
  }
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr work, OpenStore(task.work_uri()));
  torch::Tensor x = model.Embed(ids);
  SR2_RETURN_IF_ERROR(SaveActivation(*work, FpActivationKey(0), x));
  output.add_written_keys(FpActivationKey(0));
  if (spec.input_mode() == v1::INPUT_MODE_FP) {
    const RopeTables rope = MakeRopeTables(model.config(), spec.seqlen(), device);
    for (int b = 0; b + 1 < model.num_blocks(); ++b) {
      if (ctx.cancelled()) return absl::CancelledError("task cancelled");
      x = Batched(x, [&](torch::Tensor s) { return BlockForward(model.config(), model.block(b), rope, s); });
      SR2_RETURN_IF_ERROR(SaveActivation(*work, FpActivationKey(b + 1), x));
      output.add_written_keys(FpActivationKey(b + 1));
      ctx.progress(static_cast<double>(b + 1) / model.num_blocks(), "fp chain", 0);
    }
  }
  return output;
}

absl::Status WriteBlockResult(const v1::Task& task, ObjectStore& work,
                              const std::vector<QuantizedLayer>& layers, v1::TaskOutput* output) {
  std::vector<TensorRef> refs;
  std::deque<std::string> scratch;
  for (const QuantizedLayer& l : layers) AppendLayerTensors(l, &refs, &scratch);
  SR2_ASSIGN_OR_RETURN(std::string bytes, SerializeSafetensors(refs));
  const std::string key = BlockResultKey(task.block_index());
  SR2_RETURN_IF_ERROR(work.Write(key, bytes));
  output->add_written_keys(key);
  return absl::OkStatus();
}

void AddLayerResult(const v1::LayerAssignment& a, const QuantizedLayer& layer, double loss,
                    v1::TaskOutput* output) {
  v1::LayerResult* r = output->add_layers();
  r->set_name(a.name());
  r->set_quantized(true);
  *r->mutable_scheme() = a.scheme();
  r->set_numel(layer.out_features * layer.in_features);
  r->set_loss(loss);
}

// RTN needs no activations: each layer is quantized from its weights alone.
absl::StatusOr<v1::TaskOutput> RunRtnBlock(const v1::Task& task, const TaskContext& ctx) {
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr model_store, OpenStore(task.spec().model_uri()));
  SR2_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> checkpoint,
                       CheckpointReader::Open(model_store));
  const torch::Device device(ctx.device);
  v1::TaskOutput output;
  std::vector<QuantizedLayer> layers;
  for (const v1::LayerAssignment& a : task.layers()) {
    if (ctx.cancelled()) return absl::CancelledError("task cancelled");
    const std::string weight_name = a.name() + ".weight";
    const TensorInfo* info = checkpoint->Find(weight_name);
    if (info == nullptr || info->shape.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat("model has no 2-D tensor ", weight_name));
    }
    SR2_ASSIGN_OR_RETURN(std::vector<float> values, checkpoint->ReadFloat(weight_name));
    torch::Tensor w = torch::from_blob(values.data(), {info->shape[0], info->shape[1]},
                                       torch::kFloat32)
                          .to(device, /*non_blocking=*/false, /*copy=*/true);
    layers.push_back(QuantizeToIntegers(a.name(), w, SchemeOf(a.scheme()), QuantParams{}));
    AddLayerResult(a, layers.back(), 0, &output);
    ctx.progress(static_cast<double>(layers.size()) / task.layers_size(), a.name(), 0);
  }
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr work, OpenStore(task.work_uri()));
  SR2_RETURN_IF_ERROR(WriteBlockResult(task, *work, layers, &output));
  return output;
}

absl::StatusOr<v1::TaskOutput> RunTunedBlock(const v1::Task& task, const TaskContext& ctx) {
  const v1::JobSpec& spec = task.spec();
  const int block = task.block_index();
  const torch::Device device(ctx.device);
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr model_store, OpenStore(spec.model_uri()));
  SR2_ASSIGN_OR_RETURN(LlamaModel model, LoadLlamaModel(model_store, device));
  if (block < 0 || block >= model.num_blocks()) {
    return absl::InvalidArgumentError(absl::StrCat("block ", block, " is out of range"));
  }
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr work, OpenStore(task.work_uri()));
  SR2_ASSIGN_OR_RETURN(torch::Tensor x_fp, LoadActivation(*work, FpActivationKey(block), device));
  const bool chained = spec.input_mode() != v1::INPUT_MODE_FP && block > 0;
  torch::Tensor x_q = x_fp;
  if (chained) {
    SR2_ASSIGN_OR_RETURN(x_q, LoadActivation(*work, QuantActivationKey(block), device));
  }

  std::vector<LayerToTune> layers;
  const std::string prefix = absl::StrCat("model.layers.", block, ".");
  for (const v1::LayerAssignment& a : task.layers()) {
    if (a.name().rfind(prefix, 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("layer ", a.name(), " is not in block ", block));
    }
    layers.push_back({a.name().substr(prefix.size()), a.name(), SchemeOf(a.scheme())});
  }
  TuneOptions options;
  options.iters = spec.iters();
  options.lr = spec.lr();
  options.batch_size = spec.batch_size();
  options.seed = BlockSeed(spec.seed(), block);
  options.v2 = spec.algorithm() == v1::ALGORITHM_SIGNROUNDV2;
  options.filter_outliers = V2FiltersLoss(SchemeOf(
      spec.avg_bits() > 0 && spec.candidates_size() > 0 ? spec.candidates(0) : spec.scheme()));
  SR2_ASSIGN_OR_RETURN(
      BlockTuneResult tuned,
      TuneBlock(model.config(), model.block(block), x_fp, x_q, layers, options,
                [&](double fraction, double best_loss) {
                  ctx.progress(fraction, absl::StrCat("block ", block), best_loss);
                },
                ctx.cancelled));

  v1::TaskOutput output;
  for (int i = 0; i < task.layers_size(); ++i) {
    AddLayerResult(task.layers(i), tuned.layers[i], tuned.best_loss, &output);
  }
  SR2_RETURN_IF_ERROR(WriteBlockResult(task, *work, tuned.layers, &output));
  // The next block of the quantized-input chain starts from these two.
  if (spec.input_mode() != v1::INPUT_MODE_FP && block + 1 < model.num_blocks()) {
    SR2_RETURN_IF_ERROR(SaveActivation(*work, FpActivationKey(block + 1), tuned.y_fp));
    SR2_RETURN_IF_ERROR(SaveActivation(*work, QuantActivationKey(block + 1), tuned.x_q_next));
    output.add_written_keys(FpActivationKey(block + 1));
    output.add_written_keys(QuantActivationKey(block + 1));
  }
  return output;
}

absl::StatusOr<v1::TaskOutput> RunEvaluate(const v1::Task& task, const TaskContext& ctx) {
  const v1::JobSpec& spec = task.spec();
  SR2_ASSIGN_OR_RETURN(ObjectStorePtr store, OpenStore(task.checkpoint_uri()));
  SR2_ASSIGN_OR_RETURN(LlamaModel llama, LoadLlamaModel(store, torch::Device(ctx.device)));
  SR2_ASSIGN_OR_RETURN(std::vector<int32_t> tokens,
                       ReadTokenFile(spec.eval_uri(), llama.config().vocab_size));
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
      return NeedsActivations(task.spec()) ? RunTunedBlock(task, ctx) : RunRtnBlock(task, ctx);
    case v1::TASK_KIND_EVALUATE:
      return RunEvaluate(task, ctx);
    case v1::TASK_KIND_PROFILE:
      return RunProfileTask(task, ctx);
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
