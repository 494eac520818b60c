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

}  // namespace sr2
