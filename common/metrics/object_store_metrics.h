// sr2_object_store_requests_total and sr2_object_store_bytes_total (docs/operations.md) from the
// S3 traffic counters. S3's eleven operations fold into the contract's five `op` values and its
// four outcomes into `ok` / `error`, keeping the label set small.
#pragma once

#include <vector>

#include <prometheus/metric_family.h>

#include "common/store/s3_stats.h"

namespace sr2::metrics {

// The contract's `op` label of an S3 operation: get, put, delete, list or copy.
const char* ObjectStoreOpLabel(S3Operation operation);

// Both families, every op x outcome pair present (zeros included) so rate() works from the
// first scrape.
std::vector<prometheus::MetricFamily> CollectObjectStoreMetrics(const S3Stats& stats);

}  // namespace sr2::metrics
