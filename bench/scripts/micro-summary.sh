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
  [[ -e "$out/loadavg" ]] && echo "- Load average (1, 5, 15 min) at the start of the run: $(cat "$out/loadavg") (2 CPUs)"
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
  # criterion: "name  time: [lo mid hi]", or the name alone on the line
  # before when long (names may contain spaces), optional "thrpt: [lo mid
  # hi]"; a "change:" block compares with the previous run and is skipped.
  awk -v crate="$crate" '
    /^ *change:/ { if ($0 !~ /\[/) skip=2; next }
    skip > 0 && (/time:/ || /thrpt:/) { skip--; next }
    /time: *\[/ {
      if ($0 ~ /^ /) name=prev; else { name=$0; sub(/ *time:.*/, "", name) }
      t=$0; sub(/.*time: *\[/, "", t); split(t, a, " "); tm=a[3] " " a[4]; pending=1; next
    }
    /thrpt:/ && pending { t=$0; sub(/.*thrpt: *\[/, "", t); split(t, a, " "); print "| " crate " | " name " | " tm " | " a[3] " " a[4] " |"; pending=0; next }
    { if (pending) { print "| " crate " | " name " | " tm " | |"; pending=0 }; if (NF > 0 && $0 !~ /^Benchmarking /) prev=$0 }
    END { if (pending) print "| " crate " | " name " | " tm " | |" }
  ' "$log" >> "$summary"
done
# Benchmarks with a harness of their own (ring's latency bench) print their
# figures as text: their summary lines are kept as they are.
for log in "$out"/*.log; do
  [[ -e "$log" ]] || continue
  lines=$(grep -E '^(latency @|p99 round|publish cost|throughput)' "$log" || true)
  [[ -n "$lines" ]] || continue
  {
    echo
    echo "## $(basename "$log" .log): own harness (summary lines as printed)"
    echo
    echo '```'
    echo "$lines"
    echo '```'
  } >> "$summary"
done
echo "summary: $summary" >&2
