#include "server/job_spec_defaults.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace sr2::server {
namespace {

// auto-round's defaults (algorithm.md §5), except eval_seqlen which follows the TinyStories
// evaluation protocol.
constexpr int kDefaultBits = 4;
constexpr int kDefaultGroup = 128;
constexpr int kDefaultNsamples = 128;
constexpr int kDefaultIters = 200;
constexpr int kDefaultBatch = 8;
constexpr int kDefaultEvalSeqlen = 256;
constexpr uint64_t kDefaultSeed = 42;

absl::Status Invalid(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid job: ", field, " ", why));
}

}  // namespace

void FillJobSpecDefaults(v1::JobSpec* spec) {
  // No scheme at all means the default W4G128 sym; a bare --sym/--asym keeps its choice.
  if (!spec->has_scheme()) spec->mutable_scheme()->set_sym(true);
  v1::QuantScheme* scheme = spec->mutable_scheme();
  if (scheme->bits() == 0) scheme->set_bits(kDefaultBits);
  if (scheme->group_size() == 0) scheme->set_group_size(kDefaultGroup);
  if (spec->algorithm() == v1::ALGORITHM_UNSPECIFIED) spec->set_algorithm(v1::ALGORITHM_SIGNROUND);
  if (spec->format() == v1::FORMAT_UNSPECIFIED) spec->set_format(v1::FORMAT_AUTO_ROUND);
  if (spec->nsamples() == 0) spec->set_nsamples(kDefaultNsamples);
  // RTN does no tuning; an explicit --iters is still honoured for the other algorithms.
  if (spec->iters() == 0 && spec->algorithm() != v1::ALGORITHM_RTN) spec->set_iters(kDefaultIters);
  if (spec->eval_seqlen() == 0) spec->set_eval_seqlen(kDefaultEvalSeqlen);
  if (spec->seed() == 0) spec->set_seed(kDefaultSeed);
  if (spec->input_mode() == v1::INPUT_MODE_UNSPECIFIED) {
    spec->set_input_mode(v1::INPUT_MODE_QUANTIZED);
  }
  if (spec->batch_size() == 0) spec->set_batch_size(kDefaultBatch);
}

void ResolveSeqlen(v1::JobSpec* spec, int max_position_embeddings) {
  constexpr int kDefaultSeqlen = 2048;
  if (spec->seqlen() != 0) return;
  spec->set_seqlen(max_position_embeddings > 0 ? std::min(kDefaultSeqlen, max_position_embeddings)
                                               : kDefaultSeqlen);
}

absl::Status ValidateJobSpec(const v1::JobSpec& spec) {
  if (spec.model_uri().empty()) return Invalid("model_uri", "is required");
  if (spec.out_uri().empty()) return Invalid("out_uri", "is required (--out)");
  if (spec.calib_uri().empty()) return Invalid("calib_uri", "is required (--calib)");
  const int bits = spec.scheme().bits();
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8) {
    return Invalid("scheme", absl::StrCat("has ", bits, " bits; supported: 2, 3, 4, 8"));
  }
  if (spec.scheme().group_size() < -1 || spec.scheme().group_size() == 0) {
    return Invalid("scheme", absl::StrCat("has group size ", spec.scheme().group_size(),
                                          "; use -1 (per row) or a positive size"));
  }
  if (spec.nsamples() < 1 || spec.nsamples() > 1 << 20) {
    return Invalid("nsamples", "must be between 1 and 1048576");
  }
  // 0 = decided at inspect time from the model's context length.
  if (spec.seqlen() != 0 && (spec.seqlen() < 2 || spec.seqlen() > 1 << 20)) {
    return Invalid("seqlen", "must be between 2 and 1048576");
  }
  if (spec.eval_seqlen() < 2 || spec.eval_seqlen() > 1 << 20) {
    return Invalid("eval_seqlen", "must be between 2 and 1048576");
  }
  if (spec.iters() < 0 || spec.iters() > 1000000) {
    return Invalid("iters", "must be between 0 and 1000000");
  }
  if (spec.batch_size() < 1) return Invalid("batch_size", "must be positive");
  if (spec.lr() < 0) return Invalid("lr", "must not be negative");
  if (spec.algorithm() != v1::ALGORITHM_RTN) {
    return absl::UnimplementedError(
        "only --algorithm rtn is available in this build; SignRound tuning is not built yet");
  }
  return absl::OkStatus();
}

}  // namespace sr2::server
