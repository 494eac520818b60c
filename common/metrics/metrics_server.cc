#include "common/metrics/metrics_server.h"

#include <exception>

#include <prometheus/exposer.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sr2::metrics {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, std::vector<std::shared_ptr<prometheus::Collectable>> sources) {
  // civetweb would read a bare "9464" as a port on every interface; insist on host:port so
  // that exposing metrics beyond loopback is always a visible choice.
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(absl::string_view(listen).substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad metrics address '", listen, "': expected host:port"));
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  try {
    server->exposer_ = std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", listen, ": ", e.what()));
  }
  server->sources_ = std::move(sources);
  for (const auto& source : server->sources_) server->exposer_->RegisterCollectable(source);
  const std::vector<int> ports = server->exposer_->GetListeningPorts();
  server->port_ = ports.empty() ? port : ports.front();
  return server;
}

// Out of line: Exposer is only forward-declared in the header.
MetricsServer::~MetricsServer() = default;

}  // namespace sr2::metrics
