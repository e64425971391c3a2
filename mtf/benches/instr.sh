#!/bin/sh
# Instructions per tick of the streaming aggregator under callgrind: repeatable
# on a loaded machine, where wall-clock and even on-CPU times are not.
#
#   mtf/benches/instr.sh [variant ...]    (default: the stream_cpu variants below)
#
# Runs the release `stream_cpu` example (20,000 ticks x 5 passes) once per
# variant and once with no variant (tick generation and the AoS calibration
# only), and prints the difference per tick: the aggregator's own
# instructions, slow paths and the benchmark loop included.
set -eu
cd "$(dirname "$0")/../.."
cargo build --release -q -p mtf --example stream_cpu
bin="${CARGO_TARGET_DIR:-target}/release/examples/stream_cpu"
ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 20000 5 "$1" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
base=$(ir no_such_variant)
[ $# -gt 0 ] || set -- closed_only_fold closed_only_direct open_every_tick_fold sparse_closed_only_fold nautilus_dense nautilus_sparse nautilus_sparse_filled
for v in "$@"; do
    echo "$v: $(( ($(ir "$v") - base) / 100000 )) instructions/tick"
done
