#!/usr/bin/env python3
"""Writes the hand-made CSV inputs of scripts/format-conformance into a directory.

Deterministic (fixed seeds). Each file targets encodings and edge cases of Format.md; the
conformance script checks afterwards, from what the reader saw, that they were all hit.
"""

import csv
import math
import os
import random
import struct
import sys
import time

I64_MAX = (1 << 63) - 1
I64_MIN = -(1 << 63)
NS = 1_000_000_000


def writer(path):
    f = open(path, "w", encoding="utf-8", newline="")
    return f, csv.writer(f, lineterminator="\n")


def ns_times(rng, start, n):
    """Nanosecond times exercising every ts-dod bucket: regular runs (D = 0), equal times,
    small, medium and large changes of the delta, and gaps of hours (64-bit bucket)."""
    t = start
    delta = 1_000_003
    out = []
    for i in range(n):
        out.append(t)
        r = rng.random()
        if r < 0.45:
            pass                                   # D = 0
        elif r < 0.55:
            delta = 0 if delta else 1_000_003      # bursts of equal times
        elif r < 0.70:
            delta = max(0, delta + rng.randint(-60, 60))
        elif r < 0.80:
            delta = max(0, delta + rng.choice((-1, 1)) * rng.randint(65, 250))
        elif r < 0.90:
            delta = max(0, delta + rng.choice((-1, 1)) * rng.randint(300, 2000))
        elif r < 0.985:
            delta = max(0, delta + rng.choice((-1, 1)) * rng.randint(3000, 2_000_000_000))
        else:
            t += rng.randint(1, 3) * 3600 * NS + 17   # a gap: the 64-bit bucket
        t += delta
    return out


def quote(dirpath):
    """Measurement "_quote é" (escaped), several symbols incl. BTC/USD and names needing
    escaping, nulls (bitmaps and all-null blocks), bool and string fields, NaN/Inf/-0.0 in a
    decimal float column, three days."""
    rng = random.Random(11)
    f, w = writer(os.path.join(dirpath, "quote.csv"))
    w.writerow(["time", "symbol", "bid", "ask", "size", "venue", "hidden", "odd", "memo"])
    symbols = ["BTC/USD", "ÉTH€ x%", ".dot", "_u"]
    start = 1709942400 * NS  # 2024-03-09T00:00:00Z
    for si, sym in enumerate(symbols):
        times = ns_times(rng, start + 20 * 3600 * NS + si * 7919, 3000)
        if si == 0:
            btc_times = times
        bid = 60000.0 + si * 1000
        for i, t in enumerate(times):
            bid = round(bid + rng.choice((-0.25, 0, 0, 0.25, 0.5)), 2)
            ask = round(bid + rng.choice((0.25, 0.5, 0.75)), 2)
            size = rng.choice(("", str(rng.randint(1, 50)), str(rng.randint(1, 5000))))
            if 600 <= i < 900:
                size = ""                               # all-null blocks
            venue = rng.choice(("CME", "ICE", "", "EUREX"))
            if 1000 <= i < 1200:
                venue = ""
            hidden = rng.choice(("true", "false", "false", ""))
            r = rng.random()
            if 1500 <= i < 1600:
                odd = "NaN"                             # blocks where every value is NaN
            elif r < 0.05:
                odd = rng.choice(("NaN", "Inf", "-Inf", "-0.0", "0.0", ""))
            else:
                odd = "%.3f" % (rng.randint(-100000, 100000) / 1000)
            memo = rng.choice(("", "plain", "a,b", 'say "hi"', "é€ ü", " lead", "x" * 40,
                               "n%d" % rng.randint(0, 300), "crlf\r\ninside", '"\u0301 accent'))
            w.writerow([str(t), sym, "%r" % bid, "%r" % ask, size, venue, hidden, odd, memo])
    f.close()

    # Late data: a second segment in existing series-days, overlapping in time, some rows at
    # exactly the times of earlier rows, and a new field (older segments lack it).
    rng = random.Random(12)
    f, w = writer(os.path.join(dirpath, "quote-late.csv"))
    w.writerow(["time", "symbol", "bid", "ask", "size", "venue", "hidden", "odd", "memo", "late"])
    picks = sorted(rng.sample(btc_times, 200)) + [btc_times[0] + k * 997 for k in range(100)]
    for t in picks:
        w.writerow([str(t), "BTC/USD", "1.25", "1.5", "9", "LATE", "true", "2.5", "late row",
                    rng.choice(("yes", "no", ""))])
    f.close()


def gorilla_values(rng, n):
    """Non-decimal floats that Gorilla compresses: repeats, 1-ulp steps (L capped at 31),
    and sign flips with a low bit (len 64)."""
    v = 1.0 / 3.0
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.55:
            pass
        elif r < 0.85:
            v = math.nextafter(v, math.inf) if rng.random() < 0.5 else math.nextafter(v, 0.0)
        elif r < 0.97:
            v = v * (1 + 2 ** -40 * rng.randint(1, 7))
        else:
            v = -math.nextafter(v, math.inf)
        out.append(v)
    return out


