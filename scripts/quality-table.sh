#!/usr/bin/env bash
# Prints the quality table of docs/quality.md: every scheme x algorithm cell on stories260K,
# plus the asym and fp-input variants, one line per run (config, perplexity, seconds).
# Usage: scripts/quality-table.sh [extra sr2-quality-bench flags, e.g. --seed 7]
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=build/bin/sr2-quality-bench
[ -x "$BENCH" ] || scripts/build.sh
for scheme in W4G32 W3G32 W2G32; do
  "$BENCH" --scheme "$scheme" --algorithm rtn --iters 0 "$@"
  "$BENCH" --scheme "$scheme" --algorithm signround "$@"
  "$BENCH" --scheme "$scheme" --algorithm signroundv2 "$@"
  "$BENCH" --scheme "$scheme" --algorithm signroundv2 --iters 0 "$@"
  "$BENCH" --scheme "$scheme" --algorithm signround --asym "$@"
  "$BENCH" --scheme "$scheme" --algorithm signroundv2 --input-mode fp "$@"
done
