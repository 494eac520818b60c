#include "client/golden_file.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "gtest/gtest.h"

namespace sr2 {

void ExpectMatchesGolden(const std::string& actual, const std::string& name) {
  const std::string path = std::string(kGoldenDir) + "/" + name;
  const char* update = std::getenv(kUpdateGoldenEnvVar);
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << actual;
    out.close();
    ASSERT_TRUE(out.good()) << "cannot write golden " << path;
    std::cerr << "updated golden " << path << "\n";
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in.good()) << "cannot read golden " << path
                         << " (run from the source root; create it with " << kUpdateGoldenEnvVar
                         << "=1)";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str())
      << "output differs from golden " << path << "; if the "
      << "change is intended, rerun with " << kUpdateGoldenEnvVar << "=1 and review the diff";
}

}  // namespace sr2
