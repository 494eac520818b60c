#include "server/job_spec_defaults.h"

#include <gtest/gtest.h>

namespace sr2::server {
namespace {

v1::JobSpec MinimalSpec() {
  v1::JobSpec spec;
  spec.set_model_uri("/m");
  spec.set_out_uri("/o");
  spec.set_calib_uri("/c.i32");
  spec.set_algorithm(v1::ALGORITHM_RTN);
  return spec;
}

TEST(JobSpecDefaultsTest, FillsUnsetFieldsOnly) {
  v1::JobSpec spec = MinimalSpec();
  spec.set_nsamples(16);
  FillJobSpecDefaults(&spec);
  EXPECT_EQ(spec.scheme().bits(), 4);
  EXPECT_EQ(spec.scheme().group_size(), 128);
  EXPECT_EQ(spec.nsamples(), 16);
  EXPECT_EQ(spec.seqlen(), 0);  // resolved from the model at inspect time
  EXPECT_TRUE(spec.scheme().sym());
  EXPECT_EQ(spec.iters(), 0);  // RTN does not tune
  EXPECT_EQ(spec.format(), v1::FORMAT_AUTO_ROUND);
  EXPECT_EQ(spec.eval_seqlen(), 256);
  EXPECT_TRUE(ValidateJobSpec(spec).ok());
}

TEST(JobSpecDefaultsTest, BareAsymKeepsItsChoice) {
  v1::JobSpec spec = MinimalSpec();
  spec.mutable_scheme()->set_sym(false);
  FillJobSpecDefaults(&spec);
  EXPECT_FALSE(spec.scheme().sym());
  EXPECT_EQ(spec.scheme().bits(), 4);
}

TEST(JobSpecDefaultsTest, SeqlenFollowsShortContexts) {
  v1::JobSpec spec = MinimalSpec();
  ResolveSeqlen(&spec, 512);
  EXPECT_EQ(spec.seqlen(), 512);
  v1::JobSpec long_context = MinimalSpec();
  ResolveSeqlen(&long_context, 131072);
  EXPECT_EQ(long_context.seqlen(), 2048);
  v1::JobSpec explicit_seqlen = MinimalSpec();
  explicit_seqlen.set_seqlen(256);
  ResolveSeqlen(&explicit_seqlen, 512);
  EXPECT_EQ(explicit_seqlen.seqlen(), 256);
}

TEST(JobSpecDefaultsTest, RejectsBadFieldsByName) {
  auto expect_invalid = [](v1::JobSpec spec, const std::string& field) {
    FillJobSpecDefaults(&spec);
    absl::Status s = ValidateJobSpec(spec);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_NE(s.message().find(field), std::string::npos) << s;
  };
  v1::JobSpec no_out = MinimalSpec();
  no_out.clear_out_uri();
  expect_invalid(no_out, "out_uri");
  v1::JobSpec bad_bits = MinimalSpec();
  bad_bits.mutable_scheme()->set_bits(5);
  expect_invalid(bad_bits, "bits");
  v1::JobSpec bad_group = MinimalSpec();
  bad_group.mutable_scheme()->set_group_size(-7);
  expect_invalid(bad_group, "group size");
  v1::JobSpec bad_seqlen = MinimalSpec();
  bad_seqlen.set_seqlen(-1);
  expect_invalid(bad_seqlen, "seqlen");
}

TEST(JobSpecDefaultsTest, MixedPrecisionProfileDefaultsAndBounds) {
  v1::JobSpec spec = MinimalSpec();
  spec.set_avg_bits(3);
  spec.add_candidates()->set_bits(2);
  spec.add_candidates()->set_bits(4);
  for (v1::QuantScheme& c : *spec.mutable_candidates()) c.set_group_size(32);
  FillJobSpecDefaults(&spec);
  EXPECT_EQ(spec.profile_nsamples(), 16);
  EXPECT_EQ(spec.profile_seqlen(), 256);
  EXPECT_EQ(spec.profile_batch_size(), 8);
  EXPECT_EQ(spec.profile_blocks_per_task(), 4);
  EXPECT_TRUE(ValidateJobSpec(spec).ok());
  spec.set_profile_blocks_per_task(-1);
  EXPECT_EQ(ValidateJobSpec(spec).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sr2::server
