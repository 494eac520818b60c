// A real Prometheus server scrapes a running coordinator and worker: PromQL sees a job's
// progress while it runs, the task and worker counters once it is done, and promtool accepts
// both endpoints' exposition. Also checks the worker's gRPC health service.
#include <chrono>
#include <cstdlib>
#include <functional>
#include <thread>

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/support/byte_buffer.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/process_supervisor.h"
#include "tests/integration/test_cluster.h"

namespace sr2::testing {
namespace {

std::string Endpoint(int port) { return absl::StrCat("127.0.0.1:", port); }

// An instant PromQL query through the HTTP API: the `data.result` array (empty on error).
nlohmann::json PromQuery(int prometheus_port, const std::string& promql) {
  const std::string url = absl::StrCat("http://", Endpoint(prometheus_port), "/api/v1/query");
  CommandResult r = RunCommand({"/usr/bin/curl", "-sf", "--max-time", "5", "--get",
                                "--data-urlencode", "query=" + promql, url},
                               10);
  nlohmann::json answer = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  if (r.exit_code != 0 || !answer.is_object() || answer["status"] != "success") {
    return nlohmann::json::array();
  }
  return answer["data"]["result"];
}

// The single value of an instant vector with one element; nullopt otherwise.
std::optional<double> SingleValue(const nlohmann::json& result) {
  if (!result.is_array() || result.size() != 1) return std::nullopt;
  return std::stod(result[0]["value"][1].get<std::string>());
}

// Polls `ok` every 250 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& ok, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return ok();
}

std::string Scrape(int port) {
  const std::string url = absl::StrCat("http://", Endpoint(port), "/metrics");
  CommandResult r = RunCommand({"/usr/bin/curl", "-sf", "--max-time", "5", url}, 10);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// `promtool check metrics` on the text; "" when clean, its complaints otherwise.
std::string PromtoolProblems(const std::string& dir, const std::string& exposition) {
  const std::string path = dir + "/scrape.txt";
  WriteFile(path, exposition);
  CommandResult r = RunCommand({"/bin/sh", "-c", "promtool check metrics < " + path}, 30);
  return r.exit_code == 0 ? "" : absl::StrCat("exit ", r.exit_code, ": ", r.out, r.err);
}

int CountSeries(const std::string& exposition) {
  int series = 0;
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    series += !line.empty() && line[0] != '#';
  }
  return series;
}

// grpc.health.v1.Health/Check for the overall status, without generated stubs: the request
// {service: ""} is empty on the wire and SERVING is field 1 = 1, i.e. the bytes 08 01.
std::string HealthCheck(const std::string& address) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::ByteBuffer request, response;
  grpc::Slice empty;
  request = grpc::ByteBuffer(&empty, 1);
  const grpc::internal::RpcMethod method("/grpc.health.v1.Health/Check",
                                         grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::Status s = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      channel.get(), method, &ctx, request, &response);
  if (!s.ok()) return absl::StrCat("error ", s.error_code(), ": ", s.error_message());
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes == std::string("\x08\x01", 2) ? "SERVING" : "status bytes of size " +
                                                                std::to_string(bytes.size());
}

