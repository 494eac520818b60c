#include "server/job_event_log.h"

#include <algorithm>

namespace sr2::server {

JobEventLog::JobEventLog(const Clock* clock, JobEventLogOptions options)
    : clock_(clock), options_(options) {}

void JobEventLog::Append(const std::string& job_id, v1::JobLogEntry entry) {
  absl::MutexLock lock(&mu_);
  entry.set_seq(logs_[job_id].next_seq);
  entry.set_time_ms(clock_->UnixMs());
  v1::PersistedLogEntry& saved = unsaved_.emplace_back();
  saved.set_job_id(job_id);
  *saved.mutable_entry() = entry;
  KeepLocked(job_id, std::move(entry));
}

void JobEventLog::Restore(const std::string& job_id, const v1::JobLogEntry& entry) {
  absl::MutexLock lock(&mu_);
  KeepLocked(job_id, entry);
}

void JobEventLog::KeepLocked(const std::string& job_id, v1::JobLogEntry entry) {
  JobLog& log = logs_[job_id];
  log.next_seq = std::max(log.next_seq, entry.seq() + 1);
  log.entries.push_back(std::move(entry));
  const size_t max_entries = std::max(1, options_.max_entries_per_job);
  if (log.entries.size() > max_entries) {
    log.entries.erase(log.entries.begin(), log.entries.end() - max_entries);
    trims_[job_id] = log.entries.front().seq();
  }
  if (!log.listed) {
    log.listed = true;
    order_.push_back(job_id);
  }
  while (static_cast<int>(order_.size()) > std::max(1, options_.max_jobs)) {
    JobLog& oldest = logs_[order_.front()];
    oldest.entries.clear();
    oldest.listed = false;
    trims_[order_.front()] = oldest.next_seq;
    order_.pop_front();
  }
}

JobEventLog::Unsaved JobEventLog::TakeUnsaved() {
  absl::MutexLock lock(&mu_);
  Unsaved unsaved;
  for (v1::PersistedLogEntry& saved : unsaved_) {
    auto trim = trims_.find(saved.job_id());
    if (trim != trims_.end() && saved.entry().seq() < trim->second) continue;  // Dropped since.
    unsaved.entries.push_back(std::move(saved));
  }
  unsaved_.clear();
  for (const auto& [job_id, first_kept] : trims_) unsaved.trims.push_back({job_id, first_kept});
  trims_.clear();
  return unsaved;
}

JobEventLog::Slice JobEventLog::Read(const std::string& job_id, int64_t after_seq) const {
  absl::MutexLock lock(&mu_);
  Slice slice;
  auto it = logs_.find(job_id);
  if (it == logs_.end()) return slice;
  const JobLog& log = it->second;
  const int64_t first_kept = log.next_seq - static_cast<int64_t>(log.entries.size());
  slice.dropped = std::max<int64_t>(0, first_kept - 1 - std::max<int64_t>(after_seq, 0));
  for (const v1::JobLogEntry& entry : log.entries) {
    if (entry.seq() > after_seq) slice.entries.push_back(entry);
  }
  return slice;
}

}  // namespace sr2::server
