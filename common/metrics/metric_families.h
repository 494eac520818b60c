// Metric families built at scrape time from a snapshot (job list, scheduler counts, traffic
// counters), as opposed to prometheus-cpp's Registry, which holds series that code updates as
// events happen. Snapshot metrics never go stale: a series exists exactly while its source
// does (a running job's gauges vanish with the job).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace sr2::metrics {

using LabelPairs = std::vector<std::pair<std::string, std::string>>;

// An empty family; add its samples with AddSample.
prometheus::MetricFamily NewFamily(std::string name, std::string help,
                                   prometheus::MetricType type);

// A label value from a proto enum value's name: lower case, without the enum's prefix
// (EnumLabel("JOB_STATE_RUNNING", "JOB_STATE_") == "running").
std::string EnumLabel(const std::string& name, const std::string& prefix);

// Appends one sample to a gauge or counter family.
void AddSample(prometheus::MetricFamily* family, const LabelPairs& labels, double value);

// A Collectable whose families come from a function called on every scrape. Families without
// samples are left out of the exposition.
class CallbackCollectable : public prometheus::Collectable {
 public:
  using Collector = std::function<std::vector<prometheus::MetricFamily>()>;
  explicit CallbackCollectable(Collector collect) : collect_(std::move(collect)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  Collector collect_;
};

}  // namespace sr2::metrics
