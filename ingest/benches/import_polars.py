#!/usr/bin/env python3
"""polars' read_csv timed on the files the Rust import bench parses.

Usage: import_polars.py REPEATS NAME=FILE[:noheader] ...
Prints one JSON object: {"polars": version, "threads": n, NAME: [wall seconds, ...],
NAME_cpu: [process CPU seconds, all threads, ...], ...}.
The Rust bench (`cargo bench -p ingest --bench import_csv`) runs this script
beside its own timings, so both parse the same bytes in the same run.
"""
import json
import sys
import time

import polars as pl


def main() -> None:
    repeats = int(sys.argv[1])
    out = {"polars": pl.__version__, "threads": pl.thread_pool_size()}
    for arg in sys.argv[2:]:
        name, path = arg.split("=", 1)
        header = True
        if path.endswith(":noheader"):
            path, header = path[: -len(":noheader")], False
        times, cpu = [], []
        for _ in range(repeats):
            c0 = time.process_time()
            t0 = time.perf_counter()
            df = pl.read_csv(path, has_header=header)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        out[name] = times
        out[name + "_cpu"] = cpu
        out[name + "_rows"] = df.height
    print(json.dumps(out))


if __name__ == "__main__":
    main()
