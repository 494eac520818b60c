#!/usr/bin/env bash
# Prints the quality table of docs/quality.md: every scheme x algorithm cell on stories260K,
# plus the asym and fp-input variants. Deterministic cells (RTN, V2 pre-tune only) run once;
# tuned cells run once per seed. One line per run, then per cell: mean, min, max over seeds.
# Usage: scripts/quality-table.sh [SEED ...]          (default seeds: 42 1 2 3)
# Env:   THREADS  libtorch threads per run (default 1, what a worker runs by default)
#        SCHEMES  schemes to run (default "W4G32 W3G32 W2G32")
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=build/bin/sr2-quality-bench
[ -x "$BENCH" ] || scripts/build.sh
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(42 1 2 3)
threads=${THREADS:-1}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() { "$BENCH" --threads "$threads" "$@" 2>/dev/null | tee -a "$log"; }

for scheme in ${SCHEMES:-W4G32 W3G32 W2G32}; do
  run --scheme "$scheme" --algorithm rtn --iters 0
  run --scheme "$scheme" --algorithm signroundv2 --iters 0
  for seed in "${seeds[@]}"; do
    run --scheme "$scheme" --algorithm signround --seed "$seed"
    run --scheme "$scheme" --algorithm signroundv2 --seed "$seed"
    run --scheme "$scheme" --algorithm signround --asym --seed "$seed"
    run --scheme "$scheme" --algorithm signroundv2 --input-mode fp --seed "$seed"
  done
done

echo
echo "cell | runs | mean | min | max"
awk '{
  cell = ""; ppl = 0
  for (i = 1; i <= NF; ++i) {
    split($i, kv, "=")
    if (kv[1] == "algorithm" || kv[1] == "scheme" || kv[1] == "iters" || kv[1] == "input") {
      cell = cell " " $i
    } else if ($i == "sym" || $i == "asym") {
      cell = cell " " $i
    } else if (kv[1] == "ppl") {
      ppl = kv[2]
    }
  }
  n[cell]++; sum[cell] += ppl
  if (!(cell in lo) || ppl < lo[cell]) lo[cell] = ppl
  if (!(cell in hi) || ppl > hi[cell]) hi[cell] = ppl
  order[cell] = order[cell] ? order[cell] : ++cells
} END {
  for (c in order) byorder[order[c]] = c
  for (k = 1; k <= cells; ++k) {
    c = byorder[k]
    printf "%s | %d | %.4f | %.4f | %.4f\n", substr(c, 2), n[c], sum[c] / n[c], lo[c], hi[c]
  }
}' "$log"
