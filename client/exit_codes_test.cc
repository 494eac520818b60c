#include "client/exit_codes.h"

#include "gtest/gtest.h"

namespace sr2 {
namespace {

TEST(ExitCodesTest, StatusMapping) {
  EXPECT_EQ(ExitCodeForStatus(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeForStatus(absl::InvalidArgumentError("bad flag")), 2);
  EXPECT_EQ(ExitCodeForStatus(absl::OutOfRangeError("avg bits out of range")), 2);
  EXPECT_EQ(ExitCodeForStatus(absl::UnavailableError("cannot reach")), 3);
  EXPECT_EQ(ExitCodeForStatus(absl::NotFoundError("no job x")), 1);
  EXPECT_EQ(ExitCodeForStatus(absl::FailedPreconditionError("exists")), 1);
  EXPECT_EQ(ExitCodeForStatus(absl::InternalError("boom")), 1);
}

TEST(ExitCodesTest, JobStateMapping) {
  EXPECT_EQ(ExitCodeForJobState(v1::JOB_STATE_SUCCEEDED), 0);
  EXPECT_EQ(ExitCodeForJobState(v1::JOB_STATE_FAILED), 1);
  EXPECT_EQ(ExitCodeForJobState(v1::JOB_STATE_CANCELLED), 1);
}

}  // namespace
}  // namespace sr2
