#include "client/usage.h"

#include "absl/strings/str_cat.h"
#include "client/client_config.h"

namespace sr2 {
namespace {

constexpr char kSubmitHelp[] = R"(usage: sr2ctl [--coordinator ADDR] submit MODEL_URI --out OUT_URI --calib TOKENS_URI [flags]

Submits a quantization job and prints its id on the first line of stdout.
MODEL_URI, OUT_URI and TOKENS_URI are local paths (made absolute) or file:// / s3:// URIs.
Flags not given are filled in by the coordinator.

  --out URI                 where the quantized checkpoint goes (must not exist)
  --calib URI               calibration tokens (raw little-endian int32)
  --scheme WxGy             weight scheme, e.g. W4G128, W2G64, W4G-1 (per row)
  --sym | --asym            symmetric (default) or asymmetric with zero point
  --algorithm NAME          rtn | signround | signroundv2
  --format NAME             fake | auto_round | auto_gptq
  --nsamples N              calibration windows
  --seqlen N                tokens per calibration window
  --preset NAME             default (200 iters) | best (1000 iters, 512 samples, lr 2/iters
                            for <=3-bit layers) | light (50 iters, lr 5e-3) | rtn;
                            flags given explicitly win over the preset
  --iters N                 tuning iterations per block (>= 0; 0 = no SignSGD, with
                            signroundv2 the scale pre-search alone)
  --batch-size N            tuning mini-batch (samples)
  --lr X                    learning rate (0 = 1/iters)
  --input-mode MODE         quantized (block i tuned on quantized block i-1 output) | fp
  --eval URI                evaluation tokens: report the output's perplexity
  --eval-seqlen N           tokens per evaluation window
  --seed N                  seeds every random choice of the job
  --wait                    follow the job to its end (as `watch`); exit 1 unless it succeeds

Mixed precision (signroundv2 AutoScheme): each block Linear gets one of the candidates,
chosen from DeltaLoss scores by an exact DP under the average-bit budget.
  --avg-bits B              average bits per weight (needs --candidates)
  --candidates LIST         comma-separated schemes, e.g. W2G32,W4G32 (--sym/--asym apply)
  --ignore-scale-zp-bits    count weight bits only, not scales and zero points
  --share-fused-layers      q/k/v and gate/up get one scheme each
  --profile-nsamples N      DeltaLoss calibration windows (default 16)
  --profile-seqlen N        DeltaLoss window length (default 256)
  --device cpu|cuda         run the job's tasks only on workers with this device (default any)
  --profile-batch-size N    DeltaLoss windows per forward/backward task (default 8)
  --profile-blocks-per-task N  blocks per DeltaLoss pipeline task (default 4)
)";

constexpr char kStatusHelp[] = R"(usage: sr2ctl status JOB [-o json|yaml|table]

Shows one job. -o json prints one JSON object (id, state, stage, error, output_uri,
perplexity, progress, eta_seconds, stages, spec, result, create/start/end times); -o yaml
the same data as YAML.
)";

constexpr char kDescribeHelp[] = R"(usage: sr2ctl describe JOB [-o json|yaml|table]

Shows everything about a job: its state, the full config (preset and mixed-precision
fields included), per-stage timings, each layer's scheme (16-bit with the reason for a
layer kept unquantized) and loss and, for a mixed-precision job, the DeltaLoss table:
each layer's score under every candidate, the chosen scheme (marked *), the bit budget,
the bits allocated and the predicted total score. -o json prints the `status -o json` object with "allocation"
(null when the job has none).
)";

constexpr char kReplanHelp[] = R"(usage: sr2ctl replan JOB --avg-bits B [-o json|yaml|table]

Re-solves a mixed-precision job's bit allocation for another average-bit budget from its
stored DeltaLoss table, without profiling again, and prints the new allocation: per-layer
scores and choices, budget, allocated bits and predicted score. The job's checkpoint is
not changed. Fails if the job has no DeltaLoss table or B is out of the candidates' range.
)";

constexpr char kListHelp[] = R"(usage: sr2ctl list [-o json|yaml|table|name]

Lists all jobs: one row per job (ID, STATE, STAGE, PROGRESS, MODEL, AGE), a JSON array, a
YAML sequence, or (-o name) one job id per line.
)";

constexpr char kLogsHelp[] = R"(usage: sr2ctl logs JOB [--follow|-f] [-o json|yaml|table]

Prints the job's event log: stages started, tasks granted to workers, completed (with their
time), failed (with the error) or lost with an expired lease, retries, and the outcome.
--follow keeps printing new entries until the job ends. -o json prints one JSON object per
line (JSON Lines), -o yaml one item of a YAML sequence per entry. The coordinator keeps the
newest 1000 entries of its 100 most recent jobs, across restarts.
)";

