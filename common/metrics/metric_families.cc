#include "common/metrics/metric_families.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace sr2::metrics {

prometheus::MetricFamily NewFamily(std::string name, std::string help,
                                   prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

std::string EnumLabel(const std::string& name, const std::string& prefix) {
  return absl::AsciiStrToLower(absl::StartsWith(name, prefix) ? name.substr(prefix.size()) : name);
}

void AddSample(prometheus::MetricFamily* family, const LabelPairs& labels, double value) {
  prometheus::ClientMetric& sample = family->metric.emplace_back();
  for (const auto& [name, label_value] : labels) sample.label.push_back({name, label_value});
  if (family->type == prometheus::MetricType::Counter) {
    sample.counter.value = value;
  } else {
    sample.gauge.value = value;
  }
}

std::vector<prometheus::MetricFamily> CallbackCollectable::Collect() const {
  std::vector<prometheus::MetricFamily> families = collect_();
  families.erase(std::remove_if(families.begin(), families.end(),
                                [](const prometheus::MetricFamily& f) { return f.metric.empty(); }),
                 families.end());
  return families;
}

}  // namespace sr2::metrics
