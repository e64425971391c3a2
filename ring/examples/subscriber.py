#!/usr/bin/env python3
"""A tickd ring subscriber in plain Python: mmap + struct, no compiled extension.

It implements the read protocol of docs/ring.md:

    s1 = seq word of slot (n mod capacity)
    s1 == 2n+2  -> copy the 120 payload bytes, re-read seq; equal -> record n
    s1 <  2n+2  -> not published yet
    s1 >  2n+2  -> overwritten: lapped; resume at cursor-1, lost = resume - n

CPython has no memory fences; on x86-64 (TSO: loads are not reordered with
other loads) the order "seq, payload, seq" of the interpreter's loads is
kept by the hardware, which is all the protocol needs. Other architectures
would need a fence between the three steps (see docs/ring.md).

Usage:
    subscriber.py --ring PATH [--snapshot PATH] [--start newest|oldest|SEQ]
                  [--check --expect N] [--timeout S] [--max N] [--quiet]
                  [--allow-stopped]

--check verifies the known records of ring/examples/writer.rs (and the
snapshot) and exits non-zero on any mismatch. Output: one JSON summary line.
"""

import argparse
import json
import mmap
import os
import struct
import sys
import time

MAGIC_RING = b"TICKDRNG"
MAGIC_SNAPSHOT = b"TICKDSNP"
LAYOUT_VERSION = 1
HEADER_SIZE = 4096
RECORD_SIZE = 128
DIR_ENTRY_SIZE = 64

# header offsets (docs/ring.md, "Header")
H_MAGIC, H_VERSION, H_HEADER_SIZE, H_RECORD_SIZE, H_DIR_ENTRY_SIZE = 0, 8, 12, 16, 20
H_CAPACITY, H_TIMEFRAME_COUNT, H_WRITER_PID, H_CREATED_NS = 24, 32, 36, 40
H_DATA_OFFSET, H_DIR_OFFSET = 48, 56
H_HEARTBEAT, H_STATE, H_DIR_GENERATION = 64, 72, 80
H_CURSOR = 128
H_TIMEFRAMES = 192
STATE_LIVE, STATE_SHUT_DOWN = 1, 2

KIND_BAR_CLOSED, KIND_BAR_CORRECTED, KIND_BAR_UPDATE, KIND_TICK = 1, 2, 3, 4
KIND_FEED_GAP, KIND_HEARTBEAT, KIND_SHUTDOWN, KIND_SYMBOL_ADDED = 16, 17, 18, 19
BAR_KINDS = {KIND_BAR_CLOSED: "closed", KIND_BAR_CORRECTED: "corrected", KIND_BAR_UPDATE: "update"}
NO_SYMBOL = 0xFFFFFFFF
BAR_FLAG_OPEN = 1 << 2

U64 = struct.Struct("<Q")
# payload (record bytes 8..128)
BAR = struct.Struct("<BBHI IIq 9d Qqq")  # kind, pad, flags, symbol, tf_ms, revision, start, 9 f64, count, first, last
TICK = struct.Struct("<BBBxI H6x qq 4d Q 48x")  # kind, tick_kind, side, symbol, flags, ts_event, ts_recv, price, size, ask, ask_size, id
EVENT = struct.Struct("<B3xI q QQQ 80x")  # kind, symbol, ts, a, b, c
assert BAR.size == TICK.size == EVENT.size == RECORD_SIZE - 8


class RingError(Exception):
    pass


def _open_map(path, magic, what):
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise RingError(f"{path}: no such file (is the writer running?)")
    except PermissionError:
        raise RingError(f"{path}: permission denied (need the writer's group)")
    try:
        size = os.fstat(fd).st_size
        if size < HEADER_SIZE:
            raise RingError(f"{path}: shorter than its header")
        mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)  # read-only
    finally:
        os.close(fd)
    if mm[0:8] != magic:
        raise RingError(f"{path}: not a tickd {what} file (magic {mm[0:8]!r})")
    version = struct.unpack_from("<I", mm, H_VERSION)[0]
    if version != LAYOUT_VERSION:
        raise RingError(f"{path}: layout version {version}, this reader knows {LAYOUT_VERSION}")
    hs, rs = struct.unpack_from("<II", mm, H_HEADER_SIZE)
    if hs != HEADER_SIZE or rs != RECORD_SIZE:
        raise RingError(f"{path}: corrupt header (sizes {hs}, {rs})")
    return mm, size


def writer_status(mm, dead_after_s):
    """'live', 'shut down', or 'dead: ...' from the header."""
    if U64.unpack_from(mm, H_STATE)[0] == STATE_SHUT_DOWN:
        return "shut down"
    pid = struct.unpack_from("<I", mm, H_WRITER_PID)[0]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"dead: no process {pid}"
    except PermissionError:
        pass  # exists, another user's
    age = (time.monotonic_ns() - U64.unpack_from(mm, H_HEARTBEAT)[0]) / 1e9
    if age > dead_after_s:
        return f"dead: heartbeat {age:.3f} s old"
    return "live"