constexpr char kConfigHelp[] = R"(usage: sr2ctl config view

Shows each setting, its value and where it came from. A flag wins over the environment,
which wins over the config file, which wins over the default:
  coordinator   --coordinator, $SR2_COORDINATOR, `coordinator = "HOST:PORT"`
  output        -o,            $SR2_OUTPUT,      `output = "yaml"` (table, json or yaml)
The config file is $SR2_CONFIG, else $XDG_CONFIG_HOME/sr2/config.toml, else
~/.config/sr2/config.toml: `key = value` lines, # comments.
)";

constexpr char kCompletionHelp[] = R"(usage: sr2ctl completion bash|zsh

Prints a shell completion script for commands, flags, flag values and job ids:
  source <(sr2ctl completion bash)     # in ~/.bashrc
  source <(sr2ctl completion zsh)      # in ~/.zshrc
)";

constexpr char kCancelHelp[] = R"(usage: sr2ctl cancel JOB

Cancels a job and prints its resulting state.
)";

constexpr char kWatchHelp[] = R"(usage: sr2ctl watch JOB

Follows a job: on a terminal, a progress bar per stage with the job's ETA and the running
stage's ETA, redrawn in place on stderr; otherwise a plain line at each step. Then a summary.
Exits 0 if the job succeeded, 1 if it failed or was cancelled.
)";

constexpr char kLocalHelp[] = R"(usage: sr2ctl local [--workers N] [--port P] [--state-dir DIR] [--store DIR]
                    [--threads N] [--device cpu|cuda:N]

Runs a one-machine cluster: sr2-coordinator on 127.0.0.1:P and N sr2-worker processes,
taken from the directory that holds sr2ctl. Logs go to DIR/../logs. Ctrl-C stops it.

  --workers N      worker processes (default 2)
  --port P         coordinator port (default 7070)
  --state-dir DIR  coordinator state (default ./.sr2-local/state)
  --store DIR      object store for job work files (default ./.sr2-local/store)
  --threads N      threads per worker (default 1)
  --device D       worker device: cpu, cuda or cuda:N (default cpu)
)";

}  // namespace

std::string HelpText(std::string_view command) {
  if (command == "submit") return kSubmitHelp;
  if (command == "status") return kStatusHelp;
  if (command == "describe") return kDescribeHelp;
  if (command == "replan") return kReplanHelp;
  if (command == "list") return kListHelp;
  if (command == "cancel") return kCancelHelp;
  if (command == "watch") return kWatchHelp;
  if (command == "local") return kLocalHelp;
  if (command == "logs") return kLogsHelp;
  if (command == "config") return kConfigHelp;
  if (command == "completion") return kCompletionHelp;
  if (command == "version") return "usage: sr2ctl version\n\nPrints sr2ctl's version.\n";
  return absl::StrCat(R"(usage: sr2ctl [--coordinator ADDR] COMMAND [flags]

sr2ctl drives sr2, the distributed SignRoundV2 quantization service.

Commands:
  submit MODEL_URI --out URI --calib URI [...]   submit a quantization job
  status JOB [-o FORMAT]                         show a job
  describe JOB [-o FORMAT]                       show everything about a job (config, layers,
                                                 DeltaLoss allocation)
  list [-o FORMAT|name]                          list jobs
  cancel JOB                                     cancel a job
  watch JOB                                      follow a job's progress to its end
  logs JOB [--follow] [-o FORMAT]                a job's events: tasks, workers, errors
  replan JOB --avg-bits B [-o FORMAT]            re-solve a mixed-precision allocation
  local [--workers N] [--port P] [...]           run a coordinator and workers on this machine
  config view                                    show the settings and where they come from
  completion bash|zsh                            print a shell completion script
  version                                        print the version
  help [COMMAND]                                 this help, or a command's (also COMMAND --help)

FORMAT is table (default), json or yaml.

Global flags:
  --coordinator ADDR   coordinator address (default: $)",
                      kCoordinatorEnvVar, ", else the config file, else ", kDefaultCoordinator,
                      R"()

Flags take their value as `--flag value` or `--flag=value`.

Exit codes:
  0  success
  1  the job failed or was cancelled, no such job, or another coordinator-side error
     (e.g. replan of a job without a DeltaLoss table)
  2  usage error (bad command line, bad config file or $SR2_OUTPUT), or a request the
     coordinator rejected as invalid
  3  the coordinator could not be reached
)");
}

}  // namespace sr2
