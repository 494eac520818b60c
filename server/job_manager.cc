#include "server/job_manager.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/store/store_factory.h"
#include "server/bit_planner.h"
#include "server/checkpoint_assembler.h"
#include "server/job_log_entries.h"
#include "server/job_planner.h"
#include "server/job_spec_defaults.h"
#include "server/state/persisted_records.h"
#include "server/task_requirements.h"
#include "server/profile_planner.h"

namespace sr2::server {
namespace {

// Share of the whole job each stage stands for, for progress and ETA.
double StageWeight(v1::Stage s) {
  switch (s) {
    case v1::STAGE_INSPECT:
      return 0.02;
    case v1::STAGE_CALIBRATE:
      return 0.03;
    case v1::STAGE_PROFILE:
      return 0.15;
    case v1::STAGE_ALLOCATE:
      return 0.01;
    case v1::STAGE_QUANTIZE:
      return 0.80;
    case v1::STAGE_ASSEMBLE:
      return 0.05;
    case v1::STAGE_EVALUATE:
      return 0.10;
    default:
      return 0;
  }
}

bool IsMixed(const v1::JobSpec& spec) { return spec.avg_bits() > 0; }

// The stages a job goes through, in order.
std::vector<v1::Stage> Pipeline(const v1::JobSpec& spec) {
  std::vector<v1::Stage> stages = {v1::STAGE_INSPECT, v1::STAGE_CALIBRATE};
  if (IsMixed(spec)) {
    stages.push_back(v1::STAGE_PROFILE);
    stages.push_back(v1::STAGE_ALLOCATE);
  }
  stages.push_back(v1::STAGE_QUANTIZE);
  stages.push_back(v1::STAGE_ASSEMBLE);
  if (!spec.eval_uri().empty()) stages.push_back(v1::STAGE_EVALUATE);
  return stages;
}

std::string NewJobId() {
  static std::mt19937_64 rng{std::random_device{}()};
  return absl::StrFormat("job-%08x", static_cast<uint32_t>(rng()));
}

std::string TaskId(const std::string& job_id, const std::string& name) {
  return absl::StrCat(job_id, "/", name);
}

std::string BlockTaskName(int block) { return absl::StrFormat("block-%05d", block); }

// Workers of another major.minor version speak a different task contract.
bool CompatibleVersion(const std::string& worker_version) {
  auto major_minor = [](const std::string& v) {
    std::vector<std::string> parts = absl::StrSplit(v, '.');
    return parts.size() >= 2 ? absl::StrCat(parts[0], ".", parts[1]) : v;
  };
  return major_minor(worker_version) == major_minor(SR2_VERSION);
}

}  // namespace

JobManager::JobManager(const CoordinatorOptions& options, const Clock* clock, StateStore* state,
                       TaskEvents* events)
    : options_(options),
      clock_(clock),
      state_(state),
      scheduler_(clock, SchedulerOptions{options.lease_ms, options.max_task_attempts}, events) {}

JobManager::~JobManager() { Stop(); }

void JobManager::Start() {
  driver_ = std::thread([this] { DriverLoop(); });
  sweeper_ = std::thread([this] { SweepLoop(); });
}

void JobManager::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !driver_.joinable()) return;
    stopping_ = true;
    driver_cv_.SignalAll();
    sweep_cv_.SignalAll();
    work_cv_.SignalAll();
    changed_cv_.SignalAll();
  }
  if (driver_.joinable()) driver_.join();
  if (sweeper_.joinable()) sweeper_.join();
}

bool JobManager::IsTerminal(v1::JobState s) {
  return s == v1::JOB_STATE_SUCCEEDED || s == v1::JOB_STATE_FAILED ||
         s == v1::JOB_STATE_CANCELLED;
}

void JobManager::Post(std::function<void()> action) {
  actions_.push_back(std::move(action));
  driver_cv_.Signal();
}

void JobManager::DriverLoop() {
  for (;;) {
    std::function<void()> action;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && actions_.empty()) driver_cv_.Wait(&mu_);
      if (stopping_) return;
      action = std::move(actions_.front());
      actions_.pop_front();
    }
    action();
  }
}

void JobManager::SweepLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    sweep_cv_.WaitWithTimeout(&mu_, absl::Milliseconds(options_.lease_sweep_interval_ms));
    if (stopping_) return;
    for (const AttemptEnd& end : scheduler_.ExpireLeases()) HandleAttemptEndLocked(end);
    UpdateWaitingReasonsLocked();
  }
}

WorkerCapacity JobManager::CapacityOf(const std::string& worker_id) const {
  const WorkerRecord& w = workers_.at(worker_id);
  return WorkerCapacity{worker_id, w.info.device(), w.info.memory_bytes()};
}