def decode(p):
    """A record's 120 payload bytes -> dict."""
    kind = p[0]
    if kind in BAR_KINDS:
        (k, _, flags, symbol, tf_ms, revision, start, o, h, l, c, vol, vwap, vwap_num,
         buy, sell, count, first_ts, last_ts) = BAR.unpack(p)
        return dict(type="bar", kind=BAR_KINDS[k], symbol=symbol, timeframe_ms=tf_ms,
                    start=start, end=start + tf_ms * 1_000_000, open=o, high=h, low=l,
                    close=c, volume=vol, vwap=vwap, vwap_num=vwap_num, buy_volume=buy,
                    sell_volume=sell, count=count, first_ts=first_ts, last_ts=last_ts,
                    revision=revision, flags=flags)
    if kind == KIND_TICK:
        (_, tk, side, symbol, flags, ts_event, ts_recv, price, size, ask, ask_size,
         tid) = TICK.unpack(p)
        return dict(type="tick", tick_kind={1: "trade", 2: "quote"}.get(tk, tk), side=side,
                    symbol=symbol, flags=flags, ts_event=ts_event, ts_recv=ts_recv,
                    price=price, size=size, ask=ask, ask_size=ask_size, id=tid)
    _, symbol, ts, a, b, c = EVENT.unpack(p)
    sym = None if symbol == NO_SYMBOL else symbol
    if kind == KIND_FEED_GAP:
        return dict(type="feed_gap", ts=ts, feed=a & 0xFFFFFFFF, symbol=sym, expected=b, received=c)
    if kind == KIND_HEARTBEAT:
        return dict(type="heartbeat", ts=ts)
    if kind == KIND_SHUTDOWN:
        return dict(type="shutdown", ts=ts)
    if kind == KIND_SYMBOL_ADDED:
        return dict(type="symbol_added", ts=ts, symbol=sym)
    return dict(type="unknown", kind=kind)


class Ring:
    def __init__(self, path, start="newest", dead_after_s=3.0, require_live=True):
        self.mm, size = _open_map(path, MAGIC_RING, "ring")
        self.capacity = U64.unpack_from(self.mm, H_CAPACITY)[0]
        cap = self.capacity
        if cap < 2 or cap & (cap - 1) or HEADER_SIZE + cap * RECORD_SIZE != size:
            raise RingError(f"{path}: corrupt header (capacity {cap}, size {size})")
        self.mask = cap - 1
        self.dead_after_s = dead_after_s
        if require_live:
            st = writer_status(self.mm, dead_after_s)
            if st != "live":
                raise RingError(f"{path}: writer {st}")
        cursor = self.cursor()
        if start == "newest":
            self.next = cursor
        elif start == "oldest":
            self.next = max(0, cursor - cap)
        else:
            self.next = int(start)
        self.laps = self.lost = 0

    def cursor(self):
        return U64.unpack_from(self.mm, H_CURSOR)[0]

    def poll(self):
        """(seq, record dict) | ('lapped', lost) | None. Never blocks."""
        n = self.next
        off = HEADER_SIZE + (n & self.mask) * RECORD_SIZE
        want = 2 * n + 2
        s1 = U64.unpack_from(self.mm, off)[0]
        if s1 == want:
            payload = self.mm[off + 8: off + RECORD_SIZE]
            s2 = U64.unpack_from(self.mm, off)[0]
            if s2 == want:
                self.next = n + 1
                return n, decode(payload)
        elif s1 < want:
            return None
        # overwritten: resume at the newest complete record
        resume = max(self.cursor() - 1, n + 1)
        self.next = resume
        self.laps += 1
        self.lost += resume - n
        return "lapped", resume - n

    def wait(self, timeout_s):
        """Spin briefly, then sleep in short naps; None on timeout or writer end."""
        deadline = time.monotonic() + timeout_s
        for _ in range(1000):
            r = self.poll()
            if r is not None:
                return r
        nap = 1e-5
        while True:
            r = self.poll()
            if r is not None:
                return r
            st = writer_status(self.mm, self.dead_after_s)
            if st != "live":
                return self.poll()
            if time.monotonic() > deadline:
                return None
            time.sleep(nap)
            nap = min(nap * 2, 1e-3)


class Snapshot:
    def __init__(self, path):
        self.mm, size = _open_map(path, MAGIC_SNAPSHOT, "snapshot")
        self.max_symbols = U64.unpack_from(self.mm, H_CAPACITY)[0]
        ntf = struct.unpack_from("<I", self.mm, H_TIMEFRAME_COUNT)[0]
        self.timeframes_ms = list(struct.unpack_from(f"<{ntf}I", self.mm, H_TIMEFRAMES))
        self.dir_offset = U64.unpack_from(self.mm, H_DIR_OFFSET)[0]
        expect = self.dir_offset + self.max_symbols * DIR_ENTRY_SIZE
        if (not 1 <= ntf <= 64 or self.dir_offset != HEADER_SIZE + self.max_symbols * ntf * RECORD_SIZE
                or expect != size):
            raise RingError(f"{path}: corrupt snapshot header")

    def _load(self, off, length):
        for _ in range(10000):
            s1 = U64.unpack_from(self.mm, off)[0]
            if s1 & 1:
                continue
            data = self.mm[off + 8: off + length]
            if U64.unpack_from(self.mm, off)[0] == s1:
                return s1, data
        raise RingError("snapshot slot kept changing")

    def symbols(self):
        out = {}
        for i in range(self.max_symbols):
            seq, d = self._load(self.dir_offset + i * DIR_ENTRY_SIZE, DIR_ENTRY_SIZE)
            if seq:
                out[d[1:1 + d[0]].decode("utf-8")] = i
        return out

    def get(self, symbol_id, timeframe_ms):
        t = self.timeframes_ms.index(timeframe_ms)
        off = HEADER_SIZE + (symbol_id * len(self.timeframes_ms) + t) * RECORD_SIZE
        seq, d = self._load(off, RECORD_SIZE)
        return decode(d) if seq else None


