#include "server/job_spec_defaults.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/util/status_macros.h"

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
// AutoScheme's DeltaLoss calibration (§3.1): 16 windows of 256 tokens.
constexpr int kDefaultProfileNsamples = 16;
constexpr int kDefaultProfileSeqlen = 256;
constexpr int kDefaultProfileBatch = 8;  // AutoScheme's low_gpu_mem_usage batch.
// Blocks per DeltaLoss pipeline task: small models run in two or three stages, large ones in
// stages of a few blocks that fit a worker.
constexpr int kDefaultProfileBlocksPerTask = 4;

absl::Status Invalid(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid job: ", field, " ", why));
}

absl::Status ValidateScheme(const v1::QuantScheme& s, const std::string& field) {
  if (s.bits() != 2 && s.bits() != 3 && s.bits() != 4 && s.bits() != 8) {
    return Invalid(field, absl::StrCat("has ", s.bits(), " bits; supported: 2, 3, 4, 8"));
  }
  if (s.group_size() < -1 || s.group_size() == 0) {
    return Invalid(field, absl::StrCat("has group size ", s.group_size(),
                                       "; use -1 (per row) or a positive size"));
  }
  return absl::OkStatus();
}

// auto-round's RECIPES (algorithm.md §2.8), applied to fields the user left unset.
void ApplyPreset(v1::JobSpec* spec) {
  if (spec->preset() == "best") {
    if (!spec->has_iters()) spec->set_iters(1000);
    if (spec->nsamples() == 0) spec->set_nsamples(512);
  } else if (spec->preset() == "light") {
    if (!spec->has_iters()) spec->set_iters(50);
    if (spec->lr() == 0) spec->set_lr(5e-3);
  } else if (spec->preset() == "rtn") {
    if (spec->algorithm() == v1::ALGORITHM_UNSPECIFIED) spec->set_algorithm(v1::ALGORITHM_RTN);
  }
}

}  // namespace

void FillJobSpecDefaults(v1::JobSpec* spec) {
  ApplyPreset(spec);
  // Mixed precision exports with the first candidate as the global scheme (§4.7).
  if (spec->avg_bits() > 0 && spec->candidates_size() > 0) {
    *spec->mutable_scheme() = spec->candidates(0);
  }
  // No scheme at all means the default W4G128 sym; a bare --sym/--asym keeps its choice.
  if (!spec->has_scheme()) spec->mutable_scheme()->set_sym(true);
  v1::QuantScheme* scheme = spec->mutable_scheme();
  if (scheme->bits() == 0) scheme->set_bits(kDefaultBits);
  if (scheme->group_size() == 0) scheme->set_group_size(kDefaultGroup);
  if (spec->algorithm() == v1::ALGORITHM_UNSPECIFIED) spec->set_algorithm(v1::ALGORITHM_SIGNROUND);
  if (spec->format() == v1::FORMAT_UNSPECIFIED) spec->set_format(v1::FORMAT_AUTO_ROUND);
  if (spec->nsamples() == 0) spec->set_nsamples(kDefaultNsamples);
  if (!spec->has_iters()) {
    spec->set_iters(spec->algorithm() == v1::ALGORITHM_RTN ? 0 : kDefaultIters);
  }
  if (spec->eval_seqlen() == 0) spec->set_eval_seqlen(kDefaultEvalSeqlen);
  if (spec->seed() == 0) spec->set_seed(kDefaultSeed);
  if (spec->input_mode() == v1::INPUT_MODE_UNSPECIFIED) {
    spec->set_input_mode(v1::INPUT_MODE_QUANTIZED);
  }
  if (spec->batch_size() == 0) spec->set_batch_size(kDefaultBatch);
  if (spec->avg_bits() > 0) {
    if (spec->profile_nsamples() == 0) spec->set_profile_nsamples(kDefaultProfileNsamples);
    if (spec->profile_seqlen() == 0) spec->set_profile_seqlen(kDefaultProfileSeqlen);
    if (spec->profile_batch_size() == 0) spec->set_profile_batch_size(kDefaultProfileBatch);
    if (spec->profile_blocks_per_task() == 0) {
      spec->set_profile_blocks_per_task(kDefaultProfileBlocksPerTask);
    }
  }
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
  SR2_RETURN_IF_ERROR(ValidateScheme(spec.scheme(), "scheme"));
  if (spec.avg_bits() < 0) return Invalid("avg_bits", "must not be negative");
  if (spec.avg_bits() > 0 && spec.candidates_size() < 2) {
    return Invalid("candidates", "needs at least two schemes with --avg-bits");
  }
  if (spec.avg_bits() == 0 && spec.candidates_size() > 0) {
    return Invalid("candidates", "are only used with --avg-bits");
  }
  for (int i = 0; i < spec.candidates_size(); ++i) {
    SR2_RETURN_IF_ERROR(ValidateScheme(spec.candidates(i), absl::StrCat("candidates[", i, "]")));
  }
  if (spec.avg_bits() > 0 &&
      (spec.profile_nsamples() < 1 || spec.profile_seqlen() < 2)) {
    return Invalid("profile_nsamples/profile_seqlen", "must be positive");
  }
  if (spec.avg_bits() > 0 &&
      (spec.profile_batch_size() < 1 || spec.profile_blocks_per_task() < 1)) {
    return Invalid("profile_batch_size/profile_blocks_per_task", "must be positive");
  }
  if (!spec.preset().empty() && spec.preset() != "default" && spec.preset() != "best" &&
      spec.preset() != "light" && spec.preset() != "rtn") {
    return Invalid("preset", absl::StrCat("'", spec.preset(), "' is unknown; use default, best, light or rtn"));
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
  if (!spec.device().empty() && spec.device() != "cpu" && spec.device() != "cuda") {
    return Invalid("device", absl::StrCat("'", spec.device(), "' is unknown; use cpu or cuda"));
  }
  return absl::OkStatus();
}

}  // namespace sr2::server