void JobManager::UpdateWaitingReasonsLocked() {
  std::vector<WorkerCapacity> live;
  for (const auto& [id, w] : workers_) {
    if (IsLiveLocked(w)) live.push_back(CapacityOf(id));
  }
  std::map<std::string, std::string> reasons;  // by job: its first task nobody can hold
  for (const TaskRecord* t : scheduler_.ReadyTasks()) {
    const std::string& job = t->task.job_id();
    if (reasons.count(job)) continue;
    const v1::TaskRequirements& needs = t->task.requirements();
    const bool holdable = std::any_of(live.begin(), live.end(), [&](const WorkerCapacity& w) {
      return CanHold(w, needs);
    });
    if (holdable || live.empty()) continue;  // No workers at all is not a capability problem.
    int64_t largest = 0;
    for (const WorkerCapacity& w : live) largest = std::max(largest, w.memory_bytes);
    reasons[job] = absl::StrFormat(
        "no worker can hold task %s (needs %s%.2f GiB; %d live workers, largest %.2f GiB)",
        t->task.task_id(), needs.device().empty() ? "" : absl::StrCat("device ", needs.device(), ", "),
        needs.memory_bytes() / double(1 << 30), live.size(), largest / double(1 << 30));
  }
  for (auto& [id, rec] : jobs_) {
    if (IsTerminal(rec.job.state())) continue;
    const std::string reason = reasons.count(id) ? reasons[id] : "";
    if (reason != rec.job.waiting_reason()) {
      rec.job.set_waiting_reason(reason);
      NotifyLocked(rec);  // Recomputed every sweep: nothing to save.
    }
  }
}

JobManager::JobRecord* JobManager::FindLocked(const std::string& job_id) {
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : &it->second;
}

void JobManager::NotifyLocked(JobRecord& rec) {
  RefreshProgressLocked(rec);
  rec.version++;
  changed_cv_.SignalAll();
}

void JobManager::TouchLocked(JobRecord& rec) {
  NotifyLocked(rec);  // Watchers read once the lock is released, so after the save below.
  if (absl::Status saved = SaveLocked(rec); !saved.ok() && !IsTerminal(rec.job.state())) {
    std::fprintf(stderr, "sr2-coordinator: %s\n", std::string(saved.message()).c_str());
    // Not FailJobLocked: it would touch (and try to save) again.
    rec.job.set_state(v1::JOB_STATE_FAILED);
    rec.job.set_error(absl::StrCat("the coordinator could not save the job's state: ",
                                   saved.message()));
    rec.job.set_end_time_ms(clock_->UnixMs());
    scheduler_.RemoveJob(rec.job.id());
    (void)SaveLocked(rec);
    events_.Append(rec.job.id(), JobEndedEntry(rec.job));
    const std::string id = rec.job.id();
    Post([this, id] { RunCleanup(id); });
  }
}

absl::Status JobManager::SaveLocked(const JobRecord& rec) {
  StateBatch batch;
  v1::PersistedJob& job = batch.jobs.emplace_back();
  *job.mutable_job() = rec.job;
  job.set_num_blocks(rec.num_blocks);
  job.set_work_uri(rec.work_uri);
  job.set_cleaned_up(rec.cleaned_up);
  for (const v1::LayerResult& l : rec.skipped) *job.add_skipped() = l;
  for (const LinearLayer& l : rec.layers) *job.add_layers() = ToPersisted(l);
  for (const auto& [kind, needs] : rec.needs) (*job.mutable_requirements())[kind] = needs;
  TaskScheduler::Changes changes = scheduler_.TakeChanges();
  batch.jobs_without_tasks = std::move(changes.removed_jobs);
  JobEventLog::Unsaved log = events_.TakeUnsaved();
  batch.log_entries = std::move(log.entries);
  batch.log_trims = std::move(log.trims);
  for (const std::string& id : changes.tasks) {
    if (const TaskRecord* t = scheduler_.Find(id); t != nullptr) {
      batch.tasks.push_back(ToPersisted(*t));
    }
  }
  return state_->Apply(batch);
}

