// Golden-file comparison for sr2ctl's renderer tests. Goldens live in client/testdata/ and are
// read relative to the working directory (tests run from the source root). Run a test with
// SR2_UPDATE_GOLDEN=1 to rewrite the goldens it checks from the current output, then review
// the diff.
#pragma once

#include <string>

namespace sr2 {

inline constexpr char kGoldenDir[] = "client/testdata";
inline constexpr char kUpdateGoldenEnvVar[] = "SR2_UPDATE_GOLDEN";

// Fails the current test unless `actual` equals kGoldenDir/`name` byte for byte; rewrites the
// file instead when $SR2_UPDATE_GOLDEN is 1.
void ExpectMatchesGolden(const std::string& actual, const std::string& name);

}  // namespace sr2
