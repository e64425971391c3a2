"""Scenario 4 rivals: the same bars from the same ticks with polars and DuckDB.

Called by `scenario 4` with a directory holding the tick columns it wrote
(`ts.i64`, `price.f64`, `size.f64`: raw little-endian arrays, one symbol,
sorted by time). Prints one JSON object: per tool, the median seconds over
`--runs` runs to build the bars of every timeframe, and the bar count of each
timeframe (checked against tickd's by the caller).

Bars: buckets [k*w, (k+1)*w) on the epoch, open/high/low/close, volume,
VWAP numerator, count -- what tickd's `Bar` holds. Results are materialised
(polars DataFrame, DuckDB fetched to NumPy) so nothing is left lazy.
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np

TIMEFRAMES_MS = [1_000, 60_000, 300_000, 900_000, 3_600_000, 86_400_000]
POLARS_EVERY = {1_000: "1s", 60_000: "1m", 300_000: "5m", 900_000: "15m", 3_600_000: "1h", 86_400_000: "1d"}


def load(d):
    ts = np.fromfile(f"{d}/ts.i64", dtype="<i8")
    price = np.fromfile(f"{d}/price.f64", dtype="<f8")
    size = np.fromfile(f"{d}/size.f64", dtype="<f8")
    if not (len(ts) == len(price) == len(size)):
        sys.exit("column lengths differ")
    return ts, price, size


def run_polars(ts, price, size, runs):
    import polars as pl

    df = pl.DataFrame({"ts": ts, "price": price, "size": size}).with_columns(
        pl.col("ts").cast(pl.Datetime("ns"))
    ).set_sorted("ts")
    times, counts = [], []
    for _ in range(runs):
        counts = []
        t0 = time.perf_counter()
        for ms in TIMEFRAMES_MS:
            bars = df.group_by_dynamic("ts", every=POLARS_EVERY[ms], closed="left", label="left").agg(
                pl.col("price").first().alias("open"),
                pl.col("price").max().alias("high"),
                pl.col("price").min().alias("low"),
                pl.col("price").last().alias("close"),
                pl.col("size").sum().alias("volume"),
                (pl.col("price") * pl.col("size")).sum().alias("vwap_num"),
                pl.len().alias("count"),
            )
            counts.append(bars.height)
        times.append(time.perf_counter() - t0)
    return {"version": pl.__version__, "seconds": statistics.median(times), "runs": times, "bars": counts}


def run_duckdb(ts, price, size, runs):
    import duckdb

    con = duckdb.connect()
    ticks = {"ts": ts, "price": price, "size": size, "i": np.arange(len(ts), dtype=np.int64)}
    con.register("ticks_np", ticks)
    con.execute("CREATE TABLE ticks AS SELECT * FROM ticks_np")
    times, counts = [], []
    for _ in range(runs):
        counts = []
        t0 = time.perf_counter()
        for ms in TIMEFRAMES_MS:
            w = ms * 1_000_000
            res = con.execute(
                f"""SELECT (ts // {w}) * {w} AS start,
                           arg_min(price, i) AS open, max(price) AS high, min(price) AS low,
                           arg_max(price, i) AS close, sum(size) AS volume,
                           sum(price * size) AS vwap_num, count(*) AS count
                    FROM ticks GROUP BY 1 ORDER BY 1"""
            ).fetchnumpy()
            counts.append(len(res["start"]))
        times.append(time.perf_counter() - t0)
    return {"version": duckdb.__version__, "seconds": statistics.median(times), "runs": times, "bars": counts}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    ts, price, size = load(a.dir)
    out = {"ticks": int(len(ts))}
    for name, fn in (("polars", run_polars), ("duckdb", run_duckdb)):
        try:
            out[name] = fn(ts, price, size, max(1, a.runs))
        except ImportError as e:
            out[name] = {"error": f"not installed: {e} (pip install polars duckdb)"}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