absl::Status JobManager::Restore() {
  absl::StatusOr<StateSnapshot> snapshot = state_->Load();
  if (!snapshot.ok()) return snapshot.status();
  absl::MutexLock lock(&mu_);
  const int64_t now_ms = clock_->NowMs();
  const int64_t unix_ms = clock_->UnixMs();
  for (const v1::PersistedJob& saved : snapshot->jobs) {
    JobRecord& rec = jobs_[saved.job().id()];
    rec.job = saved.job();
    rec.num_blocks = saved.num_blocks();
    rec.work_uri = saved.work_uri();
    rec.cleaned_up = saved.cleaned_up();
    rec.skipped.assign(saved.skipped().begin(), saved.skipped().end());
    for (const v1::PersistedLinear& l : saved.layers()) rec.layers.push_back(FromPersisted(l));
    rec.needs.insert(saved.requirements().begin(), saved.requirements().end());
    // Monotonic times restart from the wall-clock ones, so ETAs carry on.
    if (rec.job.start_time_ms() > 0) rec.start_ms = now_ms - (unix_ms - rec.job.start_time_ms());
    for (const v1::StageProgress& p : rec.job.stages()) {
      rec.stage_start_ms[p.stage()] = now_ms - static_cast<int64_t>(p.elapsed_seconds() * 1000);
    }
  }
  for (const v1::PersistedTask& saved : snapshot->tasks) {
    auto it = jobs_.find(saved.task().job_id());
    if (it == jobs_.end() || IsTerminal(it->second.job.state())) continue;
    scheduler_.Restore(FromPersisted(saved));
  }
  scheduler_.FinishRestore();
  (void)scheduler_.TakeChanges();  // Restored as saved: nothing new to write.
  for (const v1::PersistedLogEntry& saved : snapshot->log_entries) {
    events_.Restore(saved.job_id(), saved.entry());
  }
  int resumed = 0;
  for (auto& [id, rec] : jobs_) {
    if (IsTerminal(rec.job.state())) {
      // It ended just before the coordinator stopped, before its cleanup ran.
      if (!rec.cleaned_up) Post([this, job_id = id] { RunCleanup(job_id); });
      continue;
    }
    ResumeLocked(rec);
    ++resumed;
  }
  if (!jobs_.empty()) {
    std::fprintf(stderr, "sr2-coordinator: restored %zu jobs from %s, %d unfinished resume\n",
                 jobs_.size(), options_.state_dir.c_str(), resumed);
  }
  return absl::OkStatus();
}

void JobManager::ResumeLocked(JobRecord& rec) {
  const std::string id = rec.job.id();
  const std::vector<const TaskRecord*> tasks = scheduler_.TasksOfJob(id);
  // The stage transitions that run on the driver thread are re-posted; task stages carry on
  // from the restored tasks. Every driver action is idempotent.
  if (tasks.empty()) {
    // Inspect had not finished: plan again from the start.
    rec.job.set_state(v1::JOB_STATE_PENDING);
    rec.job.clear_stages();
    rec.stage_start_ms.clear();
    Post([this, id] { RunInspect(id); });
    return;
  }
  switch (rec.job.stage()) {
    case v1::STAGE_ALLOCATE:
      Post([this, id] { RunAllocate(id); });
      break;
    case v1::STAGE_ASSEMBLE:
      // Without an evaluation, an assembled job was publishing.
      if (rec.job.result().manifest_sha256().empty()) {
        Post([this, id] { RunAssemble(id); });
      } else {
        Post([this, id] { RunPublish(id); });
      }
      break;
    case v1::STAGE_EVALUATE:
      if (DoneTasksLocked(id, v1::TASK_KIND_EVALUATE) == 1) Post([this, id] { RunPublish(id); });
      break;
    default:
      break;
  }
}

void JobManager::EnterStageLocked(JobRecord& rec, v1::Stage stage, int total) {
  rec.job.set_stage(stage);
  rec.stage_start_ms[stage] = clock_->NowMs();
  v1::StageProgress* p = rec.job.add_stages();
  p->set_stage(stage);
  p->set_total(total);
  events_.Append(rec.job.id(), StageStartedEntry(stage, total));
}

void JobManager::FinishStageLocked(JobRecord& rec, v1::Stage stage) {
  for (v1::StageProgress& p : *rec.job.mutable_stages()) {
    if (p.stage() == stage) p.set_done(p.total());
  }
}

void JobManager::RefreshProgressLocked(JobRecord& rec) {
  const int64_t now = clock_->NowMs();
  double total_weight = 0, done_weight = 0;
  for (v1::Stage s : Pipeline(rec.job.spec())) total_weight += StageWeight(s);
  for (v1::StageProgress& p : *rec.job.mutable_stages()) {
    // Running tasks contribute their heartbeat progress to the stage's done count.
    double partial = 0;
    if (p.done() < p.total() && !IsTerminal(rec.job.state())) {
      for (const TaskRecord* t : scheduler_.TasksOfJob(rec.job.id())) {
        const bool in_stage =
            (p.stage() == v1::STAGE_CALIBRATE && t->task.kind() == v1::TASK_KIND_CALIBRATE) ||
            (p.stage() == v1::STAGE_PROFILE && t->task.kind() == v1::TASK_KIND_PROFILE) ||
            (p.stage() == v1::STAGE_QUANTIZE && t->task.kind() == v1::TASK_KIND_QUANTIZE_BLOCK) ||
            (p.stage() == v1::STAGE_EVALUATE && t->task.kind() == v1::TASK_KIND_EVALUATE);
        if (in_stage && t->state == TaskState::kRunning) partial += t->progress;
      }
    }
    auto start = rec.stage_start_ms.find(p.stage());
    if (start != rec.stage_start_ms.end() && (p.done() < p.total() || p.elapsed_seconds() == 0)) {
      p.set_elapsed_seconds((now - start->second) / 1000.0);
    }
    const double frac = p.total() > 0 ? std::min(1.0, (p.done() + partial) / p.total()) : 0;
    done_weight += StageWeight(p.stage()) * frac;
  }
  const double progress = total_weight > 0 ? done_weight / total_weight : 0;
  rec.job.set_progress(rec.job.state() == v1::JOB_STATE_SUCCEEDED ? 1.0 : progress);
  const double elapsed = (now - rec.start_ms) / 1000.0;
  if (IsTerminal(rec.job.state())) {
    rec.job.set_eta_seconds(0);
  } else if (progress > 0.03 && rec.start_ms > 0) {
    rec.job.set_eta_seconds(elapsed * (1 - progress) / progress);
  } else {
    rec.job.set_eta_seconds(-1);
  }
}

