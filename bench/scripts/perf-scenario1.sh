#!/usr/bin/env bash
# perf recipe for scenario 1: records the whole run (load generator, floors
# and the tickd daemon it starts, which perf follows as a child) with frame-
# pointer call graphs and renders flame graphs as SVG beside the results.
#
#   bench/scripts/perf-scenario1.sh [--smoke] [extra scenario args...]
#
# Needs: perf (linux-perf / linux-tools), inferno (`cargo install inferno`).
# Frame pointers are forced for every build by .cargo/config.toml, and the
# release profile keeps line tables, so stacks are whole and readable.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-target}
cargo build --release -p engine --bin tickd -p bench --bin scenario
out=bench/results
mkdir -p "$out"
data=$(mktemp -d)/perf.data
suffix=""
if [[ "${1:-}" == "--smoke" ]]; then suffix="-smoke"; fi
perf record -F 999 -g --call-graph fp -o "$data" -- \
  "$target/release/scenario" 1 "$@"
perf script -i "$data" > "$data.txt"
inferno-collapse-perf < "$data.txt" > "$data.folded"
inferno-flamegraph --title "scenario 1: whole run" < "$data.folded" > "$out/scenario1$suffix-flame.svg"
# The daemon alone: its threads only (process name tickd).
grep '^tickd' "$data.folded" > "$data.tickd.folded" || true
if [[ -s "$data.tickd.folded" ]]; then
  inferno-flamegraph --title "scenario 1: tickd daemon" < "$data.tickd.folded" > "$out/scenario1$suffix-flame-tickd.svg"
fi
perf report -i "$data" --no-children --sort comm,dso,symbol --stdio 2>/dev/null | head -60 > "$out/scenario1$suffix-perf-top.txt"
echo "flame graphs: $out/scenario1$suffix-flame.svg $out/scenario1$suffix-flame-tickd.svg" >&2
echo "top symbols:  $out/scenario1$suffix-perf-top.txt (perf.data kept at $data)" >&2
