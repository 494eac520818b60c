// Propagation helpers for absl::Status / absl::StatusOr (error-handling rules: docs/errors.md).
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SR2_CONCAT_INNER(a, b) a##b
#define SR2_CONCAT(a, b) SR2_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define SR2_RETURN_IF_ERROR(expr)               \
  do {                                          \
    ::absl::Status sr2_status_ = (expr);        \
    if (!sr2_status_.ok()) return sr2_status_;  \
  } while (0)

// `lhs = value of expr` or returns its error. `lhs` may declare a variable: `auto x`.
#define SR2_ASSIGN_OR_RETURN(lhs, expr) \
  SR2_ASSIGN_OR_RETURN_IMPL(SR2_CONCAT(sr2_statusor_, __LINE__), lhs, expr)
#define SR2_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

namespace sr2 {

// Prefixes a status message with context ("reading model.safetensors: ...").
inline absl::Status Annotate(const absl::Status& s, std::string_view context) {
  if (s.ok()) return s;
  return absl::Status(s.code(), std::string(context) + ": " + std::string(s.message()));
}

}  // namespace sr2