absl::StatusOr<std::string> JobManager::Submit(v1::JobSpec spec) {
  FillJobSpecDefaults(&spec);
  if (absl::Status s = ValidateJobSpec(spec); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("coordinator is shutting down");
  std::string id = NewJobId();
  while (jobs_.count(id)) id = NewJobId();
  JobRecord& rec = jobs_[id];
  rec.job.set_id(id);
  *rec.job.mutable_spec() = std::move(spec);
  rec.job.set_state(v1::JOB_STATE_PENDING);
  rec.job.set_create_time_ms(clock_->UnixMs());
  rec.job.set_eta_seconds(-1);
  rec.work_uri = JoinUri(options_.store_uri, absl::StrCat("jobs/", id));
  // A job is accepted only once it is saved: an acknowledged job survives a restart.
  if (absl::Status saved = SaveLocked(rec); !saved.ok()) {
    jobs_.erase(id);
    return absl::UnavailableError(absl::StrCat("cannot accept the job: ", saved.message()));
  }
  events_.Append(id, SubmittedEntry(rec.job.spec()));
  NotifyLocked(rec);
  Post([this, id] { RunInspect(id); });
  return id;
}

absl::StatusOr<v1::Job> JobManager::Get(const std::string& job_id) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("no job ", job_id));
  return it->second.job;
}

std::vector<v1::Job> JobManager::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Job> out;
  for (const auto& [id, rec] : jobs_) out.push_back(rec.job);
  std::sort(out.begin(), out.end(), [](const v1::Job& a, const v1::Job& b) {
    return a.create_time_ms() < b.create_time_ms();
  });
  return out;
}

absl::StatusOr<v1::JobState> JobManager::Cancel(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  JobRecord* rec = FindLocked(job_id);
  if (rec == nullptr) return absl::NotFoundError(absl::StrCat("no job ", job_id));
  if (IsTerminal(rec->job.state())) return rec->job.state();
  rec->job.set_state(v1::JOB_STATE_CANCELLED);
  rec->job.set_error("cancelled by user");
  rec->job.set_end_time_ms(clock_->UnixMs());
  events_.Append(job_id, JobEndedEntry(rec->job));
  scheduler_.RemoveJob(job_id);
  TouchLocked(*rec);
  Post([this, job_id] { RunCleanup(job_id); });
  return rec->job.state();
}

absl::StatusOr<v1::Job> JobManager::WaitForChange(const std::string& job_id, int64_t* version,
                                                  absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("no job ", job_id));
    if (it->second.version > *version) {
      *version = it->second.version;
      return it->second.job;
    }
    if (stopping_) return absl::UnavailableError("coordinator is shutting down");
    if (changed_cv_.WaitWithDeadline(&mu_, deadline)) {
      return absl::DeadlineExceededError("no change");
    }
  }
}

void JobManager::FailJobLocked(JobRecord& rec, const std::string& error) {
  if (IsTerminal(rec.job.state())) return;
  rec.job.set_state(v1::JOB_STATE_FAILED);
  rec.job.set_error(error);
  rec.job.set_end_time_ms(clock_->UnixMs());
  events_.Append(rec.job.id(), JobEndedEntry(rec.job));
  scheduler_.RemoveJob(rec.job.id());
  TouchLocked(rec);
  const std::string id = rec.job.id();
  Post([this, id] { RunCleanup(id); });
}