TEST(MetricsTest, PrometheusScrapesCoordinatorAndWorkerWhileAJobRuns) {
  const int coordinator_metrics = FreePort();
  const int worker_metrics = FreePort();
  const int worker_health = FreePort();
  const int prometheus_port = FreePort();
  // No worker yet: the job stays running (its calibrate task queued) until one starts, so the
  // query below does not race the job.
  TestClusterOptions options;
  options.workers = 0;
  options.coordinator_args = {"--metrics-listen", Endpoint(coordinator_metrics)};
  TestCluster cluster(options);

  const std::string config = cluster.dir() + "/prometheus.yml";
  WriteFile(config, absl::StrCat(
                        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                        "scrape_configs:\n"
                        "  - job_name: sr2-coordinator\n"
                        "    static_configs: [{targets: ['", Endpoint(coordinator_metrics), "']}]\n"
                        "  - job_name: sr2-worker\n"
                        "    static_configs: [{targets: ['", Endpoint(worker_metrics), "']}]\n"));
  ProcessSupervisor prometheus;
  ASSERT_TRUE(prometheus
                  .Start({"prometheus",
                          {"/usr/bin/prometheus", "--config.file=" + config,
                           "--storage.tsdb.path=" + cluster.dir() + "/tsdb",
                           "--web.listen-address=" + Endpoint(prometheus_port), "--log.level=warn"},
                          cluster.dir() + "/logs/prometheus.log"})
                  .ok());
  // Prometheus applies new targets only every 5 s (infra-notes §2).
  ASSERT_TRUE(WaitFor(
      [&] { return SingleValue(PromQuery(prometheus_port, "up{job=\"sr2-coordinator\"}")) == 1.0; },
      std::chrono::seconds(30)))
      << "Prometheus never scraped the coordinator";

  CommandResult submitted = cluster.Sr2ctl(
      {"submit", kStoriesModel, "--out", cluster.dir() + "/out", "--calib", kCalibTokens,
       "--scheme", "W4G32", "--algorithm", "rtn", "--nsamples", "16", "--seqlen", "256"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string job = JobIdOf(submitted);
  const std::string job_selector = absl::StrCat("{job_id=\"", job, "\"}");

  // While the job runs (in calibrate, waiting for a worker): its progress through PromQL.
  const std::string in_calibrate =
      absl::StrCat("sr2_job_stage{job_id=\"", job, "\",stage=\"calibrate\"}");
  ASSERT_TRUE(WaitFor([&] { return SingleValue(PromQuery(prometheus_port, in_calibrate)) == 1.0; },
                      std::chrono::seconds(30)))
      << "no sr2_job_stage for " << job << " in calibrate";
  const std::optional<double> progress =
      SingleValue(PromQuery(prometheus_port, "sr2_job_progress_ratio" + job_selector));
  ASSERT_TRUE(progress.has_value()) << "no sr2_job_progress_ratio for " << job;
  EXPECT_GT(*progress, 0);  // Inspect is done.
  EXPECT_LT(*progress, 1);
  EXPECT_EQ(SingleValue(PromQuery(prometheus_port, "sr2_jobs{state=\"running\"}")), 1.0);
  EXPECT_EQ(SingleValue(PromQuery(prometheus_port, "sr2_job_blocks" + job_selector)), 5.0);
  EXPECT_EQ(SingleValue(PromQuery(prometheus_port, "sr2_job_blocks_done" + job_selector)), 0.0);
  EXPECT_EQ(SingleValue(PromQuery(prometheus_port, "sum(sr2_workers)")), 0.0);
  EXPECT_GE(SingleValue(PromQuery(prometheus_port, "sr2_task_queue_depth")).value_or(0), 1.0);

  // The coordinator's exposition with a running job passes promtool; its size goes in the docs.
  const std::string running_scrape = Scrape(coordinator_metrics);
  EXPECT_EQ(PromtoolProblems(cluster.dir(), running_scrape), "");
  std::cout << "coordinator scrape with one running job: " << running_scrape.size() << " bytes, "
            << CountSeries(running_scrape) << " series\n";
  // A failed RPC is counted by method and code.
  EXPECT_NE(cluster.Sr2ctl({"status", "job-00000000"}).exit_code, 0);

  cluster.StartWorker({"--metrics-listen", Endpoint(worker_metrics), "--health-listen",
                       Endpoint(worker_health)});
  ASSERT_TRUE(WaitFor([&] { return cluster.Status(job)["state"] == "SUCCEEDED"; },
                      std::chrono::seconds(180)))
      << cluster.Status(job).dump();

  // Once done: the worker's and the coordinator's counters agree, through Prometheus (each
  // target is scraped on its own schedule, so wait for both to catch up).
  const std::vector<std::string> five_blocks = {
      "sum(sr2_worker_tasks_total{kind=\"quantize_block\",outcome=\"succeeded\"})",
      "sr2_tasks_finished_total{stage=\"quantize\",outcome=\"succeeded\"}",
      "sr2_task_duration_seconds_count{stage=\"quantize\"}"};
  EXPECT_TRUE(WaitFor(
      [&] {
        for (const std::string& q : five_blocks) {
          if (SingleValue(PromQuery(prometheus_port, q)) != 5.0) return false;
        }
        return true;
      },
      std::chrono::seconds(30)))
      << "the 5 blocks never showed in Prometheus: " << PromQuery(prometheus_port, five_blocks[0])
      << PromQuery(prometheus_port, five_blocks[1]);
  EXPECT_EQ(SingleValue(PromQuery(prometheus_port,
                                  "sr2_tasks_started_total{stage=\"calibrate\"}")),
            1.0);
  // The worker is back to long-polling for work.
  EXPECT_TRUE(WaitFor(
      [&] { return SingleValue(PromQuery(prometheus_port, "sr2_workers{state=\"idle\"}")) == 1.0; },
      std::chrono::seconds(30)));
  EXPECT_GT(SingleValue(PromQuery(prometheus_port, "sr2_worker_device_memory_bytes"))
                .value_or(0),
            1e6);

  const std::string coordinator_text = Scrape(coordinator_metrics);
  EXPECT_EQ(PromtoolProblems(cluster.dir(), coordinator_text), "");
  EXPECT_EQ(coordinator_text.find("sr2_job_progress_ratio{"), std::string::npos)
      << "a finished job's series must go";
  EXPECT_NE(coordinator_text.find("sr2_jobs{state=\"succeeded\"} 1"), std::string::npos);
  EXPECT_NE(coordinator_text.find(
                "sr2_grpc_errors_total{code=\"not_found\",method=\"sr2.v1.JobService/GetJob\"} 1"),
            std::string::npos)
      << coordinator_text;
  const std::string worker_text = Scrape(worker_metrics);
  EXPECT_EQ(PromtoolProblems(cluster.dir(), worker_text), "");
  std::cout << "worker scrape: " << worker_text.size() << " bytes, " << CountSeries(worker_text)
            << " series\n";

  EXPECT_EQ(HealthCheck(Endpoint(worker_health)), "SERVING");
  EXPECT_EQ(HealthCheck(cluster.address()), "SERVING");
}

TEST(MetricsTest, BadMetricsAddressStopsTheDaemonsWithAClearError) {
  const std::string bin = BinDir();
  CommandResult coordinator =
      RunCommand({bin + "/sr2-coordinator", "--listen", Endpoint(FreePort()), "--metrics-listen",
                  "9464", "--state-dir", ::testing::TempDir() + "sr2-metrics-bad-address"},
                 30);
  EXPECT_EQ(coordinator.exit_code, 1);
  EXPECT_NE(coordinator.err.find("expected host:port"), std::string::npos) << coordinator.err;
  CommandResult worker = RunCommand(
      {bin + "/sr2-worker", "--coordinator", Endpoint(FreePort()), "--metrics-listen", "host:x"},
      30);
  EXPECT_EQ(worker.exit_code, 2);
  EXPECT_NE(worker.err.find("expected host:port"), std::string::npos) << worker.err;
}

}  // namespace
}  // namespace sr2::testing
