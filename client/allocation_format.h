// Renders a mixed-precision job's DeltaLoss table and bit allocation (JobResult.allocation,
// ReplanResponse) for people and for scripts.
#pragma once

#include <string>

#include "google/protobuf/repeated_field.h"
#include "nlohmann/json.hpp"
#include "sr2/v1/common.pb.h"

namespace sr2 {

using CandidateList = google::protobuf::RepeatedPtrField<v1::QuantScheme>;

// One row per layer: LAYER, NUMEL, one score column per candidate (headed "W2G32"; "#i" when
// the job's spec names fewer candidates than there are scores), CHOSEN and its BITS. The
// chosen score is marked with '*'. Footer: budget, allocated and average bits, predicted
// score. Missing cells print "-" and a chosen index out of range prints "invalid #i". Every
// line starts with `indent` spaces.
std::string AllocationTable(const v1::Allocation& allocation, const CandidateList& candidates,
                            int indent = 0);

// {"candidates": ["W2G32", ...], "budget_bits", "allocated_bits", "avg_bits",
//  "predicted_score", "layers": [{"name", "numel", "scores", "bits", "chosen",
//  "chosen_scheme" (null when the index is out of range)}]}.
nlohmann::ordered_json AllocationToJson(const v1::Allocation& allocation,
                                        const CandidateList& candidates);

// `sr2ctl replan`: "Job J replanned for avg bits B:" over AllocationTable.
std::string ReplanTable(const std::string& job_id, double target_avg_bits,
                        const v1::Allocation& allocation, const CandidateList& candidates);

// {"job_id", "target_avg_bits", "allocation": AllocationToJson}.
nlohmann::ordered_json ReplanJson(const std::string& job_id, double target_avg_bits,
                                  const v1::Allocation& allocation,
                                  const CandidateList& candidates);

}  // namespace sr2