void JobManager::RunInspect(const std::string& job_id) {
  v1::JobSpec spec;
  {
    absl::MutexLock lock(&mu_);
    JobRecord* rec = FindLocked(job_id);
    if (rec == nullptr || IsTerminal(rec->job.state())) return;
    rec->job.set_state(v1::JOB_STATE_RUNNING);
    rec->job.set_start_time_ms(clock_->UnixMs());
    rec->start_ms = clock_->NowMs();
    EnterStageLocked(*rec, v1::STAGE_INSPECT, 1);
    TouchLocked(*rec);
    spec = rec->job.spec();
  }
  absl::StatusOr<JobPlan> plan = PlanJob(&spec);

  absl::MutexLock lock(&mu_);
  JobRecord* rec = FindLocked(job_id);
  if (rec == nullptr || IsTerminal(rec->job.state())) return;
  if (!plan.ok()) {
    FailJobLocked(*rec, std::string(plan.status().message()));
    return;
  }
  *rec->job.mutable_spec() = spec;
  FinishStageLocked(*rec, v1::STAGE_INSPECT);
  rec->num_blocks = plan->layout.num_blocks();
  rec->skipped = plan->skipped;
  for (const v1::LayerResult& s : plan->skipped) {
    rec->job.mutable_result()->add_unquantized_layers(s.name());
  }

  rec->layers = plan->quantizable;
  rec->needs = EstimateTaskRequirements(plan->layout, spec);
  scheduler_.Add(BaseTaskLocked(*rec, v1::TASK_KIND_CALIBRATE, "calibrate"), {});
  if (IsMixed(spec)) {
    // The DeltaLoss pipeline; the blocks are planned once the scores are in.
    absl::StatusOr<std::vector<ProfileTask>> profile =
        PlanProfileTasks(spec, plan->quantizable, rec->num_blocks);
    if (!profile.ok()) {
      FailJobLocked(*rec, std::string(profile.status().message()));
      return;
    }
    for (ProfileTask& p : *profile) {
      v1::Task t = BaseTaskLocked(*rec, v1::TASK_KIND_PROFILE, p.name);
      t.MergeFrom(p.task);
      std::vector<std::string> deps = {TaskId(job_id, "calibrate")};
      for (const std::string& d : p.deps) deps.push_back(TaskId(job_id, d));
      scheduler_.Add(std::move(t), std::move(deps));
    }
  } else {
    AddBlockTasksLocked(*rec, plan->blocks);
  }
  EnterStageLocked(*rec, v1::STAGE_CALIBRATE, 1);
  TouchLocked(*rec);
  work_cv_.SignalAll();
}

v1::Task JobManager::BaseTaskLocked(const JobRecord& rec, v1::TaskKind kind,
                                    const std::string& name) {
  v1::Task t;
  t.set_task_id(TaskId(rec.job.id(), name));
  t.set_job_id(rec.job.id());
  t.set_kind(kind);
  *t.mutable_spec() = rec.job.spec();
  t.set_work_uri(rec.work_uri);
  t.set_num_blocks(rec.num_blocks);
  if (auto needs = rec.needs.find(kind); needs != rec.needs.end()) {
    *t.mutable_requirements() = needs->second;
  } else {
    t.mutable_requirements()->set_device(rec.job.spec().device());
  }
  return t;
}

void JobManager::AddBlockTasksLocked(JobRecord& rec,
                                     const std::vector<std::vector<v1::LayerAssignment>>& blocks) {
  const v1::JobSpec& spec = rec.job.spec();
  const std::string& job_id = rec.job.id();
  // The quantized-input chain makes block i wait for block i-1; RTN and fp-input mode do not
  // read the chain, so their blocks are independent.
  const bool chained = spec.algorithm() != v1::ALGORITHM_RTN &&
                       spec.input_mode() == v1::INPUT_MODE_QUANTIZED;
  for (int b = 0; b < rec.num_blocks; ++b) {
    v1::Task t = BaseTaskLocked(rec, v1::TASK_KIND_QUANTIZE_BLOCK, BlockTaskName(b));
    t.set_block_index(b);
    for (const v1::LayerAssignment& a : blocks[b]) *t.add_layers() = a;
    std::vector<std::string> deps = {TaskId(job_id, "calibrate")};
    if (chained && b > 0) deps.push_back(TaskId(job_id, BlockTaskName(b - 1)));
    scheduler_.Add(std::move(t), std::move(deps));
  }
}

int JobManager::DoneTasksLocked(const std::string& job_id, v1::TaskKind kind) const {
  int done = 0;
  for (const TaskRecord* t : scheduler_.TasksOfJob(job_id)) {
    done += t->task.kind() == kind && t->state == TaskState::kDone;
  }
  return done;
}

void JobManager::OnTaskDoneLocked(JobRecord& rec, const TaskRecord& task) {
  const std::string job_id = rec.job.id();
  switch (task.task.kind()) {
    case v1::TASK_KIND_CALIBRATE:
      FinishStageLocked(rec, v1::STAGE_CALIBRATE);
      if (IsMixed(rec.job.spec())) {
        int profile_tasks = 0;
        for (const TaskRecord* t : scheduler_.TasksOfJob(job_id)) {
          profile_tasks += t->task.kind() == v1::TASK_KIND_PROFILE;
        }
        EnterStageLocked(rec, v1::STAGE_PROFILE, profile_tasks);
      } else {
        EnterStageLocked(rec, v1::STAGE_QUANTIZE, rec.num_blocks);
      }
      break;
    case v1::TASK_KIND_PROFILE: {
      const int done = DoneTasksLocked(job_id, v1::TASK_KIND_PROFILE);
      bool all_done = false;
      for (v1::StageProgress& p : *rec.job.mutable_stages()) {
        if (p.stage() != v1::STAGE_PROFILE) continue;
        p.set_done(done);
        all_done = done == p.total();
      }
      if (all_done) {
        EnterStageLocked(rec, v1::STAGE_ALLOCATE, 1);
        Post([this, job_id] { RunAllocate(job_id); });
      }
      break;
    }
    case v1::TASK_KIND_QUANTIZE_BLOCK: {
      const int done = DoneTasksLocked(job_id, v1::TASK_KIND_QUANTIZE_BLOCK);
      for (v1::StageProgress& p : *rec.job.mutable_stages()) {
        if (p.stage() == v1::STAGE_QUANTIZE) p.set_done(done);
      }
      if (done == rec.num_blocks) {
        EnterStageLocked(rec, v1::STAGE_ASSEMBLE, 1);
        Post([this, job_id] { RunAssemble(job_id); });
      }
      break;
    }
    case v1::TASK_KIND_EVALUATE:
      rec.job.mutable_result()->set_perplexity(task.output.perplexity());
      rec.job.mutable_result()->set_eval_targets(task.output.eval_targets());
      FinishStageLocked(rec, v1::STAGE_EVALUATE);
      Post([this, job_id] { RunPublish(job_id); });
      break;
    default:
      break;
  }
}

