// The Prometheus endpoint of an sr2 daemon (`--metrics-listen host:port`): GET /metrics serves
// the text exposition of every registered collectable, through prometheus-cpp's Exposer.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>

#include "absl/status/statusor.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace sr2::metrics {

class MetricsServer {
 public:
  // Listens on `listen` ("host:port"; port 0 picks a free one). InvalidArgument for a
  // malformed address, Unavailable when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen, std::vector<std::shared_ptr<prometheus::Collectable>> sources);
  ~MetricsServer();

  // The port actually bound.
  int port() const { return port_; }

 private:
  MetricsServer() = default;

  // The exposer holds only weak references; these keep the sources alive while it serves.
  std::vector<std::shared_ptr<prometheus::Collectable>> sources_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace sr2::metrics
