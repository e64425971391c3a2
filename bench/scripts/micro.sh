#!/usr/bin/env bash
# Runs the criterion micro-benchmarks of every workspace crate and records
# them under bench/results/micro/ (one log per crate + a summary table).
#
#   bench/scripts/micro.sh            # full criterion runs
#   bench/scripts/micro.sh --quick    # short runs (CI smoke: compiles and runs each once)
#   MICRO_CRATES="mtf ring" bench/scripts/micro.sh   # only these crates
#
# Uses CARGO_TARGET_DIR if set. Criterion's own reports stay in the target dir.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/results/micro
mkdir -p "$out"
# The load when the run starts: these machines are shared, the summary says so.
cut -d" " -f1-3 /proc/loadavg > "$out/loadavg"
extra=()
if [[ "${1:-}" == "--quick" ]]; then
  # criterion 0.5: short warm-up and measurement, few samples.
  extra=(-- --warm-up-time 0.2 --measurement-time 0.5 --sample-size 10)
fi
status=0
for manifest in */Cargo.toml; do
  crate=$(dirname "$manifest")
  [[ -d "$crate/benches" ]] || continue
  if [[ -n "${MICRO_CRATES:-}" && " $MICRO_CRATES " != *" $crate "* ]]; then continue; fi
  log="$out/$crate.log"
  echo "== $crate" >&2
  # --bench "*": the [[bench]] targets only (lib and bins would get criterion flags).
  if ! cargo bench -p "$crate" --bench "*" "${extra[@]}" > "$log" 2>&1; then
    echo "cargo bench -p $crate failed; see $log" >&2
    status=1
    continue
  fi
done
bench/scripts/micro-summary.sh "${1:-}"
exit $status