void JobManager::RunAllocate(const std::string& job_id) {
  v1::JobSpec spec;
  std::vector<LinearLayer> layers;
  absl::StatusOr<std::map<std::string, std::vector<double>>> scores;
  {
    absl::MutexLock lock(&mu_);
    JobRecord* rec = FindLocked(job_id);
    if (rec == nullptr || IsTerminal(rec->job.state())) return;
    spec = rec->job.spec();
    layers = rec->layers;
    std::vector<FinishedTask> profile;
    for (const TaskRecord* t : scheduler_.TasksOfJob(job_id)) {
      profile.emplace_back(&t->task, &t->output);
    }
    scores = SumProfileScores(spec, layers, profile);
  }
  absl::StatusOr<v1::Allocation> allocation =
      scores.ok() ? PlanAllocation(spec, layers, *scores, spec.avg_bits())
                  : absl::StatusOr<v1::Allocation>(scores.status());

  absl::MutexLock lock(&mu_);
  JobRecord* rec = FindLocked(job_id);
  if (rec == nullptr || IsTerminal(rec->job.state())) return;
  if (!allocation.ok()) {
    FailJobLocked(*rec, absl::StrCat("bit allocation failed: ", allocation.status().message()));
    return;
  }
  std::vector<std::vector<v1::LayerAssignment>> blocks(rec->num_blocks);
  for (size_t i = 0; i < layers.size(); ++i) {
    v1::LayerAssignment& a = blocks[layers[i].block].emplace_back();
    a.set_name(layers[i].name);
    *a.mutable_scheme() = spec.candidates(allocation->layers(i).chosen());
  }
  *rec->job.mutable_result()->mutable_allocation() = *std::move(allocation);
  FinishStageLocked(*rec, v1::STAGE_ALLOCATE);
  AddBlockTasksLocked(*rec, blocks);
  EnterStageLocked(*rec, v1::STAGE_QUANTIZE, rec->num_blocks);
  TouchLocked(*rec);
  work_cv_.SignalAll();
}

absl::StatusOr<v1::Allocation> JobManager::Replan(const std::string& job_id,
                                                  double avg_bits) const {
  v1::JobSpec spec;
  std::vector<LinearLayer> layers;
  v1::Allocation stored;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("no job ", job_id));
    spec = it->second.job.spec();
    layers = it->second.layers;
    stored = it->second.job.result().allocation();
  }
  if (stored.layers_size() == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", job_id, " has no DeltaLoss table (submit with --avg-bits and --candidates)"));
  }
  return PlanAllocation(spec, layers, ScoresOf(stored), avg_bits);
}

void JobManager::RunAssemble(const std::string& job_id) {
  v1::JobSpec spec;
  std::string work_uri;
  std::vector<v1::LayerResult> quantized;
  {
    absl::MutexLock lock(&mu_);
    JobRecord* rec = FindLocked(job_id);
    if (rec == nullptr || IsTerminal(rec->job.state())) return;
    spec = rec->job.spec();
    work_uri = rec->work_uri;
    for (const TaskRecord* t : scheduler_.TasksOfJob(job_id)) {
      if (t->task.kind() != v1::TASK_KIND_QUANTIZE_BLOCK) continue;
      for (const v1::LayerResult& l : t->output.layers()) quantized.push_back(l);
    }
  }
  absl::StatusOr<AssembleResult> assembled = AssembleCheckpoint(spec, job_id, work_uri, quantized);

  absl::MutexLock lock(&mu_);
  JobRecord* rec = FindLocked(job_id);
  if (rec == nullptr || IsTerminal(rec->job.state())) return;
  if (!assembled.ok()) {
    FailJobLocked(*rec, absl::StrCat("assembling the checkpoint failed: ",
                                     assembled.status().message()));
    return;
  }
  FinishStageLocked(*rec, v1::STAGE_ASSEMBLE);
  v1::JobResult* result = rec->job.mutable_result();
  result->set_avg_bits(assembled->avg_bits);
  result->set_manifest_sha256(assembled->export_result.manifest_sha256);
  // Layer table in model order: quantized ones from the tasks, then the skipped ones.
  std::vector<v1::LayerResult> layers = quantized;
  layers.insert(layers.end(), rec->skipped.begin(), rec->skipped.end());
  std::sort(layers.begin(), layers.end(),
            [](const v1::LayerResult& a, const v1::LayerResult& b) { return a.name() < b.name(); });
  result->clear_layers();
  for (v1::LayerResult& l : layers) *result->add_layers() = std::move(l);

  if (spec.eval_uri().empty()) {
    TouchLocked(*rec);
    Post([this, job_id] { RunPublish(job_id); });
    return;
  }
  v1::Task t = BaseTaskLocked(*rec, v1::TASK_KIND_EVALUATE, "evaluate");
  t.set_checkpoint_uri(assembled->staging_uri);
  scheduler_.Add(std::move(t), {});
  EnterStageLocked(*rec, v1::STAGE_EVALUATE, 1);
  TouchLocked(*rec);
  work_cv_.SignalAll();
}

