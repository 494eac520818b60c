// Lookups into collected metric families, for tests of the exporters.
#pragma once

#include <string>
#include <vector>

#include <prometheus/metric_family.h>

#include "common/metrics/metric_families.h"

namespace sr2::metrics {

// The family called `name` among `families`; nullptr if none.
inline const prometheus::MetricFamily* FindFamily(
    const std::vector<prometheus::MetricFamily>& families, const std::string& name) {
  for (const prometheus::MetricFamily& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// The sample of `family` whose labels are exactly `labels`, in order; nullptr if none.
inline const prometheus::ClientMetric* FindSample(const prometheus::MetricFamily& family,
                                                  const LabelPairs& labels) {
  for (const prometheus::ClientMetric& sample : family.metric) {
    if (sample.label.size() != labels.size()) continue;
    bool same = true;
    for (size_t i = 0; i < labels.size() && same; ++i) {
      same = sample.label[i].name == labels[i].first && sample.label[i].value == labels[i].second;
    }
    if (same) return &sample;
  }
  return nullptr;
}

}  // namespace sr2::metrics
