// `sr2ctl completion bash|zsh`: a shell completion script generated from the parser's own
// command and flag tables, so it cannot drift from what sr2ctl accepts.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace sr2 {

// The name of the bash function the scripts define (the tests call it).
inline constexpr char kCompletionFunction[] = "_sr2ctl";

// Completes commands, each command's flags, the values of enumerated flags (-o, --algorithm,
// --format, --input-mode, --preset, --device), paths for submit/local, and job ids (from
// `sr2ctl list -o name`, run with the same binary and --coordinator as the line being
// completed). zsh gets the bash function through bashcompinit. InvalidArgument for another
// shell.
absl::StatusOr<std::string> CompletionScript(const std::string& shell);

}  // namespace sr2
