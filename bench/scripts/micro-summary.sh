#!/usr/bin/env bash
# Rebuilds bench/results/micro/SUMMARY.md from the criterion logs that
# bench/scripts/micro.sh left in bench/results/micro/<crate>.log.
# Rows: crate, benchmark, criterion's median time estimate, median throughput.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/results/micro
summary="$out/SUMMARY.md"
{
  echo "# Criterion micro-benchmarks"
  echo
  echo "- Commit: \`$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)\`"
  echo "- Date (UTC): $(date -u '+%Y-%m-%d %H:%M')"
  echo "- Command: \`bench/scripts/micro.sh ${1:-}\` (logs: \`bench/results/micro/<crate>.log\`)"
  echo "- Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(uname -sr)"
  echo
  echo "| crate | benchmark | time (criterion median estimate) | throughput |"
  echo "|---|---|---|---|"
} > "$summary"
for log in "$out"/*.log; do
  [[ -e "$log" ]] || continue
  crate=$(basename "$log" .log)
  # criterion: "name  time: [lo mid hi]" (name alone on the line before when
  # long), optional "thrpt: [lo mid hi]"; a "change:" block compares with the
  # previous run and is skipped.
  awk -v crate="$crate" '
    /^ *change:/ { skip=2; next }
    skip > 0 && (/time:/ || /thrpt:/) { skip--; next }
    /time:/ { name=$1; if (name=="time:") name=prev; t=$0; sub(/.*time: *\[/, "", t); split(t, a, " "); tm=a[3] " " a[4]; pending=1; next }
    /thrpt:/ && pending { t=$0; sub(/.*thrpt: *\[/, "", t); split(t, a, " "); print "| " crate " | " name " | " tm " | " a[3] " " a[4] " |"; pending=0; next }
    { if (pending) { print "| " crate " | " name " | " tm " | |"; pending=0 }; if (NF==1) prev=$1 }
    END { if (pending) print "| " crate " | " name " | " tm " | |" }
  ' "$log" >> "$summary"
done
echo "summary: $summary" >&2
