#!/usr/bin/env bash
# The main job, end to end on one machine: installs dependencies, builds, starts a local
# coordinator and workers on 127.0.0.1, quantizes a model, prints the result, stops the cluster.
#
#   scripts/demo.sh                                   # a small random model sr2 creates itself
#   MODEL=../shared/models/stories260K scripts/demo.sh   # any HF Llama folder
#
# Settings (environment): MODEL, CALIB, EVAL (token files, raw int32), SCHEME (W4G32),
# SYM (--sym|--asym), ALGORITHM (rtn), FORMAT (fake), NSAMPLES, SEQLEN, WORKERS (2),
# PORT (7070), OUT (where the checkpoint goes).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
scripts/install-deps.sh
scripts/build.sh
BIN=$ROOT/build/bin
WORK=$ROOT/.sr2-local
mkdir -p "$WORK"

SHARED_DATA=$ROOT/../shared/data/tinystories
if [ -z "${MODEL:-}" ]; then
  echo "demo: no MODEL given: creating a small random Llama in $WORK/demo (its perplexity is meaningless;" \
       "set MODEL=../shared/models/stories260K for a real model)"
  rm -rf "$WORK/demo"
  "$BIN/sr2-demo-model" "$WORK/demo" >/dev/null
  MODEL=$WORK/demo/model
  CALIB=${CALIB:-$WORK/demo/data/calib.tokens.i32}
  EVAL=${EVAL:-$WORK/demo/data/eval.tokens.i32}
elif [ -z "${CALIB:-}" ] && [ -d "$SHARED_DATA" ]; then
  CALIB=$SHARED_DATA/calib.tokens.i32
  EVAL=${EVAL:-$SHARED_DATA/eval.tokens.i32}
fi
: "${CALIB:?set CALIB to a calibration token file (raw little-endian int32)}"

SCHEME=${SCHEME:-W4G32}
ALGORITHM=${ALGORITHM:-rtn}
FORMAT=${FORMAT:-fake}
PORT=${PORT:-7070}
OUT=${OUT:-$WORK/out/$(basename "$MODEL")-$SCHEME-$ALGORITHM-$(date +%Y%m%d-%H%M%S)}
ADDR=127.0.0.1:$PORT

"$BIN/sr2ctl" local --workers "${WORKERS:-2}" --port "$PORT" \
  --state-dir "$WORK/state" --store "$WORK/store" --threads "${THREADS:-1}" > "$WORK/local.addr" &
LOCAL_PID=$!
trap 'kill -INT $LOCAL_PID 2>/dev/null; wait $LOCAL_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do
  [ -s "$WORK/local.addr" ] && break
  kill -0 $LOCAL_PID 2>/dev/null || { echo "demo: local cluster failed to start" >&2; exit 1; }
  sleep 0.1
done

args=(submit "$MODEL" --out "$OUT" --calib "$CALIB" --scheme "$SCHEME" ${SYM:-}
      --algorithm "$ALGORITHM" --format "$FORMAT" --wait)
[ -n "${EVAL:-}" ] && args+=(--eval "$EVAL")
[ -n "${NSAMPLES:-}" ] && args+=(--nsamples "$NSAMPLES")
[ -n "${SEQLEN:-}" ] && args+=(--seqlen "$SEQLEN")
JOB=$("$BIN/sr2ctl" --coordinator "$ADDR" "${args[@]}" | head -n 1)
echo
"$BIN/sr2ctl" --coordinator "$ADDR" status "$JOB"
echo
echo "demo: quantized checkpoint in $OUT"
