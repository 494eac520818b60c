// describe, status and replan against an in-process fake JobService.
#include "client/commands.h"

#include <algorithm>
#include <memory>
#include <sstream>

#include "client/allocation_format.h"
#include "client/describe_format.h"
#include "client/exit_codes.h"
#include "client/job_format.h"
#include "client/yaml_format.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace sr2 {
namespace {

using ::testing::HasSubstr;

class FakeJobService final : public v1::JobService::Service {
 public:
  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest* request,
                      v1::Job* response) override {
    if (request->job_id() != job.id()) return {grpc::StatusCode::NOT_FOUND, "unknown job"};
    *response = job;
    return grpc::Status::OK;
  }

  grpc::Status Replan(grpc::ServerContext*, const v1::ReplanRequest* request,
                      v1::ReplanResponse* response) override {
    if (request->job_id() != job.id()) return {grpc::StatusCode::NOT_FOUND, "unknown job"};
    replanned_avg_bits = request->avg_bits();
    if (!replan_error.ok()) return replan_error;
    *response->mutable_allocation() = replan_allocation;
    return grpc::Status::OK;
  }

  grpc::Status ListJobs(grpc::ServerContext*, const v1::ListJobsRequest*,
                        v1::ListJobsResponse* response) override {
    *response->add_jobs() = job;
    return grpc::Status::OK;
  }

  // Serves `log` in pieces: each call returns at most one entry after after_seq, and the job
  // turns terminal only once the last one has been served, as a running job's log grows.
  grpc::Status GetJobLog(grpc::ServerContext*, const v1::GetJobLogRequest* request,
                         v1::GetJobLogResponse* response) override {
    if (request->job_id() != job.id()) return {grpc::StatusCode::NOT_FOUND, "unknown job"};
    log_after_seqs.push_back(request->after_seq());
    for (const v1::JobLogEntry& e : log) {
      if (e.seq() > request->after_seq()) {
        *response->add_entries() = e;
        break;
      }
    }
    const bool last = response->entries_size() == 0 ||
                      response->entries(0).seq() == log.back().seq();
    response->set_state(last ? v1::JOB_STATE_SUCCEEDED : v1::JOB_STATE_RUNNING);
    return grpc::Status::OK;
  }

  v1::Job job;
  std::vector<v1::JobLogEntry> log;
  std::vector<int64_t> log_after_seqs;
  v1::Allocation replan_allocation;
  grpc::Status replan_error = grpc::Status::OK;
  double replanned_avg_bits = 0;
};

v1::Job MixedJob() {
  v1::Job job;
  job.set_id("job-1");
  job.set_state(v1::JOB_STATE_SUCCEEDED);
  for (int bits : {2, 4}) {
    v1::QuantScheme* c = job.mutable_spec()->add_candidates();
    c->set_bits(bits);
    c->set_group_size(32);
    c->set_sym(true);
  }
  job.mutable_spec()->set_avg_bits(3);
  v1::Allocation* allocation = job.mutable_result()->mutable_allocation();
  v1::LayerSensitivity* layer = allocation->add_layers();
  layer->set_name("model.layers.0.self_attn.q_proj");
  layer->set_numel(64);
  layer->add_scores(0.5);
  layer->add_scores(0.125);
  layer->add_bits(164);
  layer->add_bits(296);
  layer->set_chosen(1);
  allocation->set_budget_bits(192);
  allocation->set_allocated_bits(164);
  allocation->set_avg_bits(164.0 / 64);
  allocation->set_predicted_score(0.5);
  return job;
}

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_.job = MixedJob();
    v1::LayerSensitivity* layer = service_.replan_allocation.add_layers();
    *layer = service_.job.result().allocation().layers(0);
    layer->set_chosen(0);
    service_.replan_allocation.set_budget_bits(160);
    service_.replan_allocation.set_allocated_bits(164);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    client_ = std::make_unique<CoordinatorClient>("127.0.0.1:" + std::to_string(port));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // Parses `args` as sr2ctl would and runs it; stdout and stderr land in out_ and err_.
  int Run(const std::vector<std::string>& args) {
    absl::StatusOr<CliArgs> parsed = ParseCliArgs(args);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    if (!parsed.ok()) return -1;
    out_.str("");
    err_.str("");
    return RunCoordinatorCommand(*parsed, *client_, CommandIo{out_, err_, false, "/"});
  }

  FakeJobService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<CoordinatorClient> client_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(CommandsTest, StatusAndDescribeYamlCarryTheJsonData) {
  EXPECT_EQ(Run({"status", "job-1", "-o", "yaml"}), kExitOk);
  EXPECT_EQ(out_.str(), ToYaml(JobToJson(service_.job)));
  EXPECT_EQ(Run({"describe", "job-1", "-o", "yaml"}), kExitOk);
  EXPECT_EQ(out_.str(), ToYaml(DescribeJson(service_.job)));
  EXPECT_THAT(out_.str(), HasSubstr("\n    chosen_scheme: W4G32\n"));
}

TEST_F(CommandsTest, ListNamesAndYaml) {
  EXPECT_EQ(Run({"list", "-o", "name"}), kExitOk);
  EXPECT_EQ(out_.str(), "job-1\n");
  EXPECT_EQ(Run({"list", "-o", "yaml"}), kExitOk);
  EXPECT_EQ(out_.str().rfind("- id: job-1\n  state: SUCCEEDED\n", 0), 0u) << out_.str();
}

