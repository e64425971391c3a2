#!/usr/bin/env python3
"""A tickd ring subscriber in plain Python: mmap + struct, no compiled extension.

It implements the read protocol of docs/ring.md (layout version 2). The ring
is a circle of 64-byte lines of eight 64-bit words; word 0 of every line is
its line word, words 1..7 carry payload. A record is 1, 2 or 3 consecutive lines
(positions p, p+1, p+2, each mod capacity). Line i of record n with L lines
holds, once complete,

    ((n + 1) << 5) | (i << 3) | ((L - 1) << 1)      (even)

and ((n + 1) << 5) - 1 (odd) while the writer writes it. Reading record n
expected at line p:

    w0 = line word(p)
    w0 is line 0 of record n, complete -> L from w0; check lines 1..L-1,
                                          copy the 7L payload words,
                                          re-read the L line words; all
                                          unchanged -> record n, next at p+L
    w0 holds an older record, or n's   -> not published yet
    writing marker
    anything else                      -> overwritten: lapped; resume at the
                                          record that ends at line cursor-1,
                                          lost = its number - n

Starting points: newest (only new records), oldest (what the ring still
holds), or a sequence number (one already overwritten starts at the oldest,
after a lap of exactly the records lost).

CPython has no memory fences; on x86-64 (TSO: loads are not reordered with
other loads) the order "line words, payload, line words" of the interpreter's
loads is kept by the hardware, which is all the protocol needs. Other
architectures would need a fence between the steps (see docs/ring.md).

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
LAYOUT_VERSION = 2
HEADER_SIZE = 4096
LINE_SIZE = 64  # ring: record_size in the header
LINE_PAYLOAD_WORDS = 7  # words 1..7 of a line
MAX_LINES = 3  # lines of the longest record
SLOT_SIZE = 128  # snapshot: one bar slot (seq word + 15 words)
DIR_ENTRY_SIZE = 64
MIN_CAPACITY, MAX_CAPACITY = 4, 1 << 27  # ring capacity in lines

# header offsets (docs/ring.md, "Header")
H_MAGIC, H_VERSION, H_HEADER_SIZE, H_RECORD_SIZE, H_DIR_ENTRY_SIZE = 0, 8, 12, 16, 20
H_CAPACITY, H_TIMEFRAME_COUNT, H_WRITER_PID, H_CREATED_NS = 24, 32, 36, 40
H_DATA_OFFSET, H_DIR_OFFSET = 48, 56
H_HEARTBEAT, H_STATE, H_DIR_GENERATION = 64, 72, 80
H_CURSOR, H_RECORDS = 128, 136
H_TIMEFRAMES = 192
STATE_LIVE, STATE_SHUT_DOWN = 1, 2

KIND_BAR_CLOSED, KIND_BAR_CORRECTED, KIND_BAR_UPDATE, KIND_TICK = 1, 2, 3, 4
KIND_FEED_GAP, KIND_HEARTBEAT, KIND_SHUTDOWN, KIND_SYMBOL_ADDED = 16, 17, 18, 19
BAR_KINDS = {KIND_BAR_CLOSED: "closed", KIND_BAR_CORRECTED: "corrected", KIND_BAR_UPDATE: "update"}
EVENT_KINDS = (KIND_FEED_GAP, KIND_HEARTBEAT, KIND_SHUTDOWN, KIND_SYMBOL_ADDED)
NO_SYMBOL = 0xFFFFFFFF
MAX_TIMEFRAME_MS = 86_400_000  # one day
I64_MAX = (1 << 63) - 1  # a bar's end saturates here
BAR_FLAG_OPEN = 1 << 2

U64 = struct.Struct("<Q")
# Payload words, as one little-endian byte string: word k at bytes 8k..8k+8.
HEAD = struct.Struct("<BBHI")  # word 0: kind, aux, flags16, symbol
# bar words 1..13: timeframe_ms, revision | start | open high low close | volume |
# vwap_num | buy_volume sell_volume | count | first_ts last_ts
BAR = struct.Struct("<8x IIq 4d d d 2d Q 2q")
BAR_VWAP = struct.Struct("<112x d")  # word 14 (aux = 1)
TICK = struct.Struct("<8x qq 2d")  # words 1..4: ts_event, ts_recv, price, size
TICK_ID = struct.Struct("<40x Q")  # word 5: id (form 0)
TICK_ASK = struct.Struct("<40x 2d")  # words 5, 6: ask, ask_size (forms 1, 2)
TICK_ID2 = struct.Struct("<56x Q")  # word 7: id (form 2)
EVENT = struct.Struct("<8x q QQQ")  # words 1..4: ts, a, b, c
assert BAR.size == 14 * 8 and BAR_VWAP.size == 15 * 8


class RingError(Exception):
    pass


# ---- line words ----

REC_BITS = 59  # a line word keeps the record number + 1 in its top 59 bits


def line_word(n, i, lines):
    """The line word of line i of record n (of `lines` lines), once complete."""
    return ((n + 1) << 5) | (i << 3) | ((lines - 1) << 1)


def writing_word(n):
    """What every line of record n holds while the writer writes it (odd)."""
    return ((n + 1) << 5) - 1


def rec_diff(a, b):
    """a - b as a wrapping signed 59-bit number (record numbers in line words)."""
    d = (a - b) & ((1 << REC_BITS) - 1)
    return d - (1 << REC_BITS) if d >> (REC_BITS - 1) else d


def split_word(w):
    """(record number + 1, line index, lines, being written) of a line word."""
    return w >> 5, (w >> 3) & 3, ((w >> 1) & 3) + 1, w & 1


def _open_map(path, magic, what, record_size):
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
    if hs != HEADER_SIZE or rs != record_size:
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


# ---- decoding ----


def decode_bar(p, kind, aux, flags, symbol):
    """Bar words 0..13 (and 14 when aux = 1) of payload bytes p -> dict, or
    None when its timeframe is out of range."""
    (tf_ms, revision, start, o, h, l, c, vol, vwap_num, buy, sell, count, first_ts,
     last_ts) = BAR.unpack_from(p)
    if not 1 <= tf_ms <= MAX_TIMEFRAME_MS:
        return None
    if aux == 1:
        vwap = BAR_VWAP.unpack_from(p)[0]
    else:  # derived, exactly as the writer checked it
        vwap = vwap_num / vol if vol > 0.0 else c
    return dict(type="bar", kind=BAR_KINDS[kind], symbol=symbol, timeframe_ms=tf_ms,
                start=start, end=min(start + tf_ms * 1_000_000, I64_MAX), open=o, high=h, low=l,
                close=c, volume=vol, vwap=vwap, vwap_num=vwap_num, buy_volume=buy,
                sell_volume=sell, count=count, first_ts=first_ts, last_ts=last_ts,
                revision=revision, flags=flags)


def decode(p, lines):
    """A record's payload (7 * lines words, as bytes) -> dict. A record whose
    kind is unknown, whose line count does not match its head, or with a
    field out of its domain decodes to type "unknown" (the Rust reader counts
    it as undecodable and skips it)."""
    kind, aux, flags, symbol = HEAD.unpack_from(p)
    if kind in BAR_KINDS:
        if (aux, lines) in ((0, 2), (1, 3)):
            bar = decode_bar(p, kind, aux, flags, symbol)
            if bar is not None:
                return bar
    elif kind == KIND_TICK:
        tick_kind, side, form = aux & 3, (aux >> 2) & 3, aux >> 4
        side = side if side in (1, 2) else 0  # 3: unknown, as 0
        if tick_kind in (1, 2) and (form, lines) in ((0, 1), (1, 1), (2, 2)):
            ts_event, ts_recv, price, size = TICK.unpack_from(p)
            if form == 0:
                ask, ask_size, tid = 0.0, 0.0, TICK_ID.unpack_from(p)[0]
            else:
                ask, ask_size = TICK_ASK.unpack_from(p)
                tid = TICK_ID2.unpack_from(p)[0] if form == 2 else 0
            return dict(type="tick", tick_kind="trade" if tick_kind == 1 else "quote",
                        side=side, symbol=symbol, flags=flags, ts_event=ts_event,
                        ts_recv=ts_recv, price=price, size=size, ask=ask, ask_size=ask_size,
                        id=tid)
    elif kind in EVENT_KINDS and lines == 1:
        ts, a, b, c = EVENT.unpack_from(p)
        sym = None if symbol == NO_SYMBOL else symbol
        if kind == KIND_FEED_GAP:
            return dict(type="feed_gap", ts=ts, feed=a & 0xFFFFFFFF, symbol=sym, expected=b,
                        received=c)
        if kind == KIND_HEARTBEAT:
            return dict(type="heartbeat", ts=ts)
        if kind == KIND_SHUTDOWN:
            return dict(type="shutdown", ts=ts)
        return dict(type="symbol_added", ts=ts, symbol=sym)
    return dict(type="unknown", kind=kind, lines=lines)


# ---- the ring ----


class Ring:
    RESYNC_TRIES = 16

    def __init__(self, path, start="newest", dead_after_s=3.0, require_live=True):
        self.mm, size = _open_map(path, MAGIC_RING, "ring", LINE_SIZE)
        self.capacity = U64.unpack_from(self.mm, H_CAPACITY)[0]
        cap = self.capacity
        if (not MIN_CAPACITY <= cap <= MAX_CAPACITY or cap & (cap - 1)
                or HEADER_SIZE + cap * LINE_SIZE != size):
            raise RingError(f"{path}: corrupt header (capacity {cap}, size {size})")
        self.mask = cap - 1
        self.dead_after_s = dead_after_s
        if require_live:
            st = writer_status(self.mm, dead_after_s)
            if st != "live":
                raise RingError(f"{path}: writer {st}")
        # next: the record number wanted; pos: the line where it starts;
        # pending: records lost before the start (a SEQ already overwritten),
        # reported as a lap by the first poll
        self.pending = 0
        if start == "newest":
            self.next, self.pos = self._newest()
        elif start == "oldest":
            self.next, self.pos = self._oldest()
        else:
            self.next, self.pos, self.pending = self._at(int(start), path)
        self.laps = self.lost = 0

    def cursor(self):
        """Lines published so far (the position of the next line)."""
        return U64.unpack_from(self.mm, H_CURSOR)[0]

    def records(self):
        """Records published so far (the next record's number); informational:
        the reader positions itself from `cursor` and the line words."""
        return U64.unpack_from(self.mm, H_RECORDS)[0]

    def word(self, p):
        """The line word of line position p."""
        return U64.unpack_from(self.mm, HEADER_SIZE + (p & self.mask) * LINE_SIZE)[0]

    # -- opening --
    # The writer may overwrite the lines looked at while we look (a lap);
    # each rule then just tries again, a bounded number of times.
    SETTLE_TRIES = 10000

    def _newest(self):
        """(records published, cursor): where the next record will start.
        The number comes from the last published line, the last line of the
        newest record; the cursor is re-read to be sure the writer did not
        move meanwhile."""
        for _ in range(self.SETTLE_TRIES):
            c = self.cursor()
            if c == 0:
                return 0, 0
            w = self.word(c - 1)
            r, i, lines, writing = split_word(w)
            if w and not writing and i == lines - 1 and self.cursor() == c:
                return r, c  # r = (number of that record) + 1
        raise RingError("the writer kept moving while opening at the newest record")

    def _oldest(self):
        """The first record whose first line is among the last `capacity`
        lines: (its number, its line)."""
        for _ in range(self.SETTLE_TRIES):
            c = self.cursor()
            if c == 0:
                return 0, 0
            q = max(0, c - self.capacity)
            w = self.word(q)
            r, i, lines, writing = split_word(w)
            if not w or writing or i >= lines or i > q:
                continue  # the writer is overwriting line q: look again
            if i == 0:
                return r - 1, q
            # q is inside a record whose first line is gone: the next one
            return r, q - i + lines
        return self._newest()

    def _at(self, n, path):
        """Record n: (number, line, records lost before it). A binary search
        of the line words between the oldest and the newest record; n older
        than the oldest: start at the oldest, n - oldest records lost."""
        newest, c = self._newest()
        if n == newest:
            return n, c, 0
        if n < 0 or rec_diff(n, newest) > 0:
            raise RingError(f"{path}: record {n} is not published yet ({newest} are)")
        for _ in range(self.SETTLE_TRIES):
            first, lo = self._oldest()
            if rec_diff(n, first) < 0:
                return first, lo, first - n
            hi, settled = c, True
            while lo < hi:  # the first line whose record is n or newer
                mid = (lo + hi) // 2
                w = self.word(mid)
                if not w or w & 1:
                    settled = False  # being overwritten: look again
                    break
                if rec_diff(w >> 5, n + 1) < 0:
                    lo = mid + 1
                else:
                    hi = mid
            w = self.word(lo)
            if settled and w == line_word(n, 0, ((w >> 1) & 3) + 1):
                return n, lo, 0
        return newest, c, newest - n  # the writer lapped every try

    # -- reading --

    def poll(self):
        """(seq, record dict) | ('lapped', lost) | None. Never blocks."""
        if self.pending:
            lost, self.pending = self.pending, 0
            self.laps += 1
            self.lost += lost
            return "lapped", lost
        n, p = self.next, self.pos
        w0 = self.word(p)
        r, i, lines, writing = split_word(w0)
        if r == n + 1 and not writing and i == 0 and lines <= MAX_LINES:
            # (acquire fence here in languages that have one)
            if all(self.word(p + j) == line_word(n, j, lines) for j in range(1, lines)):
                offs = [HEADER_SIZE + ((p + j) & self.mask) * LINE_SIZE for j in range(lines)]
                payload = b"".join(self.mm[o + 8: o + LINE_SIZE] for o in offs)
                # (acquire fence here) re-check every line word: a change
                # means the writer overwrote the record while we copied it
                if all(U64.unpack_from(self.mm, o)[0] == line_word(n, j, lines)
                       for j, o in enumerate(offs)):
                    self.next, self.pos = n + 1, p + lines
                    return n, decode(payload, lines)
        elif rec_diff(r, n + 1) < 0:
            # an older record, never written (0), or record n being written
            return None
        return self._resync(n)

    def _resync(self, n):
        """Record n was overwritten: resume at the newest record."""
        for _ in range(self.RESYNC_TRIES):
            c = self.cursor()
            if c == 0:
                return None
            w = self.word(c - 1)
            r, i, lines, writing = split_word(w)
            if w and not writing and i < lines and i < c:
                m = r - 1
                if rec_diff(m, n) > 0:
                    self.next, self.pos = m, c - 1 - i
                    lost = m - n
                    self.laps += 1
                    self.lost += lost
                    return "lapped", lost
            # the writer is writing over line c-1 (it lapped us again): retry
        return None  # report nothing now; the next poll tries again

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


# ---- the snapshot ----


class Snapshot:
    def __init__(self, path):
        self.mm, size = _open_map(path, MAGIC_SNAPSHOT, "snapshot", SLOT_SIZE)
        self.max_symbols = U64.unpack_from(self.mm, H_CAPACITY)[0]
        ntf = struct.unpack_from("<I", self.mm, H_TIMEFRAME_COUNT)[0]
        self.timeframes_ms = list(struct.unpack_from(f"<{ntf}I", self.mm, H_TIMEFRAMES))
        self.dir_offset = U64.unpack_from(self.mm, H_DIR_OFFSET)[0]
        expect = self.dir_offset + self.max_symbols * DIR_ENTRY_SIZE
        if (not 1 <= ntf <= 64 or self.dir_offset != HEADER_SIZE + self.max_symbols * ntf * SLOT_SIZE
                or expect != size):
            raise RingError(f"{path}: corrupt snapshot header")

    def _load(self, off, length):
        """(seq, bytes after the seq word) of a consistent read of a slot."""
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
        """The latest bar of (symbol, timeframe), or None. A bar slot holds the
        ring's bar words 0..14 with aux = 1 (vwap explicit in word 14)."""
        t = self.timeframes_ms.index(timeframe_ms)
        off = HEADER_SIZE + (symbol_id * len(self.timeframes_ms) + t) * SLOT_SIZE
        seq, d = self._load(off, SLOT_SIZE)
        if not seq:
            return None
        kind, aux, flags, symbol = HEAD.unpack_from(d)
        if kind not in BAR_KINDS or aux != 1:
            raise RingError(f"snapshot slot ({symbol_id}, {timeframe_ms}): kind {kind}, aux {aux}")
        bar = decode_bar(d, kind, aux, flags, symbol)
        if bar is None:
            raise RingError(f"snapshot slot ({symbol_id}, {timeframe_ms}): bad timeframe")
        return bar


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
        if a.check and rec["type"] == "unknown":
            errors.append(f"record {seq}: undecodable ({rec})")
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
