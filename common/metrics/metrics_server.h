// The Prometheus endpoint of an sr2 daemon (`--metrics-listen host:port`): GET /metrics serves
// the text exposition (prometheus-cpp's TextSerializer) of every registered collectable.
//
// Not prometheus-cpp's civetweb Exposer: civetweb starts its threads with a fixed 100 KiB stack,
// and in the worker the static TLS of libtorch's dependencies (OpenBLAS 60 KiB, glog 30 KiB)
// leaves no room in it, so pthread_create fails with EINVAL. Scrapes are rare and small, so one
// thread answering one connection at a time, with I/O timeouts, is enough.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/collectable.h>

#include "absl/status/statusor.h"

namespace sr2::metrics {

class MetricsServer {
 public:
  // Listens on `listen` ("host:port", host a name, an IPv4 address or a bracketed IPv6 one;
  // port 0 picks a free one). InvalidArgument for a malformed address, Unavailable when it
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen, std::vector<std::shared_ptr<prometheus::Collectable>> sources);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port actually bound.
  int port() const { return port_; }

  // The exposition text of every source (what GET /metrics answers).
  std::string Exposition() const;

 private:
  MetricsServer(int fd, int port, std::vector<std::shared_ptr<prometheus::Collectable>> sources);
  void Serve();
  void Answer(int connection) const;

  const int fd_;
  const int port_;
  const std::vector<std::shared_ptr<prometheus::Collectable>> sources_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace sr2::metrics
