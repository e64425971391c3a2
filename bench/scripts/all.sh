#!/usr/bin/env bash
# Every figure of bench/RESULTS.md, one command:
#
#   bench/scripts/all.sh            # full runs (tens of minutes; quiet machine please)
#   bench/scripts/all.sh --smoke    # CI: seconds each, same code paths
#
# Needs python3 with polars, duckdb, matplotlib (pip install polars duckdb matplotlib).
# Uses CARGO_TARGET_DIR if set; the Nautilus comparison builds in its own target dir
# (NAUTILUS_TARGET_DIR, default target-nautilus at the repository root).
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=()
smoke=0
if [[ "${1:-}" == "--smoke" ]]; then mode=(--smoke); smoke=1; fi
target=${CARGO_TARGET_DIR:-target}
cargo build --release -p engine --bin tickd -p bench --bin scenario --bin tickload
for n in 4 5 1 2 3; do
  echo "== scenario $n ${mode[*]:-}" >&2
  "$target/release/scenario" "$n" "${mode[@]}"
done
if [[ $smoke == 0 || "${NAUTILUS:-0}" == 1 ]]; then
  echo "== NautilusTrader comparison" >&2
  ntarget=${NAUTILUS_TARGET_DIR:-$PWD/target-nautilus}
  suffix=""; args=(--ticks 2000000 --runs 5)
  if [[ $smoke == 1 ]]; then suffix="-smoke"; args=(--smoke); fi
  out=bench/results/scenario4-nautilus$suffix
  (cd bench/compare-nautilus && CARGO_TARGET_DIR=$ntarget cargo build --release --ignore-rust-version)
  {
    echo "## Scenario 4b: tickd streaming vs NautilusTrader TimeBarAggregator"
    echo
    echo "- Commit: \`$(git describe --always --dirty --abbrev=12)\`, $(date -u '+%Y-%m-%d %H:%M') UTC"
    echo "- Rerun: \`cd bench/compare-nautilus && cargo run --release --ignore-rust-version -- ${args[*]}\`"
    echo "- nautilus-data 0.62.0, historical mode (one TestClock per aggregator), same synthetic ticks"
    echo "  (bench/src/synth.rs), bar counts equal; medians of the runs; ratio = nautilus / tickd."
    echo
    "$ntarget/release/compare-nautilus" "${args[@]}" --json "$PWD/$out.json"
  } > "$out.md"
  cat "$out.md"
fi
