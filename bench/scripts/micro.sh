#!/usr/bin/env bash
# Runs the criterion micro-benchmarks of every workspace crate and records
# them under bench/results/micro/ (one log per crate + a summary table).
#
#   bench/scripts/micro.sh            # full criterion runs
#   bench/scripts/micro.sh --quick    # short runs (CI smoke: compiles and runs each once)
#
# Uses CARGO_TARGET_DIR if set. Criterion's own reports stay in the target dir.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/results/micro
mkdir -p "$out"
extra=()
if [[ "${1:-}" == "--quick" ]]; then
  # criterion 0.5: short warm-up and measurement, few samples.
  extra=(-- --warm-up-time 0.2 --measurement-time 0.5 --sample-size 10)
fi
summary="$out/SUMMARY.md"
{
  echo "# Criterion micro-benchmarks"
  echo
  echo "- Commit: \`$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)\`"
  echo "- Date (UTC): $(date -u '+%Y-%m-%d %H:%M')"
  echo "- Command: \`bench/scripts/micro.sh ${1:-}\`"
  echo "- Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(uname -sr)"
  echo
  echo "| crate | benchmark | time (median of criterion's estimate) | throughput |"
  echo "|---|---|---|---|"
} > "$summary"
status=0
for manifest in */Cargo.toml; do
  crate=$(dirname "$manifest")
  [[ -d "$crate/benches" ]] || continue
  log="$out/$crate.log"
  echo "== $crate" >&2
  # --bench "*": the [[bench]] targets only (lib and bins would get criterion flags).
  if ! cargo bench -p "$crate" --bench "*" "${extra[@]}" > "$log" 2>&1; then
    echo "cargo bench -p $crate failed; see $log" >&2
    status=1
    continue
  fi
  # criterion prints "name   time:   [lo mid hi]" and optionally "thrpt:  [lo mid hi]".
  awk -v crate="$crate" '
    /time:/ { name=$1; if (name=="time:") name=prev; t=$0; sub(/.*time: *\[/, "", t); split(t, a, " "); tm=a[3] " " a[4]; th="" ; pending=1; next }
    /thrpt:/ && pending { t=$0; sub(/.*thrpt: *\[/, "", t); split(t, a, " "); th=a[3] " " a[4]; print "| " crate " | " name " | " tm " | " th " |"; pending=0; next }
    { if (pending) { print "| " crate " | " name " | " tm " | |"; pending=0 } ; if (NF==1) prev=$1 }
    END { if (pending) print "| " crate " | " name " | " tm " | |" }
  ' "$log" >> "$summary"
done
echo "summary: $summary" >&2
exit $status
