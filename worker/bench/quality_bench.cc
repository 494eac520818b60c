// sr2-quality-bench: quantizes every block Linear of stories260K in process with RTN, SignRound
// v1 or SignRoundV2 (algorithm.md §6 Stage D, block by block along the quantized chain) and
// prints the perplexity on the evaluation tokens.
// Usage (from the source root): sr2-quality-bench [--scheme W4G32] [--sym|--asym]
//   [--algorithm rtn|signround|signroundv2] [--iters 200] [--nsamples 128] [--seqlen 256]
//   [--seed 42] [--input-mode quantized|fp] [--threads 1] [--noskip_last_position]

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/data/token_file.h"
#include "common/model/model_layout.h"
#include "common/quant/scheme.h"
#include "common/store/local_object_store.h"
#include "common/util/process_main.h"
#include "common/util/status_macros.h"
#include "worker/model/llama_model.h"
#include "worker/quant/block_tuner.h"

ABSL_FLAG(std::string, model, "../shared/models/stories260K", "model folder");
ABSL_FLAG(std::string, calib, "../shared/data/tinystories/calib.tokens.i32", "calibration tokens");
ABSL_FLAG(std::string, eval, "../shared/data/tinystories/eval.tokens.i32", "evaluation tokens");
ABSL_FLAG(std::string, scheme, "W4G32", "weight scheme W<bits>G<group>");
ABSL_FLAG(bool, sym, true, "symmetric (full-range) quantization");
ABSL_FLAG(bool, asym, false, "asymmetric quantization (overrides --sym)");
ABSL_FLAG(std::string, algorithm, "signroundv2", "rtn, signround or signroundv2");
ABSL_FLAG(int, iters, 200, "SignSGD iterations per block (0: no tuning)");
ABSL_FLAG(int, nsamples, 128, "calibration windows");
ABSL_FLAG(int, seqlen, 256, "calibration window length");
ABSL_FLAG(int, batch_size, 8, "samples per tuning iteration");
ABSL_FLAG(uint64_t, seed, 42, "sampler seed (block i uses seed + i)");
ABSL_FLAG(std::string, input_mode, "quantized", "quantized: tune on the quantized chain; fp: on FP inputs");
ABSL_FLAG(int, threads, 1, "libtorch intra-op threads (1: what a worker runs by default)");
ABSL_FLAG(bool, skip_last_position, true,
          "leave each window's last position out of the tuning loss (false: the pre-2026-07 loss)");

