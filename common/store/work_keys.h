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

}  // namespace sr2
