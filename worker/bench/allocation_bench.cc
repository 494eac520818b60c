// sr2-allocation-bench: SignRoundV2 mixed precision (DeltaLoss + DP, algorithm.md §3.1-3.3) on
// stories260K against allocations of the same budget chosen at random or by "first and last
// blocks first". Every layer is RTN fake-quantized with its chosen scheme and the model's
// perplexity is measured on the evaluation tokens.
// Usage (from the source root): sr2-allocation-bench [--avg_bits 2.5,3.0] [--threads 2]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "common/data/token_file.h"
#include "common/model/model_layout.h"
#include "common/quant/bit_allocation.h"
#include "common/store/local_object_store.h"
#include "common/util/status_macros.h"
#include "worker/model/llama_model.h"
#include "worker/quant/delta_loss.h"
#include "worker/quant/weight_quantizer.h"

ABSL_FLAG(std::string, model, "../shared/models/stories260K", "model folder");
ABSL_FLAG(std::string, data, "../shared/data/tinystories", "folder with calib/eval.tokens.i32");
ABSL_FLAG(std::vector<std::string>, avg_bits, std::vector<std::string>({"2.5", "3.0"}),
          "average bits per weight to allocate");
ABSL_FLAG(int, nsamples, 16, "DeltaLoss calibration windows");
ABSL_FLAG(int, seqlen, 256, "calibration and evaluation window length");
ABSL_FLAG(int, random_seeds, 3, "random allocations per budget");
ABSL_FLAG(int, threads, 2, "libtorch intra-op threads");