namespace sr2::worker {
namespace {

constexpr int kEvalSeqlen = 256;

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

absl::StatusOr<std::vector<int32_t>> ReadTokens(const std::string& path, int vocab_size) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  SR2_ASSIGN_OR_RETURN(BlobPtr blob, LocalObjectStore::Create(dir)->Read(name));
  return ParseTokenFile(blob->view(), vocab_size, path);
}

absl::Status Run() {
  const std::string algorithm = absl::GetFlag(FLAGS_algorithm);
  if (algorithm != "rtn" && algorithm != "signround" && algorithm != "signroundv2") {
    return absl::InvalidArgumentError(
        absl::StrCat("--algorithm must be rtn, signround or signroundv2, got '", algorithm, "'"));
  }
  const std::string input_mode = absl::GetFlag(FLAGS_input_mode);
  if (input_mode != "quantized" && input_mode != "fp") {
    return absl::InvalidArgumentError(
        absl::StrCat("--input-mode must be quantized or fp, got '", input_mode, "'"));
  }
  const bool sym = absl::GetFlag(FLAGS_sym) && !absl::GetFlag(FLAGS_asym);
  SR2_ASSIGN_OR_RETURN(Scheme scheme, ParseScheme(absl::GetFlag(FLAGS_scheme), sym));
  TuneOptions options;
  options.iters = algorithm == "rtn" ? 0 : absl::GetFlag(FLAGS_iters);
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  options.v2 = algorithm == "signroundv2";
  options.filter_outliers = V2FiltersLoss(scheme);
  options.skip_last_position = absl::GetFlag(FLAGS_skip_last_position);
  at::set_num_threads(absl::GetFlag(FLAGS_threads));

  SR2_ASSIGN_OR_RETURN(LlamaModel model, LoadLlamaModel(LocalObjectStore::Create(
                                                            absl::GetFlag(FLAGS_model)),
                                                        torch::kCPU));
  const int vocab = model.config().vocab_size;
  SR2_ASSIGN_OR_RETURN(std::vector<int32_t> calib, ReadTokens(absl::GetFlag(FLAGS_calib), vocab));
  SR2_ASSIGN_OR_RETURN(std::vector<int32_t> eval, ReadTokens(absl::GetFlag(FLAGS_eval), vocab));
  SR2_ASSIGN_OR_RETURN(auto calib_windows,
                       TakeWindows(calib, absl::GetFlag(FLAGS_nsamples),
                                   absl::GetFlag(FLAGS_seqlen), absl::GetFlag(FLAGS_calib)));
  SR2_ASSIGN_OR_RETURN(auto eval_windows, AllWindows(eval, kEvalSeqlen, absl::GetFlag(FLAGS_eval)));

  const auto start = std::chrono::steady_clock::now();
  torch::Tensor tokens = torch::empty(
      {static_cast<int64_t>(calib_windows.size()), absl::GetFlag(FLAGS_seqlen)}, torch::kInt64);
  for (size_t i = 0; i < calib_windows.size(); ++i) {
    tokens[i].copy_(torch::tensor(calib_windows[i], torch::kInt32));
  }
  torch::Tensor x_fp, x_q;
  {
    torch::NoGradGuard no_grad;
    x_fp = model.Embed(tokens);
    x_q = x_fp;
  }
  for (int b = 0; b < model.num_blocks(); ++b) {
    std::vector<LayerToTune> layers;
    for (const std::string& short_name : LlamaBlockLinears()) {
      layers.push_back({short_name, BlockPrefix(b) + short_name, scheme});
    }
    options.seed = BlockSeed(absl::GetFlag(FLAGS_seed), b);
    const torch::Tensor& input = input_mode == "fp" ? x_fp : x_q;
    SR2_ASSIGN_OR_RETURN(BlockTuneResult result,
                         TuneBlock(model.config(), model.block(b), x_fp, input, layers, options,
                                   nullptr, nullptr));
    for (size_t l = 0; l < layers.size(); ++l) {
      const QuantizedLayer& q = result.layers[l];
      std::vector<float> values = q.Dequantize();
      model.block(b).Linear(layers[l].short_name) =
          torch::from_blob(values.data(), {q.out_features, q.in_features}, torch::kFloat32)
              .clone();
    }
    std::fprintf(stderr, "block %d: loss %.6g -> %.6g (best iter %d), %.1f s\n", b,
                 result.initial_loss, result.best_loss, result.best_iter, Seconds(start));
    x_fp = result.y_fp;
    x_q = result.x_q_next;
  }
  const double tune_seconds = Seconds(start);
  const double ppl = EvaluatePerplexity(model, eval_windows, 16).perplexity();
  std::printf("algorithm=%s scheme=%s %s iters=%d nsamples=%d seqlen=%d input=%s seed=%llu "
              "threads=%d skip_last=%d ppl=%.4f tune_s=%.1f\n",
              algorithm.c_str(), SchemeName(scheme).c_str(), sym ? "sym" : "asym", options.iters,
              absl::GetFlag(FLAGS_nsamples), absl::GetFlag(FLAGS_seqlen), input_mode.c_str(),
              static_cast<unsigned long long>(absl::GetFlag(FLAGS_seed)),
              absl::GetFlag(FLAGS_threads), options.skip_last_position ? 1 : 0, ppl,
              tune_seconds);
  return absl::OkStatus();
}

}  // namespace
}  // namespace sr2::worker

int main(int argc, char** argv) {
  sr2::KeepLargeBuffersInHeap();
  sr2::AcceptDashedFlags(argc, argv);
  absl::ParseCommandLine(argc, argv);
  absl::Status status = sr2::worker::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "sr2-quality-bench: error: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