void JobManager::RunPublish(const std::string& job_id) {
  std::string out_uri, manifest_sha256;
  {
    absl::MutexLock lock(&mu_);
    JobRecord* rec = FindLocked(job_id);
    if (rec == nullptr || IsTerminal(rec->job.state())) return;
    out_uri = rec->job.spec().out_uri();
    manifest_sha256 = rec->job.result().manifest_sha256();
  }
  absl::Status published = PublishCheckpoint(out_uri, job_id, manifest_sha256);

  absl::MutexLock lock(&mu_);
  JobRecord* rec = FindLocked(job_id);
  if (rec == nullptr) return;
  if (IsTerminal(rec->job.state())) {
    // Cancelled while publishing: the output was complete, but the user asked for none.
    return;
  }
  if (!published.ok()) {
    FailJobLocked(*rec, absl::StrCat("publishing the checkpoint failed: ", published.message()));
    return;
  }
  rec->job.mutable_result()->set_output_uri(out_uri);
  rec->job.set_state(v1::JOB_STATE_SUCCEEDED);
  rec->job.set_end_time_ms(clock_->UnixMs());
  events_.Append(job_id, JobEndedEntry(rec->job));
  scheduler_.RemoveJob(job_id);
  TouchLocked(*rec);
  Post([this, job_id] { RunCleanup(job_id); });
}

void JobManager::RunCleanup(const std::string& job_id) {
  std::string out_uri;
  bool delete_staging = false;
  {
    absl::MutexLock lock(&mu_);
    JobRecord* rec = FindLocked(job_id);
    if (rec == nullptr) return;
    out_uri = rec->job.spec().out_uri();
    // A succeeded job's staging folder was published as its output.
    delete_staging = rec->job.state() != v1::JOB_STATE_SUCCEEDED;
  }
  // Cleanup failures leave garbage but never change the job's outcome; the next restart
  // tries again.
  absl::Status cleaned = delete_staging ? DiscardStaging(out_uri, job_id) : absl::OkStatus();
  if (!options_.keep_work_files) {
    absl::StatusOr<ObjectStorePtr> store = OpenStore(options_.store_uri);
    cleaned.Update(store.ok() ? (*store)->DeletePrefix(absl::StrCat("jobs/", job_id))
                              : store.status());
  }
  if (!cleaned.ok()) return;
  absl::MutexLock lock(&mu_);
  JobRecord* rec = FindLocked(job_id);
  if (rec == nullptr) return;
  rec->cleaned_up = true;
  (void)SaveLocked(*rec);
}

absl::StatusOr<v1::RegisterWorkerResponse> JobManager::RegisterWorker(const v1::WorkerInfo& info) {
  if (!CompatibleVersion(info.version())) {
    return absl::FailedPreconditionError(absl::StrCat("worker version ", info.version(),
                                                      " is incompatible with coordinator ",
                                                      SR2_VERSION));
  }
  absl::MutexLock lock(&mu_);
  const std::string id = absl::StrCat("w-", next_worker_++);
  workers_[id] = WorkerRecord{info, clock_->NowMs()};
  v1::RegisterWorkerResponse response;
  response.set_worker_id(id);
  response.set_heartbeat_interval_ms(options_.heartbeat_interval_ms);
  response.set_lease_ms(options_.lease_ms);
  return response;
}

absl::StatusOr<std::optional<v1::Task>> JobManager::AcquireTask(const std::string& worker_id,
                                                                absl::Duration wait) {
  absl::MutexLock lock(&mu_);
  if (!workers_.count(worker_id)) {
    return absl::NotFoundError(absl::StrCat("unknown worker ", worker_id, "; register again"));
  }
  MarkSeenLocked(worker_id);
  const WorkerCapacity capacity = CapacityOf(worker_id);
  const absl::Time deadline =
      absl::Now() + std::min(wait, absl::Milliseconds(options_.max_acquire_wait_ms));
  while (!stopping_ && !scheduler_.HasReadyTaskFor(capacity)) {
    if (work_cv_.WaitWithDeadline(&mu_, deadline)) break;
  }
  if (stopping_) return std::optional<v1::Task>();
  std::optional<v1::Task> task = scheduler_.Acquire(capacity);
  if (task) {
    events_.Append(task->job_id(), TaskGrantedEntry(*scheduler_.Find(task->task_id())));
    JobRecord* rec = FindLocked(task->job_id());
    if (rec != nullptr) TouchLocked(*rec);
  }
  return task;
}