namespace sr2::worker {
namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

absl::StatusOr<std::vector<int32_t>> ReadTokens(const std::string& dir, const std::string& name,
                                                int vocab_size) {
  SR2_ASSIGN_OR_RETURN(BlobPtr blob, LocalObjectStore::Create(dir)->Read(name));
  return ParseTokenFile(blob->view(), vocab_size, name);
}

// Option index per layer -> perplexity of the RTN fake-quantized model.
double Perplexity(const LlamaModel& model, const std::vector<LinearLayer>& layers,
                  const std::vector<Scheme>& options, const std::vector<int>& choice,
                  const std::vector<std::vector<int32_t>>& eval_windows) {
  LlamaModel quantized = model;  // Shares tensors; replaced handles leave `model` intact.
  for (size_t l = 0; l < layers.size(); ++l) {
    torch::Tensor& w = quantized.block(layers[l].block).Linear(layers[l].short_name);
    w = QuantDequant(model.block(layers[l].block).Linear(layers[l].short_name),
                     options[choice[l]], {});
  }
  return EvaluatePerplexity(quantized, eval_windows, 8).perplexity();
}

int64_t TotalBits(const std::vector<AllocationItem>& items, const std::vector<int>& choice) {
  int64_t bits = 0;
  for (size_t i = 0; i < items.size(); ++i) bits += items[i].bits[choice[i]];
  return bits;
}

// Starts from all-lowest (option 0) and upgrades the layers in `order` to option 1 while the
// budget allows, skipping those that no longer fit.
std::vector<int> GreedyUpgrade(const std::vector<AllocationItem>& items,
                               const std::vector<size_t>& order, int64_t budget) {
  std::vector<int> choice(items.size(), 0);
  int64_t bits = TotalBits(items, choice);
  for (size_t i : order) {
    const int64_t extra = items[i].bits[1] - items[i].bits[0];
    if (bits + extra <= budget) {
      choice[i] = 1;
      bits += extra;
    }
  }
  return choice;
}

// One row per block, one column per Linear: the chosen bit width.
void PrintAllocation(const std::vector<LinearLayer>& layers, const std::vector<Scheme>& options,
                     const std::vector<int>& choice) {
  std::printf("    block  q k v o gate up down\n");
  for (size_t l = 0; l < layers.size(); ++l) {
    if (l % 7 == 0) std::printf("    %5d ", layers[l].block);
    std::printf(" %d", options[choice[l]].bits);
    if (l % 7 == 6) std::printf("\n");
  }
}

absl::Status Run() {
  const auto start = std::chrono::steady_clock::now();
  at::set_num_threads(absl::GetFlag(FLAGS_threads));
  SR2_ASSIGN_OR_RETURN(LlamaModel model,
                       LoadLlamaModel(LocalObjectStore::Create(absl::GetFlag(FLAGS_model)),
                                      torch::kCPU));
  const int vocab = model.config().vocab_size;
  const int seqlen = absl::GetFlag(FLAGS_seqlen);
  const std::string data = absl::GetFlag(FLAGS_data);
  SR2_ASSIGN_OR_RETURN(auto calib_tokens, ReadTokens(data, "calib.tokens.i32", vocab));
  SR2_ASSIGN_OR_RETURN(auto calib, TakeWindows(calib_tokens, absl::GetFlag(FLAGS_nsamples),
                                               seqlen, "calib.tokens.i32"));
  SR2_ASSIGN_OR_RETURN(auto eval_tokens, ReadTokens(data, "eval.tokens.i32", vocab));
  SR2_ASSIGN_OR_RETURN(auto eval, AllWindows(eval_tokens, seqlen, "eval.tokens.i32"));

  std::vector<LinearLayer> layers;
  std::vector<std::string> names;
  for (int b = 0; b < model.num_blocks(); ++b) {
    for (const std::string& s : LlamaBlockLinears()) {
      const torch::Tensor& w = model.block(b).Linear(s);
      layers.push_back({BlockPrefix(b) + s, s, b, w.size(0), w.size(1), false});
      names.push_back(layers.back().name);
    }
  }
  const std::vector<Scheme> options = {{2, 32, true}, {4, 32, true}};

  auto t = std::chrono::steady_clock::now();
  SR2_ASSIGN_OR_RETURN(auto scores,
                       ComputeDeltaLoss(model, calib, names, options, {}, nullptr));
  std::printf("DeltaLoss: %zu windows x %d tokens, %zu layers, %zu options: %.2f s\n",
              calib.size(), seqlen, names.size(), options.size(), Seconds(t));
  std::printf("  %-32s %12s %12s %8s\n", "layer", "W2G32", "W4G32", "W2/W4");
  for (const std::string& n : names) {
    const std::vector<double>& s = scores.at(n);
    std::printf("  %-32s %12.5g %12.5g %8.1f\n", n.c_str(), s[0], s[1], s[0] / s[1]);
  }
  SR2_ASSIGN_OR_RETURN(auto items, MakeAllocationItems(layers, options, scores,
                                                       /*share_fused_layers=*/false,
                                                       /*ignore_scale_zp_bits=*/true));

  std::printf("\nuniform W2G32: ppl %.3f\n",
              Perplexity(model, layers, options, std::vector<int>(layers.size(), 0), eval));
  std::printf("uniform W4G32: ppl %.3f\n",
              Perplexity(model, layers, options, std::vector<int>(layers.size(), 1), eval));

  int64_t numel = 0;
  for (const LinearLayer& l : layers) numel += l.numel();
  std::vector<size_t> first_last;  // Layers of the first and the last block, in layer order.
  for (size_t l = 0; l < layers.size(); ++l) {
    if (layers[l].block == 0 || layers[l].block == model.num_blocks() - 1) first_last.push_back(l);
  }
  for (const std::string& avg_text : absl::GetFlag(FLAGS_avg_bits)) {
    double avg = 0;
    if (!absl::SimpleAtod(avg_text, &avg)) {
      return absl::InvalidArgumentError("--avg_bits: '" + avg_text + "' is not a number");
    }
    SR2_ASSIGN_OR_RETURN(int64_t budget, BitBudget(items, avg));
    t = std::chrono::steady_clock::now();
    SR2_ASSIGN_OR_RETURN(AllocationResult dp, AllocateBits(items, budget));
    const double dp_seconds = Seconds(t);
    std::printf("\n== avg %.3f bits: budget %lld bits ==\n", avg, static_cast<long long>(budget));
    std::printf("DeltaLoss+DP (%.4f s): bits %lld (%.4f/weight), score %.5g, ppl %.3f\n",
                dp_seconds, static_cast<long long>(dp.total_bits),
                static_cast<double>(dp.total_bits) / static_cast<double>(numel),
                dp.total_score, Perplexity(model, layers, options, dp.choice, eval));
    PrintAllocation(layers, options, dp.choice);
    std::vector<double> random_ppl;
    for (int seed = 1; seed <= absl::GetFlag(FLAGS_random_seeds); ++seed) {
      std::vector<size_t> order(layers.size());
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), std::mt19937(seed));
      const std::vector<int> choice = GreedyUpgrade(items, order, budget);
      random_ppl.push_back(Perplexity(model, layers, options, choice, eval));
      std::printf("random seed %d: bits %lld, ppl %.3f\n", seed,
                  static_cast<long long>(TotalBits(items, choice)), random_ppl.back());
    }
    const std::vector<int> fl = GreedyUpgrade(items, first_last, budget);
    if (!random_ppl.empty()) {
      std::printf("random mean ppl %.3f\n",
                  std::accumulate(random_ppl.begin(), random_ppl.end(), 0.0) /
                      static_cast<double>(random_ppl.size()));
    }
    std::printf("first/last blocks 4-bit first: bits %lld, ppl %.3f\n",
                static_cast<long long>(TotalBits(items, fl)),
                Perplexity(model, layers, options, fl, eval));
    PrintAllocation(layers, options, fl);
  }
  std::printf("\ntotal %.1f s\n", Seconds(start));
  return absl::OkStatus();
}

}  // namespace
}  // namespace sr2::worker

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Status status = sr2::worker::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "sr2-allocation-bench: error: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