def expected_known(k):
    """Record k of ring/examples/writer.rs."""
    x = float(k)
    sym = k % 10
    if k % 4 in (0, 1):
        quote = k % 4 == 1
        return dict(type="tick", tick_kind="quote" if quote else "trade", side=0 if quote else 1,
                    symbol=sym, flags=0, ts_event=k, ts_recv=k + 7, price=x * 0.25,
                    size=float(k % 1000), ask=x * 0.25 + 0.5 if quote else 0.0,
                    ask_size=3.0 if quote else 0.0, id=k ^ 0x5A5A5A5A)
    start = k * 60_000_000_000
    update = k % 4 == 2
    return dict(type="bar", kind="update" if update else "closed", symbol=sym,
                timeframe_ms=60_000, start=start, end=start + 60_000_000_000, open=x,
                high=x + 2.0, low=x - 1.0, close=x + 0.5, volume=10.0, vwap=x + 0.25,
                vwap_num=10.0 * (x + 0.25), buy_volume=6.0, sell_volume=4.0, count=k,
                first_ts=start + 1, last_ts=start + 2, revision=0,
                flags=BAR_FLAG_OPEN if update else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ring", required=True)
    ap.add_argument("--snapshot")
    ap.add_argument("--start", default="newest")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds without a record")
    ap.add_argument("--wait-open", type=float, default=10.0, help="seconds to wait for the file")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--expect", type=int, default=0, help="known records the writer publishes")
    ap.add_argument("--max", type=int, default=0, help="stop after this many records")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--allow-stopped", action="store_true",
                    help="also open a ring whose writer is dead or shut down (read what it left)")
    a = ap.parse_args()

    t0 = time.monotonic()
    while True:
        try:
            ring = Ring(a.ring, a.start, require_live=not a.allow_stopped)
            break
        except RingError as e:
            if time.monotonic() - t0 > a.wait_open:
                print(f"subscriber: {e}", file=sys.stderr)
                return 2
            time.sleep(0.02)
    print("READY", flush=True)

    counts, errors, next_known, known_seen, known_lost = {}, [], None, 0, 0
    shutdown = False
    while True:
        r = ring.wait(a.timeout)
        if r is None:
            errors.append(f"no record for {a.timeout} s (writer: {writer_status(ring.mm, 3.0)})")
            break
        if r[0] == "lapped":
            continue
        seq, rec = r
        counts[rec["type"]] = counts.get(rec["type"], 0) + 1
        if not a.quiet and not a.check:
            print(json.dumps(dict(seq=seq, **rec)))
        if rec["type"] == "shutdown":
            shutdown = True
            break
        if a.check and rec["type"] in ("tick", "bar"):
            k = rec["ts_event"] if rec["type"] == "tick" else rec["count"]
            if rec != expected_known(k):
                errors.append(f"record {seq}: {rec} != known record {k}")
            if next_known is not None and k != next_known:
                if ring.laps == 0:
                    errors.append(f"record {seq}: known record {k}, expected {next_known}")
                known_lost += k - next_known
            next_known = k + 1
            known_seen += 1
        if a.max and sum(counts.values()) >= a.max:
            break

    summary = dict(counts=counts, laps=ring.laps, lost=ring.lost, known_seen=known_seen,
                   shutdown=shutdown, errors=errors[:10], error_count=len(errors))
    if a.snapshot:
        snap = Snapshot(a.snapshot)
        names = snap.symbols()
        summary["symbols"] = names
        if a.check:
            for s in range(10):
                if names.get(f"SYM{s}") != s:
                    errors.append(f"directory: SYM{s} -> {names.get(f'SYM{s}')}")
                ks = [k for k in range(a.expect) if k % 10 == s and k % 4 in (2, 3)]
                got = snap.get(s, 60_000)
                want = expected_known(ks[-1]) if ks else None
                if got != want:
                    errors.append(f"snapshot SYM{s} 1m: {got} != {want}")
                if snap.get(s, 300_000) is not None:
                    errors.append(f"snapshot SYM{s} 5m should be empty")
    if a.check:
        if not shutdown:
            errors.append("no shutdown record")
        if ring.laps == 0 and a.expect and known_seen != a.expect:
            errors.append(f"saw {known_seen} known records, expected {a.expect}")
    summary["error_count"] = len(errors)
    summary["errors"] = errors[:10]
    print(json.dumps(summary), flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
