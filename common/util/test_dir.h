// A fresh, empty temp folder for the running test, unique per process and test name, so tests
// of several binaries can run at once.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace sr2::testing {

// `<gtest TempDir>/<prefix>_<pid>_<test name>`, emptied if a previous run left it behind.
inline std::string FreshTestDir(const std::string& prefix) {
  const std::string dir = ::testing::TempDir() + "/" + prefix + "_" + std::to_string(::getpid()) +
                          "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::filesystem::remove_all(dir);
  return dir;
}

}  // namespace sr2::testing