v1::HeartbeatResponse JobManager::Heartbeat(const v1::HeartbeatRequest& request) {
  absl::MutexLock lock(&mu_);
  v1::HeartbeatResponse response;
  MarkSeenLocked(request.worker_id());
  const TaskRecord* task = scheduler_.Find(request.task_id());
  if (task != nullptr) {
    JobRecord* rec = FindLocked(task->task.job_id());
    if (rec != nullptr && IsTerminal(rec->job.state())) {
      response.set_reason(absl::StrCat("job ", rec->job.id(), " is ",
                                       v1::JobState_Name(rec->job.state())));
      return response;
    }
  }
  absl::Status renewed =
      scheduler_.Renew(request.task_id(), request.lease_id(), request.progress().fraction(),
                       request.progress().best_loss());
  if (!renewed.ok()) {
    response.set_reason(std::string(renewed.message()));
    return response;
  }
  response.set_keep_going(true);
  JobRecord* rec = FindLocked(task->task.job_id());
  // Heartbeat progress is not saved (docs/scheduling.md): a restart starts the task's
  // progress again, and saving on this hot path would cost a transaction per heartbeat.
  if (rec != nullptr) NotifyLocked(*rec);
  return response;
}

absl::Status JobManager::CompleteTask(const v1::CompleteTaskRequest& request) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = scheduler_.Complete(request.task_id(), request.lease_id(), request.output());
      !s.ok()) {
    return s;
  }
  const TaskRecord* task = scheduler_.Find(request.task_id());
  events_.Append(task->task.job_id(), TaskCompletedEntry(*task, clock_->NowMs()));
  JobRecord* rec = FindLocked(task->task.job_id());
  if (rec == nullptr || IsTerminal(rec->job.state())) return absl::OkStatus();
  OnTaskDoneLocked(*rec, *task);
  TouchLocked(*rec);
  work_cv_.SignalAll();
  return absl::OkStatus();
}

absl::Status JobManager::FailTask(const v1::FailTaskRequest& request) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<AttemptEnd> end = scheduler_.Fail(request.task_id(), request.lease_id(),
                                                   request.error(), request.retryable());
  if (!end.ok()) return end.status();
  HandleAttemptEndLocked(*end);
  return absl::OkStatus();
}

void JobManager::HandleAttemptEndLocked(const AttemptEnd& end) {
  events_.Append(end.job_id, AttemptEndedEntry(end, clock_->NowMs()));
  JobRecord* rec = FindLocked(end.job_id);
  if (rec == nullptr) return;
  if (end.exhausted) {
    FailJobLocked(*rec, absl::StrCat("task ", end.task_id, " failed: ", end.error));
  } else {
    TouchLocked(*rec);
    work_cv_.SignalAll();
  }
}

void JobManager::MarkSeenLocked(const std::string& worker_id) {
  if (auto w = workers_.find(worker_id); w != workers_.end()) w->second.last_seen_ms = clock_->NowMs();
}

bool JobManager::IsLiveLocked(const WorkerRecord& worker) const {
  // An idle worker is silent while its AcquireTask long-poll waits; a busy one heartbeats.
  const int64_t live_ms = std::max(options_.lease_ms, options_.max_acquire_wait_ms);
  return clock_->NowMs() - worker.last_seen_ms <= live_ms;
}

CoordinatorStats JobManager::Stats() const {
  absl::MutexLock lock(&mu_);
  CoordinatorStats stats;
  stats.queued_tasks = scheduler_.ReadyCount();
  std::set<std::string> busy;
  for (const auto& [id, rec] : jobs_) {
    if (rec.job.state() != v1::JOB_STATE_RUNNING) continue;
    RunningJobStats& job = stats.running_jobs[id];
    job.num_blocks = rec.num_blocks;
    int loss_block = -1;
    for (const TaskRecord* t : scheduler_.TasksOfJob(id)) {
      if (t->state != TaskState::kRunning) continue;
      busy.insert(t->worker_id);
      // Tuning reports a positive loss; RTN and untuned blocks report none (0).
      if (t->task.kind() == v1::TASK_KIND_QUANTIZE_BLOCK && t->best_loss > 0 &&
          (loss_block < 0 || t->task.block_index() < loss_block)) {
        loss_block = t->task.block_index();
        job.best_loss = t->best_loss;
      }
    }
  }
  for (const auto& [id, worker] : workers_) {
    if (busy.count(id)) {
      stats.busy_workers++;
    } else if (IsLiveLocked(worker)) {
      stats.idle_workers++;
    }
  }
  return stats;
}

}  // namespace sr2::server
