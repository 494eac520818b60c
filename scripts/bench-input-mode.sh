#!/usr/bin/env bash
# Accuracy and wall time of the two tuning input modes through the service: SignRoundV2 on
# stories260K (W4G32 and W2G32, 128 x 256 calibration windows, 200 iterations, seed 42) with
# the quantized-input chain (block i waits for block i-1) and with --input-mode fp (every block
# at once), on a local cluster of N workers with one libtorch thread each.
# Prints: scheme, mode, perplexity, quantize-stage seconds, job seconds.
# Usage: scripts/bench-input-mode.sh [WORKERS (3)] [BIN_DIR (build/bin)]
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${1:-3}
BIN=${2:-build/bin}
dir=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
export SR2_COORDINATOR=127.0.0.1:$port
"$BIN/sr2ctl" local --workers "$WORKERS" --port "$port" --state-dir "$dir/state" \
  --store "$dir/store" >"$dir/local.log" 2>&1 &
cluster=$!
trap 'kill -INT $cluster 2>/dev/null; wait $cluster 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do "$BIN/sr2ctl" list >/dev/null 2>&1 && break; sleep 0.1; done
for scheme in W4G32 W2G32; do
  for mode in quantized fp; do
    job=$("$BIN/sr2ctl" submit ../shared/models/stories260K --out "$dir/out-$scheme-$mode" \
      --calib ../shared/data/tinystories/calib.tokens.i32 \
      --eval ../shared/data/tinystories/eval.tokens.i32 --scheme "$scheme" \
      --algorithm signroundv2 --nsamples 128 --seqlen 256 --input-mode "$mode" --format fake \
      --wait 2>/dev/null | head -1)
    "$BIN/sr2ctl" status "$job" -o json >"$dir/status.json"
    python3 - "$dir/status.json" "$scheme" "$mode" <<'PY'
import json, sys
from datetime import datetime
job = json.load(open(sys.argv[1]))
quantize = next(s["elapsed_seconds"] for s in job["stages"] if s["stage"] == "quantize")
t = lambda k: datetime.strptime(job[k], "%Y-%m-%dT%H:%M:%SZ")
print(f"{sys.argv[2]} {sys.argv[3]:9s} ppl={job['perplexity']:.4f} "
      f"quantize_seconds={quantize:.1f} job_seconds={(t('end_time') - t('start_time')).seconds}")
PY
  done
done