std::vector<v1::JobLogEntry> ThreeEntries() {
  std::vector<v1::JobLogEntry> log(3);
  const char* messages[] = {"submitted: /m -> /o", "task calibrate granted to worker w-1 (attempt 1)",
                            "job succeeded in 1.0 s"};
  for (int i = 0; i < 3; ++i) {
    log[i].set_seq(i + 1);
    log[i].set_time_ms(1714564800000 + i * 1000);
    log[i].set_message(messages[i]);
  }
  return log;
}

TEST_F(CommandsTest, LogsPrintsWhatIsThereAndFollowReadsOnToTheEnd) {
  service_.log = ThreeEntries();
  EXPECT_EQ(Run({"logs", "job-1"}), kExitOk);
  EXPECT_EQ(out_.str(), "2024-05-01T12:00:00Z  submitted: /m -> /o\n");  // One read only.
  EXPECT_EQ(service_.log_after_seqs, std::vector<int64_t>{0});

  service_.log_after_seqs.clear();
  EXPECT_EQ(Run({"logs", "job-1", "--follow", "-o", "json"}), kExitOk);
  EXPECT_EQ(service_.log_after_seqs, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_THAT(out_.str(), HasSubstr("\"seq\":3,"));
  const std::string lines = out_.str();
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 3);
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CommandsTest, LogsOfUnknownJobAndEmptyLog) {
  EXPECT_EQ(Run({"logs", "job-404"}), kExitFailed);
  EXPECT_EQ(err_.str(), "sr2ctl: error: no job job-404\n");
  EXPECT_EQ(Run({"logs", "job-1"}), kExitOk);
  EXPECT_EQ(out_.str(), "");
  EXPECT_THAT(err_.str(), HasSubstr("no log entries for job job-1"));
}

TEST_F(CommandsTest, DescribePrintsTheFullTable) {
  EXPECT_EQ(Run({"describe", "job-1"}), kExitOk);
  EXPECT_EQ(out_.str(), DescribeTable(service_.job));
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CommandsTest, DescribeAndStatusJsonCarryTheAllocation) {
  EXPECT_EQ(Run({"describe", "job-1", "-o", "json"}), kExitOk);
  nlohmann::ordered_json described = nlohmann::ordered_json::parse(out_.str());
  EXPECT_EQ(described["allocation"]["candidates"],
            nlohmann::ordered_json::array({"W2G32", "W4G32"}));
  EXPECT_EQ(described["allocation"]["layers"][0]["chosen_scheme"], "W4G32");

  EXPECT_EQ(Run({"status", "job-1", "-o", "json"}), kExitOk);
  nlohmann::ordered_json status = nlohmann::ordered_json::parse(out_.str());
  EXPECT_EQ(status.begin().key(), "id");
  EXPECT_EQ(status["allocation"], described["allocation"]);
  EXPECT_EQ(status["spec"]["avg_bits"], 3.0);
}

TEST_F(CommandsTest, DescribeUnknownJobIsNotFound) {
  EXPECT_EQ(Run({"describe", "nope"}), kExitFailed);
  EXPECT_EQ(err_.str(), "sr2ctl: error: no job nope\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(CommandsTest, ReplanPrintsTheNewAllocation) {
  EXPECT_EQ(Run({"replan", "job-1", "--avg-bits", "2.5"}), kExitOk);
  EXPECT_DOUBLE_EQ(service_.replanned_avg_bits, 2.5);
  EXPECT_EQ(out_.str(), ReplanTable("job-1", 2.5, service_.replan_allocation,
                                    service_.job.spec().candidates()));
  EXPECT_THAT(out_.str(), HasSubstr("5.000e-01*"));
  EXPECT_EQ(err_.str(), "");

  EXPECT_EQ(Run({"replan", "job-1", "--avg-bits=2.5", "-o", "json"}), kExitOk);
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(out_.str());
  EXPECT_EQ(j["job_id"], "job-1");
  EXPECT_EQ(j["allocation"]["budget_bits"], 160);
  EXPECT_EQ(j["allocation"]["layers"][0]["chosen_scheme"], "W2G32");
}

TEST_F(CommandsTest, ReplanCoordinatorErrorsAreOneLineWithMappedExitCodes) {
  service_.replan_error = {grpc::StatusCode::FAILED_PRECONDITION, "job has no DeltaLoss table"};
  EXPECT_EQ(Run({"replan", "job-1", "--avg-bits", "3"}), kExitFailed);
  EXPECT_EQ(err_.str(), "sr2ctl: error: job has no DeltaLoss table\n");
  EXPECT_EQ(out_.str(), "");

  service_.replan_error = {grpc::StatusCode::INVALID_ARGUMENT, "avg bits out of range [2.0, 4.0]"};
  EXPECT_EQ(Run({"replan", "job-1", "--avg-bits", "9"}), kExitUsage);
  EXPECT_EQ(err_.str(), "sr2ctl: error: avg bits out of range [2.0, 4.0]\n");

  EXPECT_EQ(Run({"replan", "nope", "--avg-bits", "3"}), kExitFailed);
  EXPECT_EQ(err_.str(), "sr2ctl: error: no job nope\n");
}

}  // namespace
}  // namespace sr2
