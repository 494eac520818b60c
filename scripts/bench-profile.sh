#!/usr/bin/env bash
# Wall time of the DeltaLoss profile stage on stories260K with 1 and 3 workers (one libtorch
# thread each): a coordinator and N workers on 127.0.0.1, one mixed-precision RTN job, the
# PROFILE stage's elapsed seconds from `sr2ctl status -o json`.
# Usage: scripts/bench-profile.sh [BIN_DIR] [BLOCKS_PER_TASK]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/bin}
BLOCKS=${2:-1}
for workers in 1 3; do
  dir=$(mktemp -d)
  port=$((20000 + RANDOM % 20000))
  addr=127.0.0.1:$port
  pids=()
  "$BIN/sr2-coordinator" --listen "$addr" --state-dir "$dir/state" --store "$dir/store" \
    >"$dir/coordinator.log" 2>&1 &
  pids+=($!)
  for i in $(seq "$workers"); do
    "$BIN/sr2-worker" --coordinator "$addr" --threads 1 >"$dir/worker-$i.log" 2>&1 &
    pids+=($!)
  done
  for _ in $(seq 100); do "$BIN/sr2ctl" --coordinator "$addr" list >/dev/null 2>&1 && break; sleep 0.1; done
  job=$("$BIN/sr2ctl" --coordinator "$addr" submit ../shared/models/stories260K --out "$dir/out" \
    --calib ../shared/data/tinystories/calib.tokens.i32 --avg-bits 3 --candidates W2G32,W4G32 \
    --algorithm rtn --ignore-scale-zp-bits --profile-blocks-per-task "$BLOCKS" --wait | head -1)
  "$BIN/sr2ctl" --coordinator "$addr" status "$job" -o json >"$dir/status.json"
  python3 - "$dir/status.json" "$workers" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))
for s in job["stages"]:
    if s["stage"] == "profile":
        print(f"workers={sys.argv[2]} profile_tasks={s['total']} profile_seconds={s['elapsed_seconds']:.2f}")
PY
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
done
