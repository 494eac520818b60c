#include "client/commands.h"

#include <chrono>
#include <functional>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "client/allocation_format.h"
#include "client/describe_format.h"
#include "client/exit_codes.h"
#include "client/job_format.h"
#include "client/log_format.h"
#include "client/progress_printer.h"
#include "client/spec_names.h"
#include "client/yaml_format.h"
#include "common/util/clock.h"
#include "common/util/status_macros.h"

namespace sr2 {
namespace {

constexpr auto kPollInterval = std::chrono::seconds(1);
// While polling, how long the coordinator may stay unreachable (e.g. restarting) before
// sr2ctl gives up on following the job.
constexpr auto kPollOutage = std::chrono::minutes(2);

// Calls `step` every second until it returns true or an error other than an unreachable
// coordinator, which is tolerated for kPollOutage.
absl::Status PollUntil(const std::function<absl::StatusOr<bool>()>& step) {
  std::optional<std::chrono::steady_clock::time_point> outage_since;
  while (true) {
    absl::StatusOr<bool> done = step();
    if (done.ok()) {
      outage_since.reset();
      if (*done) return absl::OkStatus();
    } else {
      auto now = std::chrono::steady_clock::now();
      if (!outage_since.has_value()) outage_since = now;
      if (done.status().code() != absl::StatusCode::kUnavailable ||
          now - *outage_since > kPollOutage) {
        return done.status();
      }
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

// Polls GetJob every second until the job is terminal.
absl::StatusOr<v1::Job> PollJob(CoordinatorClient& client, const std::string& job_id,
                                ProgressPrinter& printer) {
  v1::Job last;
  SR2_RETURN_IF_ERROR(PollUntil([&]() -> absl::StatusOr<bool> {
    absl::StatusOr<v1::Job> job = client.Get(job_id);
    if (!job.ok()) return job.status();
    printer.Update(*job);
    last = *std::move(job);
    return IsTerminal(last.state());
  }));
  return last;
}

// -o json or -o yaml: the same data either way.
void PrintStructured(const nlohmann::ordered_json& value, OutputStyle style, std::ostream& out) {
  out << (style == OutputStyle::kYaml ? ToYaml(value) : value.dump(2) + "\n");
}

bool IsStructured(OutputStyle style) {
  return style == OutputStyle::kJson || style == OutputStyle::kYaml;
}

// Follows a job to its end with the WatchJob stream, polling when the stream fails.
absl::StatusOr<v1::Job> FollowJob(CoordinatorClient& client, const std::string& job_id,
                                  const CommandIo& io) {
  ProgressPrinter printer(io.err, io.err_is_tty);
  std::optional<v1::Job> last;
  absl::Status watched = client.Watch(job_id, [&](const v1::JobEvent& event) {
    printer.Update(event.job());
    last = event.job();
    return !IsTerminal(event.job().state());
  });
  absl::StatusOr<v1::Job> result;
  if (last.has_value() && IsTerminal(last->state())) {
    result = *last;
  } else if (watched.code() == absl::StatusCode::kNotFound ||
             (!last.has_value() && watched.code() == absl::StatusCode::kUnavailable)) {
    result = watched;
  } else {
    if (!watched.ok()) {
      printer.Finish();
      io.err << "sr2ctl: watch stream ended (" << watched.message()
             << "); polling every second\n";
    }
    result = PollJob(client, job_id, printer);
  }
  printer.Finish();
  return result;
}

// Prints the final summary of a followed job; the exit code says whether it succeeded.
int ReportFinal(const v1::Job& job, const CommandIo& io) {
  io.err << JobSummary(job);
  if (job.state() != v1::JOB_STATE_SUCCEEDED) {
    std::string why =
        job.error().empty() ? absl::AsciiStrToLower(JobStateName(job.state())) : job.error();
    io.err << "sr2ctl: job " << job.id() << " failed: " << why << "\n";
  }
  io.err.flush();
  return ExitCodeForJobState(job.state());
}

absl::StatusOr<int> Submit(const CliArgs& args, CoordinatorClient& client, const CommandIo& io) {
  v1::JobSpec spec = args.submit.spec;
  AbsolutizeSpecPaths(io.cwd, spec);
  absl::StatusOr<std::string> job_id = client.Submit(spec);
  if (!job_id.ok()) return job_id.status();
  io.out << *job_id << std::endl;
  if (!args.submit.wait) return kExitOk;
  absl::StatusOr<v1::Job> job = FollowJob(client, *job_id, io);
  if (!job.ok()) return job.status();
  return ReportFinal(*job, io);
}

absl::StatusOr<int> Watch(const CliArgs& args, CoordinatorClient& client, const CommandIo& io) {
  absl::StatusOr<v1::Job> job = FollowJob(client, args.job_id, io);
  if (!job.ok()) return job.status();
  return ReportFinal(*job, io);
}

absl::StatusOr<int> Status(const CliArgs& args, CoordinatorClient& client, const CommandIo& io) {
  absl::StatusOr<v1::Job> job = client.Get(args.job_id);
  if (!job.ok()) return job.status();
  if (IsStructured(args.output)) {
    PrintStructured(JobToJson(*job), args.output, io.out);
  } else {
    io.out << JobTable(*job);
  }
  return kExitOk;
}

absl::StatusOr<int> Describe(const CliArgs& args, CoordinatorClient& client,
                             const CommandIo& io) {
  absl::StatusOr<v1::Job> job = client.Get(args.job_id);
  if (!job.ok()) return job.status();
  if (IsStructured(args.output)) {
    PrintStructured(DescribeJson(*job), args.output, io.out);
  } else {
    io.out << DescribeTable(*job);
  }
  return kExitOk;
}

// The allocation carries no scheme names: they are the job's candidates, read from its spec.
absl::StatusOr<int> Replan(const CliArgs& args, CoordinatorClient& client, const CommandIo& io) {
  absl::StatusOr<v1::Allocation> allocation = client.Replan(args.job_id, args.replan_avg_bits);
  if (!allocation.ok()) return allocation.status();
  absl::StatusOr<v1::Job> job = client.Get(args.job_id);
  if (!job.ok()) return job.status();
  const CandidateList& candidates = job->spec().candidates();
  if (IsStructured(args.output)) {
    PrintStructured(ReplanJson(args.job_id, args.replan_avg_bits, *allocation, candidates),
                    args.output, io.out);
  } else {
    io.out << ReplanTable(args.job_id, args.replan_avg_bits, *allocation, candidates);
  }
  return kExitOk;
}

absl::StatusOr<int> List(const CliArgs& args, CoordinatorClient& client, const CommandIo& io) {
  absl::StatusOr<std::vector<v1::Job>> jobs = client.List();
  if (!jobs.ok()) return jobs.status();
  if (IsStructured(args.output)) {
    nlohmann::ordered_json array = nlohmann::ordered_json::array();
    for (const v1::Job& job : *jobs) array.push_back(JobToJson(job));
    PrintStructured(array, args.output, io.out);
  } else if (args.output == OutputStyle::kName) {
    for (const v1::Job& job : *jobs) io.out << job.id() << "\n";
  } else {
    io.out << JobListTable(*jobs, SystemClock::Default()->UnixMs());
  }
  return kExitOk;
}

// The log so far, or with --follow every new entry until the job ends.
absl::StatusOr<int> Logs(const CliArgs& args, CoordinatorClient& client, const CommandIo& io) {
  int64_t after_seq = 0;
  auto read = [&]() -> absl::StatusOr<bool> {
    absl::StatusOr<v1::GetJobLogResponse> log = client.GetLog(args.job_id, after_seq);
    if (!log.ok()) return log.status();
    if (log->dropped() > 0) {
      io.err << "sr2ctl: " << log->dropped()
             << " earlier entries are no longer kept by the coordinator\n";
    }
    for (const v1::JobLogEntry& entry : log->entries()) {
      io.out << RenderLogEntry(entry, args.output);
      after_seq = entry.seq();
    }
    io.out.flush();
    return IsTerminal(log->state());
  };
  if (args.follow) {
    SR2_RETURN_IF_ERROR(PollUntil(read));
  } else {
    SR2_RETURN_IF_ERROR(read().status());
  }
  if (after_seq == 0) {
    io.err << "sr2ctl: no log entries for job " << args.job_id
           << " (the coordinator keeps them for its 100 most recent jobs)\n";
  }
  return kExitOk;
}

absl::StatusOr<int> Cancel(const CliArgs& args, CoordinatorClient& client, const CommandIo& io) {
  absl::StatusOr<v1::JobState> state = client.Cancel(args.job_id);
  if (!state.ok()) return state.status();
  io.out << JobStateName(*state) << "\n";
  return kExitOk;
}

}  // namespace

int RunCoordinatorCommand(const CliArgs& args, CoordinatorClient& client, const CommandIo& io) {
  absl::StatusOr<int> code = absl::InternalError("not a coordinator command");
  switch (args.command) {
    case Command::kSubmit:
      code = Submit(args, client, io);
      break;
    case Command::kStatus:
      code = Status(args, client, io);
      break;
    case Command::kDescribe:
      code = Describe(args, client, io);
      break;
    case Command::kReplan:
      code = Replan(args, client, io);
      break;
    case Command::kList:
      code = List(args, client, io);
      break;
    case Command::kCancel:
      code = Cancel(args, client, io);
      break;
    case Command::kWatch:
      code = Watch(args, client, io);
      break;
    case Command::kLogs:
      code = Logs(args, client, io);
      break;
    case Command::kHelp:
    case Command::kVersion:
    case Command::kLocal:
    case Command::kCompletion:
    case Command::kConfig:
      break;
  }
  if (code.ok()) return *code;
  io.out.flush();
  io.err << "sr2ctl: error: " << code.status().message() << std::endl;
  return ExitCodeForStatus(code.status());
}

}  // namespace sr2
