// Keys of a job's intermediate files under its work prefix (written by workers, read by the
// coordinator). One definition so both sides agree.
#pragma once

#include <string>

#include "absl/strings/str_format.h"

namespace sr2 {

// Quantized layers (codes/scales/zeros) of block `block`.
inline std::string BlockResultKey(int block) {
  return absl::StrFormat("blocks/block_%05d.safetensors", block);
}

// Block `block`'s input activations on the full-precision chain (X_fp) or the quantized
// chain (X_q), one F32 tensor "x" [nsamples, seqlen, hidden] (algorithm.md §2.3).
inline std::string FpActivationKey(int block) {
  return absl::StrFormat("act/x_fp_%05d.safetensors", block);
}
inline std::string QuantActivationKey(int block) {
  return absl::StrFormat("act/x_q_%05d.safetensors", block);
}

// DeltaLoss pipeline of one (candidate, calibration batch), same "x" tensor format: the input
// of block `block` on the model qdq'd under the candidate (block == num_blocks: the last
// block's output), and dL/d of that same tensor.
inline std::string ProfileActivationKey(int candidate, int batch, int block) {
  return absl::StrFormat("profile/c%03d_b%05d/x_%05d.safetensors", candidate, batch, block);
}
inline std::string ProfileGradientKey(int candidate, int batch, int block) {
  return absl::StrFormat("profile/c%03d_b%05d/g_%05d.safetensors", candidate, batch, block);
}

}  // namespace sr2
