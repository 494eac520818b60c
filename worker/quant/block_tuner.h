// SignRound v1 / SignRoundV2 tuning of one decoder block (algorithm.md §2, §3.4-3.6, §6 Stage D):
// all target Linears of the block learn rounding offsets V and clip factors jointly with
// SignSGD, so that the block on the quantized-chain input reproduces the FP block output.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "common/model/llama_config.h"
#include "common/quant/quantized_layer.h"
#include "common/quant/scheme.h"
#include "worker/model/llama_model.h"

namespace sr2::worker {

struct TuneOptions {
  int iters = 200;          // 0 = no SignSGD (RTN, or V2 "pre-tune only" when v2 is set).
  double lr = 0;            // 0 = 1/iters (2/iters for layers with <= 3 bits when iters >= 1000).
  double minmax_lr = 0;     // 0 = the layer's lr.
  int batch_size = 8;       // Samples per iteration (all of them when fewer).
  uint64_t seed = 42;       // The batch sampler's seed; the caller derives it per (job, block).
  bool enable_minmax_tuning = true;
  // SignRoundV2: imatrix-weighted pre-tuning scale search and alpha in [0, 2] for sym layers.
  bool v2 = false;
  // SignRoundV2 loss filtering (§3.5), only read when v2 is set. The reference decides it once
  // per job from the global scheme, not per block: see V2FiltersLoss().
  bool filter_outliers = false;
  // Leave each sample's last position out of the loss, as auto-round HEAD does for token data
  // (it masks that position, whose next-token label does not exist, §2.3).
  bool skip_last_position = true;
};

// Whether SignRoundV2 filters the loss of a job whose global scheme is `global`: sym with
// fewer than 4 bits. With mixed precision the global scheme is the first candidate, so every
// block of a W2/W4 job is filtered, its all-4-bit blocks included (as in the reference).
bool V2FiltersLoss(const Scheme& global);

struct LayerToTune {
  std::string short_name;  // "self_attn.q_proj" (one of LlamaBlockLinears()).
  std::string name;        // Full name, e.g. "model.layers.0.self_attn.q_proj".
  Scheme scheme;
};

struct BlockTuneResult {
  std::vector<QuantizedLayer> layers;  // In the order of the `layers` argument.
  torch::Tensor y_fp;                  // Block_fp(x_fp): the next block's FP input.
  torch::Tensor x_q_next;              // Block_quantized(x_q): the next quantized-chain input.
  // Mean squared block-output error of iteration 0 and of the kept (best) iteration; 0 and -1
  // when iters = 0.
  double initial_loss = 0, best_loss = 0;
  int best_iter = -1;
};

struct BlockLossOptions {
  bool filter_outliers = false;
  bool skip_last_position = false;
};

// The tuning loss: mean((pred - target)^2) in fp32 over all elements. `skip_last_position`
// zeroes the differences at the last position of dim 1 ([batch, seq, hidden] inputs). With
// `filter_outliers`, the top max(1, numel / 1000) elements by |pred - target| contribute 0.
// Either way the mean still divides by numel, and the dropped elements get no gradient.
torch::Tensor BlockLoss(const torch::Tensor& pred, const torch::Tensor& target,
                        const BlockLossOptions& options);

// Tunes the `layers` of one block (the other Linears stay FP). x_fp and x_q are
// [nsamples, seqlen, hidden] fp32 on the device of `fp_weights`; they may be the same tensor
// (unquantized-input mode). `progress` (may be empty) gets the finished fraction and the best
// loss after each iteration; `cancelled` (may be empty) is polled once per iteration and makes
// the call return CancelledError. InvalidArgument for bad shapes, options or layer names.
// Deterministic for a fixed seed and thread count.
absl::StatusOr<BlockTuneResult> TuneBlock(
    const LlamaConfig& config, const BlockWeights& fp_weights, const torch::Tensor& x_fp,
    const torch::Tensor& x_q, const std::vector<LayerToTune>& layers, const TuneOptions& options,
    const std::function<void(double fraction, double best_loss)>& progress,
    const std::function<bool()>& cancelled);

// The sampler seed of block `block` of a job seeded `job_seed`. Seeds derive from the job, never
// from the worker, so any worker (and the quality bench) draws the same batches.
inline uint64_t BlockSeed(uint64_t job_seed, int block) {
  return job_seed + static_cast<uint64_t>(block);
}

}  // namespace sr2::worker
