// Plain-text columns for sr2ctl's tables.
#pragma once

#include <string>
#include <vector>

namespace sr2 {

// Columns padded to their widest cell, two spaces apart; the last column is not padded.
// Every line starts with `indent` spaces and ends with "\n".
std::string RenderColumns(const std::vector<std::vector<std::string>>& rows, int indent = 0);

}  // namespace sr2
