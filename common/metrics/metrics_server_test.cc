#include "common/metrics/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/metrics/metric_families.h"

namespace sr2::metrics {
namespace {

// The whole HTTP/1.0 response to GET `path` on 127.0.0.1:`port`; "" if nothing answers.
std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) response.append(buf, n);
    }
  }
  close(fd);
  return response;
}

std::shared_ptr<prometheus::Collectable> OneGauge(double value) {
  return std::make_shared<CallbackCollectable>([value] {
    std::vector<prometheus::MetricFamily> families;
    families.push_back(NewFamily("sr2_test_value", "A test gauge", prometheus::MetricType::Gauge));
    AddSample(&families.back(), {{"kind", "a"}}, value);
    // Families without samples must not appear at all.
    families.push_back(NewFamily("sr2_test_empty", "Nothing", prometheus::MetricType::Gauge));
    return families;
  });
}

TEST(MetricsServerTest, ServesTheCollectablesOnTheBoundPort) {
  auto server = MetricsServer::Start("127.0.0.1:0", {OneGauge(2.5)});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  const std::string response = HttpGet((*server)->port(), "/metrics");
  EXPECT_NE(response.find("200 OK"), std::string::npos) << response;
  EXPECT_NE(response.find("# TYPE sr2_test_value gauge"), std::string::npos) << response;
  EXPECT_NE(response.find("sr2_test_value{kind=\"a\"} 2.5"), std::string::npos) << response;
  EXPECT_EQ(response.find("sr2_test_empty"), std::string::npos) << response;
}

TEST(MetricsServerTest, AnswersOtherPathsAndMethodsWithErrors) {
  auto server = MetricsServer::Start("localhost:0", {OneGauge(1)});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_NE(HttpGet((*server)->port(), "/").find("404 Not Found"), std::string::npos);
  EXPECT_NE(HttpGet((*server)->port(), "/metrics?x=1").find("200 OK"), std::string::npos);
}

TEST(MetricsServerTest, RejectsMalformedAddresses) {
  for (const char* bad : {"", "9464", ":9464", "127.0.0.1:", "127.0.0.1:http", "host:70000"}) {
    auto server = MetricsServer::Start(bad, {});
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(MetricsServerTest, ReportsAPortInUse) {
  auto first = MetricsServer::Start("127.0.0.1:0", {});
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = MetricsServer::Start(taken, {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
  EXPECT_NE(second.status().message().find(taken), absl::string_view::npos);
}

}  // namespace
}  // namespace sr2::metrics
