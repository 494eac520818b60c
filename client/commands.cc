#include "client/commands.h"

#include <chrono>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "client/allocation_format.h"
#include "client/describe_format.h"
#include "client/exit_codes.h"
#include "client/job_format.h"
#include "client/progress_printer.h"
#include "client/spec_names.h"
#include "common/util/clock.h"

namespace sr2 {
namespace {

constexpr auto kPollInterval = std::chrono::seconds(1);
// While polling, how long the coordinator may stay unreachable (e.g. restarting) before
// sr2ctl gives up on following the job.
constexpr auto kPollOutage = std::chrono::minutes(2);

// Polls GetJob every second until the job is terminal.
absl::StatusOr<v1::Job> PollJob(CoordinatorClient& client, const std::string& job_id,
                                ProgressPrinter& printer) {
  std::optional<std::chrono::steady_clock::time_point> outage_since;
  while (true) {
    absl::StatusOr<v1::Job> job = client.Get(job_id);
    if (job.ok()) {
      outage_since.reset();
      printer.Update(*job);
      if (IsTerminal(job->state())) return job;
    } else {
      auto now = std::chrono::steady_clock::now();
      if (!outage_since.has_value()) outage_since = now;
      if (job.status().code() != absl::StatusCode::kUnavailable ||
          now - *outage_since > kPollOutage) {
        return job.status();
      }
    }
    std::this_thread::sleep_for(kPollInterval);
  }
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
  if (args.output == OutputStyle::kJson) {
    io.out << JobToJson(*job).dump(2) << "\n";
  } else {
    io.out << JobTable(*job);
  }
  return kExitOk;
}

absl::StatusOr<int> Describe(const CliArgs& args, CoordinatorClient& client,
                             const CommandIo& io) {
  absl::StatusOr<v1::Job> job = client.Get(args.job_id);
  if (!job.ok()) return job.status();
  if (args.output == OutputStyle::kJson) {
    io.out << DescribeJson(*job).dump(2) << "\n";
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
  if (args.output == OutputStyle::kJson) {
    nlohmann::ordered_json json =
        ReplanJson(args.job_id, args.replan_avg_bits, *allocation, candidates);
    io.out << json.dump(2) << "\n";
  } else {
    io.out << ReplanTable(args.job_id, args.replan_avg_bits, *allocation, candidates);
  }
  return kExitOk;
}

absl::StatusOr<int> List(const CliArgs& args, CoordinatorClient& client, const CommandIo& io) {
  absl::StatusOr<std::vector<v1::Job>> jobs = client.List();
  if (!jobs.ok()) return jobs.status();
  if (args.output == OutputStyle::kJson) {
    nlohmann::ordered_json array = nlohmann::ordered_json::array();
    for (const v1::Job& job : *jobs) array.push_back(JobToJson(job));
    io.out << array.dump(2) << "\n";
  } else {
    io.out << JobListTable(*jobs, SystemClock::Default()->UnixMs());
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
    case Command::kHelp:
    case Command::kVersion:
    case Command::kLocal:
      break;
  }
  if (code.ok()) return *code;
  io.out.flush();
  io.err << "sr2ctl: error: " << code.status().message() << std::endl;
  return ExitCodeForStatus(code.status());
}

}  // namespace sr2