def plain_values(rng, n):
    """Random doubles: random sign, exponent and mantissa, so Gorilla needs > 64 bits per
    value and f64-plain wins."""
    out = []
    for _ in range(n):
        while True:
            bits = rng.getrandbits(64)
            x = struct.unpack("<d", struct.pack("<Q", bits))[0]
            if math.isfinite(x) and 1e-300 < abs(x) < 1e300:
                break
        out.append(x)
    return out


def ints(dirpath):
    """Measurement "ints": integer encodings and patches, extremes, more than 8 numeric
    fields (no product sums), Gorilla and plain floats, decimals with many digits."""
    rng = random.Random(21)
    n = 6000
    f, w = writer(os.path.join(dirpath, "ints.csv"))
    cols = ["small", "full", "counter", "const", "neg", "mult", "flag", "gor", "plain",
            "dec6", "big"]
    w.writerow(["time", "sym"] + cols)
    gor = gorilla_values(rng, n)
    plain = plain_values(rng, n)
    counter = 10 ** 12
    dec = 1.0
    t0 = 1704153600  # 2024-01-02T00:00:00Z, seconds; rows cross into 2024-01-03
    for i in range(n):
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + i * 23)) + ".%03dZ" % rng.randint(0, 999)
        small = rng.randint(0, 100)
        if rng.random() < 0.02:
            small = rng.choice((1, -1)) * rng.getrandbits(62)   # forces patches
        full = rng.getrandbits(64) - (1 << 63)
        if i % 997 == 0:
            full = I64_MIN
        elif i % 991 == 0:
            full = I64_MAX
        counter += rng.randint(0, 50)
        dec = round(dec + rng.randint(1, 999) / 1e6, 6)
        # Floats printed at the edges of README's notations: 2^53, 2^53 + 2, 10^15, 10^-4.
        big = rng.choice(("1e17", "12345678901234567890", "%.6f" % dec, "-3.5", "9007199254740992",
                          "9007199254740994", "1e15", "0.0001", "-0.00009999"))
        flag = "true" if rng.random() < 0.1 else "false"
        w.writerow([ts, "I", str(small), str(full), str(counter), "7",
                    str(-rng.randint(1, 1 << 40)), str(1000 * rng.randint(-50, 50)), flag,
                    repr(gor[i]), repr(plain[i]), "%.6f" % dec, big])
    f.close()


def old(dirpath):
    """Measurement "old": dates before 1970 and near the ends of the i64 range, one numeric
    field (no product sums), one constant string (str-dict width 0)."""
    f, w = writer(os.path.join(dirpath, "old.csv"))
    w.writerow(["time", "symbol", "v", "s"])
    rows = [I64_MIN + 1000, I64_MIN + 1001, -2208988800 * NS, -2208988800 * NS + 5,
            -86400 * NS - 1, -86400 * NS, -1 * NS, -1, 0, 1, 86400 * NS - 1,
            I64_MAX - 1000, I64_MAX]
    for k, t in enumerate(sorted(rows)):
        w.writerow([str(t), "OLD", "%d.5" % (k - 6), "same"])
    for k in range(200):
        w.writerow([str(-86400 * NS + k * 431 * NS + k * k), "OLD", "%r" % (k / 8), "same"])
    f.close()


def single(dirpath):
    """Measurement "one": one row per block (ts-dod with no code bits)."""
    f, w = writer(os.path.join(dirpath, "one.csv"))
    w.writerow(["time", "symbol", "x", "y"])
    for k in range(25):
        w.writerow([str(1704067200 * 1000 + k * 1500), "ONE", str(k * 3), "%d.25" % k])
    f.close()


def chain(dirpath):
    """Measurement "opt": 150 contracts of 1-6 trades each over two days, with equal times
    and a null, and one dense contract: a packed measurement (opt.csv, then opt-late.csv adds
    a second pack). The small series are slices of group images, the dense one an image."""
    rng = random.Random(11)
    for name, seed_rows in (("opt.csv", 0), ("opt-late.csv", 1)):
        f, w = writer(os.path.join(dirpath, name))
        w.writerow(["time", "symbol", "price", "size"])
        rows = []
        for c in range(150 if seed_rows == 0 else 40):
            symbol = "SPX 240315%s0%d" % ("CP"[c % 2], 4000 + 5 * c)
            t = 1710252000000 + rng.randrange(0, 2 * 86400000)
            for k in range(1 + rng.randrange(6)):
                price = "" if (c, k) == (7, 1) else "%.2f" % (rng.randrange(5, 30000) / 100)
                rows.append((t + (0 if k == 1 else k * 997), symbol, price, str(1 + rng.randrange(20))))
        if seed_rows == 0:
            # One dense contract: more rows in a day than a group image takes, an image of its own.
            for k in range(1500):
                rows.append((1710252000000 + k * 5000, "SPX 240315F", "%.2f" % (5100 + rng.randrange(-50, 50) / 4), "1"))
        rows.sort(key=lambda r: r[0])
        for r in rows:
            w.writerow([str(r[0]), r[1], r[2], r[3]])
        f.close()


def main():
    out = sys.argv[1]
    quote(out)
    ints(out)
    old(out)
    single(out)
    chain(out)


if __name__ == "__main__":
    main()
