#!/usr/bin/env python3
"""An independent reader of Strata data directories, written from Format.md alone.

Python 3 standard library only. It is the executable half of Format.md's acceptance test:
a reader in another language, built from the document, must decode every segment Strata
writes. Every check is one the document states; see the section names in the comments.

Usage:
  strata_reader.py selftest
      CRC32C check values and the golden vectors of Format.md Appendix B.
  strata_reader.py segment FILE...
      Read whole segment files (every block verified and decoded, statistics and product
      sums recomputed), print their rows as CSV. On a format error print
      "error: <code>: <file>: <detail>" to stderr and exit 2.
  strata_reader.py query DATA_DIR MEASUREMENT SYMBOL
      Print one series as CSV, header time,symbol,<fields in _schema order>, times in ns.
  strata_reader.py dump DATA_DIR OUT_DIR
      Walk the whole data directory, verify everything, write OUT_DIR/series.tsv
      (index, measurement, symbol per line, tab-separated) and OUT_DIR/<index>.py.csv
      per series; print a JSON summary (counts, encodings seen) to stdout.
  strata_reader.py compare OUT_DIR
      Compare every OUT_DIR/<index>.py.csv with OUT_DIR/<index>.strata.csv cell by cell, as
      text: floats are spelt as README's "Output" paragraph of `strata query` says (a NaN
      is "NaN" whatever its payload). Prints the first difference and exits 1.
  strata_reader.py mutations SEGMENT
      Damage copies of SEGMENT in known ways (bit flips, bad flags and version, cuts,
      stray bytes) and check each is rejected with the error code Format.md gives.

Exit status: 0 ok, 1 difference (compare), 2 format error, 3 usage.
"""

import collections
import csv
import io
import json
import math
import os
import re
import struct
import sys

M64 = (1 << 64) - 1
I64_MIN = -(1 << 63)
CANONICAL_NAN = 0x7FF8000000000000
NS_PER_DAY = 86_400_000_000_000

# Coverage counters: which encodings, presence forms and edge cases were seen.
SEEN = collections.Counter()
# The day offset of each store read, from the first segment footer (all must agree).
STORE_OFFSET = {}


# ---------------------------------------------------------------------------------------
# Errors (Format.md "Reading a segment": error codes)

class FormatError(Exception):
    code = "error"

    def __init__(self, detail):
        super().__init__(detail)
        self.detail = detail

    def __str__(self):
        return "%s: %s" % (self.code, self.detail)


class Truncated(FormatError):
    code = "truncated"


class ChecksumMismatch(FormatError):
    code = "checksumMismatch"


class BadMagic(FormatError):
    code = "badMagic"


class Unsupported(FormatError):
    code = "unsupported"


class Malformed(FormatError):
    code = "malformed"


class StatsMismatch(FormatError):
    """Not a Format.md error code: a stored statistic differs from the recomputed one."""
    code = "statsMismatch"


class LayoutError(FormatError):
    """Not a Format.md error code: the data directory disagrees with a footer or _schema."""
    code = "layout"


# ---------------------------------------------------------------------------------------
# Conventions

def _crc_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data):
    """CRC-32C (Castagnoli), reflected poly 0x82F63B78, init and final XOR 0xFFFFFFFF."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32c_bitwise(data):
    """The bit-at-a-time definition from Format.md, used by selftest to check the table."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def to_i64(u):
    u &= M64
    return u - (1 << 64) if u >> 63 else u


def unzigzag(u):
    return to_i64((u >> 1) ^ -(u & 1))


def f64_from_bits(bits):
    return struct.unpack("<d", struct.pack("<Q", bits & M64))[0]


def bits_of_f64(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def is_nan_bits(bits):
    return (bits & 0x7FF0000000000000) == 0x7FF0000000000000 and (bits & 0x000FFFFFFFFFFFFF) != 0


class Reader:
    """Bytes b[pos:end]; running past end is *truncated*."""

    def __init__(self, b, pos=0, end=None, what="input"):
        self.b = b
        self.p = pos
        self.end = len(b) if end is None else end
        self.what = what

    def left(self):
        return self.end - self.p

    def need(self, n, what):
        if n > self.end - self.p:
            raise Truncated("%s: %s needs %d bytes, %d left" % (self.what, what, n, self.end - self.p))

    def u8(self, what="byte"):
        self.need(1, what)
        v = self.b[self.p]
        self.p += 1
        return v

    def le(self, n, what="integer"):
        self.need(n, what)
        v = int.from_bytes(self.b[self.p:self.p + n], "little")
        self.p += n
        return v

    def i64(self, what="i64"):
        return to_i64(self.le(8, what))

    def take(self, n, what="bytes"):
        self.need(n, what)
        v = bytes(self.b[self.p:self.p + n])
        self.p += n
        return v

    def varint(self, what="varint"):
        # Unsigned LEB128, at most 10 bytes, 10th byte 0 or 1; non-shortest forms accepted.
        result = 0
        for i in range(10):
            c = self.u8(what)
            if i == 9 and c > 1:
                raise Malformed("%s: %s: 10th varint byte is 0x%02x" % (self.what, what, c))
            result |= (c & 0x7F) << (7 * i)
            if not c & 0x80:
                return result
        raise AssertionError("unreachable")

    def zigzag(self, what="zigzag varint"):
        return unzigzag(self.varint(what))

    def count(self, limit, what):
        v = self.varint(what)
        if v > limit:
            raise Malformed("%s: %s %d exceeds limit %d" % (self.what, what, v, limit))
        return v

    def string(self, limit, what="string"):
        n = self.varint(what + " length")
        if n > limit:
            raise Malformed("%s: %s length %d exceeds %d" % (self.what, what, n, limit))
        raw = self.take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Malformed("%s: %s is not valid UTF-8 (%s)" % (self.what, what, e))


class BitReader:
    """MSB-first bit stream over a bytes object."""

    def __init__(self, b, what):
        self.b = b
        self.nbits = 8 * len(b)
        self.i = 0
        self.what = what

    def bit(self):
        i = self.i
        if i >= self.nbits:
            raise Truncated("%s: bit stream ended" % self.what)
        self.i = i + 1
        return (self.b[i >> 3] >> (7 - (i & 7))) & 1

    def read(self, w):
        if w == 0:
            return 0
        i = self.i
        if i + w > self.nbits:
            raise Truncated("%s: bit stream ended (need %d bits)" % (self.what, w))
        first = i >> 3
        last = (i + w - 1) >> 3
        chunk = int.from_bytes(self.b[first:last + 1], "big")
        total = 8 * (last + 1 - first)
        shift = total - (i & 7) - w
        self.i = i + w
        return (chunk >> shift) & ((1 << w) - 1)

    def bytes_used(self):
        return (self.i + 7) // 8


def unpack_le(packed, n, w):
    """Little-endian bit packing: value i = (B >> (i*w)) & (2^w - 1)."""
    if w == 0:
        return [0] * n
    big = int.from_bytes(packed, "little")
    mask = (1 << w) - 1
    if n * w <= 4096:
        return [(big >> (i * w)) & mask for i in range(n)]
    # Avoid quadratic big-int shifts on long arrays: work in slices.
    out = []
    per = max(1, 4096 // w)
    for s in range(0, n, per):
        cnt = min(per, n - s)
        start_bit = s * w
        byte0 = start_bit >> 3
        byte1 = (start_bit + cnt * w + 7) >> 3
        part = int.from_bytes(packed[byte0:byte1], "little") >> (start_bit & 7)
        out.extend((part >> (j * w)) & mask for j in range(cnt))
    return out


def pow10_exact(e):
    p = 1.0
    for _ in range(e):
        p *= 10.0
    return p


# ---------------------------------------------------------------------------------------
# Data directory: names, days

PLAIN = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.+=@,")
HEXUC = set("0123456789ABCDEF")


def escape_name(name):
    out = []
    for i, b in enumerate(name.encode("utf-8")):
        if b in PLAIN and not (i == 0 and b in b"._"):
            out.append(chr(b))
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def valid_name(name):
    raw = name.encode("utf-8")
    return 1 <= len(raw) <= 128 and all(0x20 <= b != 0x7F for b in raw)


def decode_name(entry):
    """The name an escaped directory entry stands for, or None if it is not a Strata name."""
    if not 1 <= len(entry) <= 384 or entry[0] in "._":
        return None
    raw = bytearray()
    i = 0
    while i < len(entry):
        c = entry[i]
        if c == "%":
            h = entry[i + 1:i + 3]
            if len(h) != 2 or not set(h) <= HEXUC:
                return None
            raw.append(int(h, 16))
            i += 3
        elif ord(c) < 128 and ord(c) in PLAIN:
            raw.append(ord(c))
            i += 1
        else:
            return None
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if escape_name(name) != entry or not valid_name(name):
        return None
    return name


def days_from_civil(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return y + (m <= 2), m, d


SEG_RE = re.compile(r"^[0-9a-f]{16}\.seg$")
PERIODS = ("day", "week", "month", "year")


def partition_first_day(period, day):
    """The first day of the partition of `period` holding day number `day` (Format.md
    "Partitions"): weeks start on Monday (1969-12-29 is day -3), months and years on the 1st."""
    if period == "day":
        return day
    if period == "week":
        return (day + 3) // 7 * 7 - 3
    y, m, _ = civil_from_days(day)
    return days_from_civil(y, m if period == "month" else 1, 1)


def partition_next_day(period, first):
    if period == "day":
        return first + 1
    if period == "week":
        return first + 7
    y, m, _ = civil_from_days(first)
    if period == "month":
        return days_from_civil(y + (m == 12), 1 if m == 12 else m + 1, 1)
    return days_from_civil(y + 1, 1, 1)


def partition_name(period, first):
    y, m, d = civil_from_days(first)
    if period == "day":
        return "%04d-%02d-%02d" % (y, m, d)
    if period == "month":
        return "%04d-%02d" % (y, m)
    if period == "year":
        return "%04d" % y
    # ISO 8601: the week's year is its Thursday's year.
    ty, _, _ = civil_from_days(first + 3)
    return "%04d-W%02d" % (ty, (first + 3 - days_from_civil(ty, 1, 1)) // 7 + 1)


PARTITION_RES = (("day", re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")),
                 ("week", re.compile(r"^([0-9]{4})-W([0-9]{2})$")),
                 ("month", re.compile(r"^([0-9]{4})-([0-9]{2})$")),
                 ("year", re.compile(r"^([0-9]{4})$")))


def parse_partition_dir(entry):
    """(period, first day, first day after) of a partition directory name, or None."""
    for period, pattern in PARTITION_RES:
        m = pattern.match(entry)
        if not m:
            continue
        y = int(m.group(1))
        if period == "day":
            mo, d = int(m.group(2)), int(m.group(3))
            if not 1 <= mo <= 12 or d < 1:
                return None
            leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
            if d > [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1]:
                return None
            first = days_from_civil(y, mo, d)
        elif period == "week":
            w = int(m.group(2))
            if w < 1:
                return None
            first = partition_first_day("week", days_from_civil(y, 1, 4)) + (w - 1) * 7
        elif period == "month":
            mo = int(m.group(2))
            if not 1 <= mo <= 12:
                return None
            first = days_from_civil(y, mo, 1)
        else:
            first = days_from_civil(y, 1, 1)
        # Canonical names only: W53 of a 52-week year names another week.
        if partition_name(period, first) != entry:
            return None
        return period, first, partition_next_day(period, first)
    return None


def parse_day_dir(entry):
    """The day number of a day directory (a partition of one day), or None."""
    p = parse_partition_dir(entry)
    return p[1] if p and p[0] == "day" else None


def day_name(day):
    return partition_name("day", day)


def read_one_line_file(path):
    """A checksummed text file of one lower-case word (`_partition`, `_layout`)."""
    with open(path, "rb") as f:
        data = f.read()
    m = re.fullmatch(rb"([a-z]+)\ncrc32c ([0-9a-f]{8})\n", data)
    if not m:
        raise LayoutError("%s: not one line and a crc32c line" % path)
    body = data[:data.rfind(b"crc32c ")]
    if int(m.group(2), 16) != crc32c(body):
        raise ChecksumMismatch("%s: crc32c %s, computed %08x" % (path, m.group(2).decode(), crc32c(body)))
    return m.group(1).decode()


def read_partition_file(mpath):
    """The measurement's period from `_partition`, "day" when absent."""
    path = os.path.join(mpath, "_partition")
    if not os.path.exists(path):
        return "day"
    period = read_one_line_file(path)
    if period not in PERIODS:
        raise LayoutError("%s: period %r" % (path, period))
    return period


def read_layout_file(mpath):
    """The measurement's layout from `_layout` (Format.md "Packed measurements"): "packed", or
    "series" when absent. Anything else is refused: reading on would show no symbols."""
    path = os.path.join(mpath, "_layout")
    if not os.path.exists(path):
        return "series"
    layout = read_one_line_file(path)
    if layout != "packed":
        raise LayoutError("%s: layout %r" % (path, layout))
    return layout


# ---------------------------------------------------------------------------------------
# Schema file (Format.md "Schema file"): first line "strata-schema 1", one
# "<escaped name>\t<type>\n" line per field (types float, int, bool, string), a final
# "crc32c" line with 8 lower-case hex digits (upper case is refused, as the grammar allows
# only lower case) over every byte before it, checked before the text is decoded.

SCHEMA_TYPES = {"float": 1, "int": 2, "bool": 3, "string": 4}
TYPE_NAMES = {1: "Float64", 2: "Int64", 3: "Bool", 4: "String"}


def parse_schema(data, path):
    tail = data.rfind(b"crc32c ")
    if tail < 0 or (tail > 0 and data[tail - 1:tail] != b"\n"):
        raise LayoutError("%s: no crc32c line" % path)
    m = re.fullmatch(rb"crc32c ([0-9a-f]{8})\n", data[tail:])
    if not m:
        raise LayoutError("%s: bad crc32c line %r" % (path, data[tail:]))
    if int(m.group(1), 16) != crc32c(data[:tail]):
        raise ChecksumMismatch("%s: schema crc32c %s, computed %08x"
                               % (path, m.group(1).decode(), crc32c(data[:tail])))
    try:
        text = data[:tail].decode("utf-8")
    except UnicodeDecodeError:
        raise LayoutError("%s: not UTF-8" % path)
    lines = text.split("\n")
    if lines[0] != "strata-schema 1":
        raise Unsupported("%s: first line %r" % (path, lines[0]))
    if lines[-1] != "":
        raise LayoutError("%s: last field line not terminated" % path)
    fields = []
    for line in lines[1:-1]:
        parts = line.split("\t")
        if len(parts) != 2 or parts[1] not in SCHEMA_TYPES:
            raise LayoutError("%s: bad field line %r" % (path, line))
        name = decode_name(parts[0])
        if name is None:
            raise LayoutError("%s: bad escaped field name %r" % (path, parts[0]))
        if name in (f[0] for f in fields):
            raise LayoutError("%s: duplicate field %r" % (path, name))
        fields.append((name, SCHEMA_TYPES[parts[1]]))
    return fields


# ---------------------------------------------------------------------------------------
# Encodings

ENC_NAMES = {0x01: "ts-dod", 0x10: "f64-plain", 0x11: "f64-gorilla", 0x12: "f64-decimal",
             0x20: "int-for", 0x21: "int-delta-for", 0x30: "str-dict"}
FAMILY = {1: (0x10, 0x11, 0x12), 2: (0x20, 0x21), 3: (0x20, 0x21), 4: (0x30,)}
TS_WIDTHS = [7, 9, 12, 32, 64]


def decode_ts_dod(payload, m):
    r = Reader(payload, what="ts-dod")
    first = r.i64("first")
    unit = r.varint("unit")
    if not 1 <= unit <= (1 << 63) - 1:
        raise Malformed("ts-dod: unit %d" % unit)
    if unit > 1:
        SEEN["ts unit>1"] += 1
    bits = BitReader(payload[r.p:], "ts-dod codes")
    out = [first]
    t = first & M64
    delta = 0
    unit_m = unit
    bit = bits.bit
    for _ in range(m - 1):
        k = 0
        while k < 5 and bit():
            k += 1
        if k:
            w = TS_WIDTHS[k - 1]
            raw = bits.read(w)
            SEEN["ts-dod bucket %d" % w] += 1
            d = raw - (1 << w) if raw >> (w - 1) else raw
            delta = (delta + d) & M64
        else:
            SEEN["ts-dod bucket 0"] += 1
        t = (t + delta * unit_m) & M64
        out.append(t - (1 << 64) if t >> 63 else t)
    if bits.bytes_used() != len(payload) - r.p:
        raise Malformed("ts-dod: %d code bytes, payload has %d"
                        % (bits.bytes_used(), len(payload) - r.p))
    return out


def decode_f64_plain(payload, m):
    if len(payload) != 8 * m:
        raise Malformed("f64-plain: %d bytes for %d values" % (len(payload), m))
    return [int.from_bytes(payload[8 * i:8 * i + 8], "little") for i in range(m)]


def decode_f64_gorilla(payload, m):
    bits = BitReader(payload, "f64-gorilla")
    out = []
    if m:
        prev = bits.read(64)
        out.append(prev)
        lead = None
        trail = 0
        for _ in range(m - 1):
            if not bits.bit():
                SEEN["gorilla repeat"] += 1
                out.append(prev)
                continue
            if bits.bit():
                lead = bits.read(5)
                length = bits.read(6) or 64
                if lead + length > 64:
                    raise Malformed("f64-gorilla: L %d + len %d > 64" % (lead, length))
                trail = 64 - lead - length
                SEEN["gorilla new window"] += 1
                if length == 64:
                    SEEN["gorilla len 64"] += 1
                if lead == 31:
                    SEEN["gorilla L 31"] += 1
            else:
                if lead is None:
                    raise Malformed("f64-gorilla: window reuse before any window")
                SEEN["gorilla reuse"] += 1
            prev ^= bits.read(64 - lead - trail) << trail
            out.append(prev)
    if bits.bytes_used() != len(payload):
        raise Malformed("f64-gorilla: %d stream bytes, payload has %d" % (bits.bytes_used(), len(payload)))
    return out


def decode_int_for(r, m):
    base = r.zigzag("int-for base")
    divisor = r.varint("int-for divisor")
    if divisor == 0:
        raise Malformed("int-for: divisor 0")
    width = r.u8("int-for width")
    if width > 64:
        raise Malformed("int-for: width %d" % width)
    patches = r.count(m, "int-for patch count")
    if patches and width == 64:
        raise Malformed("int-for: patch with width 64")
    low = unpack_le(r.take((m * width + 7) // 8, "int-for packed bits"), m, width)
    SEEN["int-for width %d" % width] += 1
    if divisor > 1:
        SEEN["int-for divisor>1"] += 1
    idx = -1
    for k in range(patches):
        gap = r.varint("patch index gap")
        if k and gap == 0:
            raise Malformed("int-for: patch gap 0")
        idx = gap if k == 0 else idx + gap
        if idx >= m:
            raise Malformed("int-for: patch index %d >= %d" % (idx, m))
        high = r.varint("patch high bits")
        low[idx] |= high << width
        SEEN["int-for patch"] += 1
    b = base & M64
    return [to_i64(b + divisor * x) for x in low]


def decode_ints(enc, r, m, what):
    if enc == 0x20:
        return decode_int_for(r, m)
    if enc == 0x21:
        if m < 1:
            raise Malformed("int-delta-for: m = 0")
        first = r.zigzag("int-delta-for first")
        deltas = decode_int_for(r, m - 1)
        out = [first]
        v = first & M64
        for d in deltas:
            v = (v + d) & M64
            out.append(v - (1 << 64) if v >> 63 else v)
        return out
    raise Unsupported("%s: integer encoding 0x%02x" % (what, enc))


def decode_f64_decimal(payload, m):
    r = Reader(payload, what="f64-decimal")
    e = r.u8("exponent")
    if e > 18:
        raise Malformed("f64-decimal: exponent %d" % e)
    ienc = r.u8("integer encoding")
    if ienc not in (0x20, 0x21):
        raise Unsupported("f64-decimal: integer encoding 0x%02x" % ienc)
    SEEN["f64-decimal/%s" % ENC_NAMES[ienc]] += 1
    SEEN["f64-decimal e=%d" % e] += 1
    ints = decode_ints(ienc, r, m, "f64-decimal")
    p = pow10_exact(e)
    out = [bits_of_f64(float(n) / p) for n in ints]
    count = r.count(m, "exception count")
    idx = -1
    for k in range(count):
        gap = r.varint("exception index gap")
        if k and gap == 0:
            raise Malformed("f64-decimal: exception gap 0")
        idx = gap if k == 0 else idx + gap
        if idx >= m:
            raise Malformed("f64-decimal: exception index %d >= %d" % (idx, m))
        out[idx] = r.le(8, "exception bits")
        SEEN["f64-decimal exception"] += 1
    if r.left():
        raise Malformed("f64-decimal: %d unused payload bytes" % r.left())
    return out


def decode_str_dict(payload, m):
    r = Reader(payload, what="str-dict")
    count = r.count(max(m, 1), "entry count")
    if count == 0 and m > 0:
        raise Malformed("str-dict: no entries for %d values" % m)
    entries = [r.string(1 << 20, "dictionary entry") for _ in range(count)]
    width = r.u8("width")
    if width > 32:
        raise Malformed("str-dict: width %d" % width)
    SEEN["str-dict width %d" % width] += 1
    idx = unpack_le(r.take((m * width + 7) // 8, "packed indexes"), m, width)
    if r.left():
        raise Malformed("str-dict: %d unused payload bytes" % r.left())
    out = []
    for i in idx:
        if i >= count:
            raise Malformed("str-dict: index %d >= entry count %d" % (i, count))
        out.append(entries[i])
    return out


class UnsupportedColumn:
    """A field chunk whose encoding this reader does not know (Format.md: unsupported for
    that field only)."""

    def __init__(self, err):
        self.err = err


def decode_payload(ftype, enc, payload, m):
    if ftype == 1:
        if enc == 0x10:
            return decode_f64_plain(payload, m)
        if enc == 0x11:
            return decode_f64_gorilla(payload, m)
        return decode_f64_decimal(payload, m)
    if ftype in (2, 3):
        r = Reader(payload, what=ENC_NAMES[enc])
        vals = decode_ints(enc, r, m, ENC_NAMES[enc])
        if r.left():
            raise Malformed("%s: %d unused payload bytes" % (ENC_NAMES[enc], r.left()))
        if ftype == 3:
            return [v != 0 for v in vals]
        return vals
    return decode_str_dict(payload, m)


# ---------------------------------------------------------------------------------------
# Segment file

MAGIC = b"STRATSEG"
GROUP_MAGIC = b"STRATGRP"


class Segment:
    pass


def check_header(b, magic, versions, min_size, where):
    """The common 16-byte header (Format.md "Header"); returns the version."""
    if b[:8] != magic:
        raise BadMagic("%s: magic %r" % (where, bytes(b[:8])))
    if len(b) < min_size:
        raise Truncated("%s: %d bytes" % (where, len(b)))
    if crc32c(b[:12]) != int.from_bytes(b[12:16], "little"):
        raise ChecksumMismatch("%s: header" % where)
    version = int.from_bytes(b[8:10], "little")
    flags = int.from_bytes(b[10:12], "little")
    if version not in versions:
        raise Unsupported("%s: version %d" % (where, version))
    if flags != 0:
        raise Unsupported("%s: header flags 0x%04x" % (where, flags))
    return version


def read_footer_and_header(b, where, group=False):
    """A segment's (or, with group, a group image's) header, trailer and footer."""
    magic = GROUP_MAGIC if group else MAGIC
    size = len(b)
    if size < 8:
        raise Truncated("%s: %d bytes" % (where, size))
    check_header(b, magic, (1,), 40, where)
    if b[-8:] != magic:
        raise Truncated("%s: no trailing magic" % where)
    t = size - 24
    fo = int.from_bytes(b[t:t + 8], "little")
    fl = int.from_bytes(b[t + 8:t + 12], "little")
    if not 16 <= fo <= t or fl != t - fo:
        raise Malformed("%s: footer offset %d length %d, trailer at %d" % (where, fo, fl, t))
    if crc32c(b[fo:t]) != int.from_bytes(b[t + 12:t + 16], "little"):
        raise ChecksumMismatch("%s: footer" % where)

    r = Reader(b, fo, t, what=where + " footer")
    seg = Segment()
    seg.measurement = r.string(1024, "measurement")
    seg.symbol = r.string(1024, "symbol")
    if group and seg.symbol:
        raise Malformed("%s: a group image's footer names the symbol %r" % (where, seg.symbol))
    seg.group = group
    seg.day = r.zigzag("day")
    seg.offset_seconds = r.zigzag("day offset seconds")
    if not -86400 <= seg.offset_seconds <= 86400:
        raise Malformed("%s: day offset seconds %d" % (where, seg.offset_seconds))
    nfields = r.count(65535, "field count")
    fields = []
    names = set()
    for _ in range(nfields):
        name = r.string(1024, "field name")
        ftype = r.u8("field type")
        if name in names:
            raise Malformed("%s: duplicate field name %r" % (where, name))
        names.add(name)
        if ftype not in TYPE_NAMES:
            raise Unsupported("%s: field %r type %d" % (where, name, ftype))
        fields.append((name, ftype))
    seg.fields = fields
    numeric = [i for i, (_, ft) in enumerate(fields) if ft in (1, 2)]
    k = len(numeric)
    nprod = k * (k - 1) // 2 if 2 <= k <= 8 else 0
    seg.numeric = numeric
    nblocks = r.count(r.left() // 32, "block count")
    blocks = []
    expect_off = 16
    prev_max = None
    for bi in range(nblocks):
        e = {}
        e["offset"] = r.le(8, "block offset")
        e["length"] = r.le(4, "block length")
        e["rows"] = r.le(4, "block rows")
        e["min"] = r.i64("min time")
        e["max"] = r.i64("max time")
        if e["length"] < 5:
            raise Malformed("%s: block %d length %d" % (where, bi, e["length"]))
        if e["offset"] != expect_off:
            raise Malformed("%s: block %d at %d, expected %d (blocks lie back to back from 16)"
                            % (where, bi, e["offset"], expect_off))
        expect_off = e["offset"] + e["length"]
        if e["rows"] < 1:
            raise Malformed("%s: block %d has 0 rows" % (where, bi))
        if e["min"] > e["max"]:
            raise Malformed("%s: block %d min time > max time" % (where, bi))
        if not group and prev_max is not None and e["min"] < prev_max:
            raise Malformed("%s: block %d min time < previous block's max" % (where, bi))
        prev_max = e["max"]
        e["stats"] = [tuple(r.le(4 if j == 0 else 8, "field statistics") for j in range(6))
                      for _ in fields]
        pc = r.u8("product count")
        if pc != nprod:
            raise Malformed("%s: block %d product count %d, schema needs %d" % (where, bi, pc, nprod))
        e["products"] = [r.le(8, "product sum") for _ in range(pc)]
        blocks.append(e)
    if r.left():
        raise Malformed("%s: %d bytes after the last block entry" % (where, r.left()))
    if expect_off != fo:
        # With no blocks this requires the footer at 16 (Format.md only speaks of the last
        # block ending at the footer offset).
        raise Malformed("%s: blocks end at %d, footer at %d" % (where, expect_off, fo))
    seg.blocks = blocks
    seg.footer_offset = fo
    return seg


def decode_block(b, e, fields, where, group=False):
    off, length = e["offset"], e["length"]
    body = b[off:off + length - 4]
    if crc32c(body) != int.from_bytes(b[off + length - 4:off + length], "little"):
        raise ChecksumMismatch("%s: block at %d" % (where, off))
    r = Reader(body, what="%s block at %d" % (where, off))
    n = r.varint("row count")
    if not 1 <= n <= 1 << 30:
        raise Malformed("%s: row count %d" % (r.what, n))
    if n != e["rows"]:
        raise Malformed("%s: row count %d, footer says %d" % (r.what, n, e["rows"]))
    k = r.count(len(fields), "field chunk count")
    tenc = r.u8("time encoding")
    if tenc != 0x01:
        raise Unsupported("%s: time encoding 0x%02x" % (r.what, tenc))
    tlen = r.varint("time payload length")
    if tlen > r.left():
        raise Malformed("%s: time payload length %d > %d bytes left" % (r.what, tlen, r.left()))
    times = decode_ts_dod(r.take(tlen), n)
    if group:
        # A group image's block holds many series' rows: its min and max are anywhere.
        if min(times) != e["min"] or max(times) != e["max"]:
            raise Malformed("%s: min/max time %d/%d, footer says %d/%d" % (r.what, min(times), max(times), e["min"], e["max"]))
    elif times[0] != e["min"] or times[-1] != e["max"]:
        raise Malformed("%s: first/last time %d/%d, footer says %d/%d"
                        % (r.what, times[0], times[-1], e["min"], e["max"]))
    for i in range(1, n if not group else 0):
        if times[i] < times[i - 1]:
            raise Malformed("%s: times not sorted at row %d" % (r.what, i))
    cols = [None] * len(fields)  # None: no chunk (absent everywhere)
    for _ in range(k):
        fi = r.varint("field index")
        if fi >= len(fields):
            raise Malformed("%s: field index %d >= %d" % (r.what, fi, len(fields)))
        if cols[fi] is not None:
            raise Malformed("%s: field index %d twice" % (r.what, fi))
        ftype = fields[fi][1]
        pres = r.u8("presence")
        if pres == 2:
            SEEN["presence 2"] += 1
            cols[fi] = [None] * n
            continue
        if pres == 0:
            SEEN["presence 0"] += 1
            present = range(n)
        elif pres == 1:
            SEEN["presence 1"] += 1
            bm = r.take((n + 7) // 8, "presence bitmap")
            present = [i for i in range(n) if bm[i >> 3] >> (i & 7) & 1]
            if not present:
                # Format.md: presence 1 with no bit set is malformed (writers use presence 2).
                raise Malformed("%s: field %r: presence 1 with no row present" % (r.what, fields[fi][0]))
        else:
            raise Malformed("%s: presence byte %d" % (r.what, pres))
        enc = r.u8("encoding")
        plen = r.varint("payload length")
        if plen > r.left():
            raise Malformed("%s: payload length %d > %d bytes left" % (r.what, plen, r.left()))
        payload = r.take(plen)
        if enc not in ENC_NAMES:
            cols[fi] = UnsupportedColumn(Unsupported("%s: field %r encoding 0x%02x"
                                                     % (r.what, fields[fi][0], enc)))
            continue
        if enc not in FAMILY[ftype]:
            raise Malformed("%s: encoding %s for a %s field" % (r.what, ENC_NAMES[enc], TYPE_NAMES[ftype]))
        SEEN[ENC_NAMES[enc]] += 1
        SEEN["type %s" % TYPE_NAMES[ftype]] += 1
        try:
            vals = decode_payload(ftype, enc, payload, len(present))
        except Unsupported as err:  # an unknown nested integer encoding: this column only
            cols[fi] = UnsupportedColumn(err)
            continue
        col = [None] * n
        for i, v in zip(present, vals):
            col[i] = v
        cols[fi] = col
    if r.left():
        raise Malformed("%s: %d bytes after the last chunk" % (r.what, r.left()))
    for fi in range(len(fields)):
        if cols[fi] is None:
            SEEN["field without chunk"] += 1
            cols[fi] = [None] * n
    return times, cols


# ---------------------------------------------------------------------------------------
# Statistics and product sums (Format.md "Footer")

def expected_stats(ftype, col):
    vals = [v for v in col if v is not None]
    count = len(vals)
    if count == 0 or ftype == 4:
        return (count, 0, 0, 0, 0, 0)
    if ftype == 1:
        mn = mx = None
        for v in vals:
            if is_nan_bits(v):
                continue
            x = f64_from_bits(v)
            if mn is None or x < f64_from_bits(mn):
                mn = v
            if mx is None or x > f64_from_bits(mx):
                mx = v
        if mn is None:
            mn = mx = CANONICAL_NAN
        acc = 0.0
        for v in vals:
            acc += f64_from_bits(v)
        return (count, mn, mx, vals[0], vals[-1], bits_of_f64(acc))
    ints = [int(v) for v in vals]  # Bool: False = 0, True = 1
    return (count, min(ints) & M64, max(ints) & M64, ints[0] & M64, ints[-1] & M64, sum(ints) & M64)


def same_f64(stored, expected):
    return stored == expected or (is_nan_bits(stored) and is_nan_bits(expected))


def check_block_stats(seg, e, cols, where):
    names = ("count", "min", "max", "first", "last", "sum")
    for fi, (name, ftype) in enumerate(seg.fields):
        if isinstance(cols[fi], UnsupportedColumn):
            continue
        exp = expected_stats(ftype, cols[fi])
        got = e["stats"][fi]
        for j in range(6):
            ok = got[j] == exp[j]
            if not ok and ftype == 1 and j == 5 and exp[0]:
                ok = same_f64(got[j], exp[j])
                if ok:
                    SEEN["NaN sum (payload not compared)"] += 1
            if not ok:
                raise StatsMismatch("%s block at %d: field %r %s stored 0x%016x, recomputed 0x%016x"
                                    % (where, e["offset"], name, names[j], got[j], exp[j]))
        SEEN["stats checked"] += 1
    num = seg.numeric
    k = len(num)
    if not 2 <= k <= 8:
        return
    idx = 0
    for a in range(k):
        for bb in range(a + 1, k):
            ca, cb = cols[num[a]], cols[num[bb]]
            if isinstance(ca, UnsupportedColumn) or isinstance(cb, UnsupportedColumn):
                idx += 1
                continue
            assert idx == a * (2 * k - a - 1) // 2 + (bb - a - 1)
            ta, tb = seg.fields[num[a]][1], seg.fields[num[bb]][1]
            acc = 0.0
            for x, y in zip(ca, cb):
                if x is None or y is None:
                    continue
                fx = f64_from_bits(x) if ta == 1 else float(x)
                fy = f64_from_bits(y) if tb == 1 else float(y)
                acc += fx * fy
            exp = bits_of_f64(acc)
            got = e["products"][idx]
            if not same_f64(got, exp):
                raise StatsMismatch("%s block at %d: product sum %r*%r stored 0x%016x, recomputed 0x%016x"
                                    % (where, e["offset"], seg.fields[num[a]][0], seg.fields[num[bb]][0], got, exp))
            SEEN["product sums checked"] += 1
            idx += 1


def read_segment(path, b=None, group=False):
    """Read a whole segment (or group image): footer, every block verified, decoded,
    statistics checked. Returns (segment, rows) with rows = [(time, [value or None per
    footer field])]."""
    if b is None:
        with open(path, "rb") as f:
            b = f.read()
    seg = read_footer_and_header(b, path, group)
    rows = []
    for e in seg.blocks:
        times, cols = decode_block(b, e, seg.fields, path, group)
        check_block_stats(seg, e, cols, path)
        for fi, c in enumerate(cols):
            if isinstance(c, UnsupportedColumn):
                raise c.err  # this test reads every column; unsupported is a failure here
        for i, t in enumerate(times):
            rows.append((t, [c[i] for c in cols]))
        SEEN["blocks"] += 1
    SEEN["group images" if group else "segments"] += 1
    SEEN["rows"] += len(rows)
    return seg, rows


# ---------------------------------------------------------------------------------------
# Output, in the format of `strata query --time-format ns`

def format_float(bits):
    """A float as README's "Output" paragraph of `strata query` spells it."""
    x = f64_from_bits(bits)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    # The shortest digits that read back to the same double (Python's repr finds them; only
    # its choice between positional and scientific notation differs from the README's).
    r = repr(abs(x))
    mantissa, _, exp = r.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    point = len(whole) + (int(exp) if exp else 0)   # value = 0.<digits> x 10^point
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    sign = "-" if x < 0 else ""
    if 1e-4 <= abs(x) <= 2.0 ** 53:
        if point <= 0:
            return sign + "0." + "0" * -point + digits
        if point >= len(digits):
            return sign + digits + "0" * (point - len(digits)) + ".0"
        return sign + digits[:point] + "." + digits[point:]
    e = point - 1
    return "%s%s%se%s%02d" % (sign, digits[0], "." + digits[1:] if len(digits) > 1 else "", "+" if e >= 0 else "-", abs(e))


def format_value(ftype, v):
    if v is None:
        return ""
    if ftype == 1:
        return format_float(v)
    if ftype == 3:
        return "true" if v else "false"
    return str(v)


class Series:
    def __init__(self, data_dir, mdir, measurement, sdir, symbol, schema, period="day", layout="series"):
        self.period = period
        self.layout = layout
        self.data_dir = data_dir
        self.mdir = mdir
        self.measurement = measurement
        self.sdir = sdir
        self.symbol = symbol
        self.schema = schema


def list_dir(path):
    return sorted(os.listdir(path))


def walk(data_dir):
    """Series of a data directory (Format.md "Data directory"), measurement by measurement."""
    out = []
    for mdir in list_dir(data_dir):
        mpath = os.path.join(data_dir, mdir)
        if mdir[:1] in "._" or not os.path.isdir(mpath):
            continue
        measurement = decode_name(mdir)
        if measurement is None:
            SEEN["skipped non-name entry"] += 1
            continue
        spath = os.path.join(mpath, "_schema")
        try:
            with open(spath, "rb") as f:
                raw = f.read()
        except OSError as err:
            raise LayoutError("%s: %s" % (spath, err))
        schema = parse_schema(raw, spath)
        SEEN["schemas"] += 1
        period = read_partition_file(mpath)
        SEEN["measurements partitioned by " + period] += 1
        if read_layout_file(mpath) == "packed":
            SEEN["packed measurements"] += 1
            symbols = set()
            for _, _, _, ppath in packed_partitions(mpath, period):
                mf = os.path.join(ppath, "_manifest")
                if os.path.exists(mf):
                    symbols.update(read_pack_manifest(mf)[1].keys())
            for symbol in sorted(symbols, key=lambda x: x.encode()):
                out.append(Series(data_dir, mdir, measurement, None, symbol, schema, period, "packed"))
            continue
        for sdir in list_dir(mpath):
            if sdir[:1] in "._" or not os.path.isdir(os.path.join(mpath, sdir)):
                continue
            symbol = decode_name(sdir)
            if symbol is None:
                SEEN["skipped non-name entry"] += 1
                continue
            out.append(Series(data_dir, mdir, measurement, sdir, symbol, schema, period))
    return out


MANIFEST_MAGIC = b"STRATMAN"


def read_manifest(path):
    """A day manifest (Format.md "Day manifest"): (segments [(id, rows)], tombstones [(from, to, through)])."""
    with open(path, "rb") as f:
        b = f.read()
    return parse_manifest(b, path)


def parse_manifest(b, path):
    if len(b) < 8:
        raise Truncated("%s: %d bytes" % (path, len(b)))
    version = check_header(b, MANIFEST_MAGIC, (1, 2), 16 + 8 + 32 + 4 + 4 + 4, path)
    end = len(b) - 4
    if crc32c(b[:end]) != int.from_bytes(b[end:], "little"):
        raise ChecksumMismatch("%s: manifest" % path)
    r = Reader(b, 16, end, what=path)
    next_id = r.le(8, "next segment id")
    for what in ("flushed file", "flushed offset", "deletes file", "deletes offset"):
        r.le(8, what)
    nseg = r.le(4, "segment count")
    if nseg * 16 > r.left():
        raise Malformed("%s: segment count %d" % (path, nseg))
    segs = []
    for _ in range(nseg):
        sid = r.le(8, "segment id")
        rows = r.le(8, "segment rows")
        if sid <= (segs[-1][0] if segs else 0) or sid >= next_id:
            raise Malformed("%s: segment id %d out of order or not below %d" % (path, sid, next_id))
        segs.append((sid, rows))
    ntomb = r.le(4, "tombstone count")
    if (ntomb * 24 != r.left()) if version == 1 else (ntomb * 24 > r.left()):
        raise Malformed("%s: tombstone count %d, %d bytes left" % (path, ntomb, r.left()))
    tombs = []
    for _ in range(ntomb):
        lo, hi, through = r.i64("from"), r.i64("to"), r.le(8, "through segment")
        if lo > hi:
            raise Malformed("%s: tombstone %d > %d" % (path, lo, hi))
        tombs.append((lo, hi, through))
    if version == 2:
        narch = r.le(4, "archived count")
        if narch < 1:
            raise Malformed("%s: version 2 with no archived segment" % path)
        for _ in range(narch):
            r.le(8, "archived id"); r.le(8, "archived rows"); r.le(8, "archived bytes")
            r.string(1024, "archived key")
        if r.left() != 0:
            raise Malformed("%s: %d bytes after the archived segments" % (path, r.left()))
        # Archived rows live in cold objects (zstd); this reader reads local segments only.
        SEEN["days with archived segments (not read here)"] += 1
    return segs, tombs


PACK_MANIFEST_MAGIC = b"STRATPKM"
PACK_MAGIC = b"STRATPAK"
PACK_RE = re.compile(r"^[0-9a-f]{16}\.pack$")


def read_pack_manifest(path):
    """A pack manifest (Format.md "Packed measurements"): (next pack id, {symbol: (segments,
    tombstones, [(pack, offset, length, first row or None)] one per segment)}), every rule of
    the format checked. Version 2 keeps its entries in zstd pages; version 1 one after another."""
    with open(path, "rb") as f:
        b = f.read()
    version = check_header(b, PACK_MANIFEST_MAGIC, (1, 2), 16 + 12 + 4, path)
    end = len(b) - 4
    if crc32c(b[:end]) != int.from_bytes(b[end:], "little"):
        raise ChecksumMismatch("%s: pack manifest" % path)
    r = Reader(b, 16, end, what=path)
    next_pack = r.le(8, "next pack id")
    count = r.le(4, "entry count")
    if count > 10_000_000:
        raise Malformed("%s: entry count %d" % (path, count))
    runs = []  # (bytes of consecutive entries, their count or offsets, what)
    if version == 1:
        if 28 + 8 * count > end:
            raise Malformed("%s: entry count %d" % (path, count))
        offsets = [r.le(8, "entry offset") for _ in range(count)]
        bounds = offsets + [end]
        if count and offsets[0] != 28 + 8 * count:
            raise Malformed("%s: the first entry starts at %d" % (path, offsets[0]))
        if not count and end != 28:
            raise Malformed("%s: no entries, but %d bytes before the checksum" % (path, end - 28))
        for i in range(count):
            if not bounds[i] < bounds[i + 1]:
                raise Malformed("%s: entry %d at %d does not start after the previous one or before the checksum" % (path, i, bounds[i]))
            runs.append((Reader(b, bounds[i], bounds[i + 1], what="%s entry %d" % (path, i)), 1, None))
    else:
        import zstandard  # pip install zstandard
        pages = r.le(4, "page count")
        if pages > count or pages * 13 > r.left() or (pages == 0) != (count == 0):
            raise Malformed("%s: page count %d for %d entries" % (path, pages, count))
        directory = []
        total = 0
        for p in range(pages):
            n, raw, stored = r.le(4, "page entries"), r.le(4, "page raw length"), r.le(4, "page stored length")
            first = r.string(1024, "page first symbol")
            if not 1 <= n <= count - total or not 1 <= raw <= 16 << 20 or stored < 1:
                raise Malformed("%s: page %d of %d entries, %d bytes raw, %d stored" % (path, p, n, raw, stored))
            if not first or (directory and not directory[-1][3].encode() < first.encode()):
                raise Malformed("%s: page %d starts at %r, not after the previous page" % (path, p, first))
            directory.append((n, raw, stored, first))
            total += n
        if total != count:
            raise Malformed("%s: pages hold %d entries, the count says %d" % (path, total, count))
        at = r.p
        for p, (n, raw, stored, first) in enumerate(directory):
            if stored > end - at:
                raise Malformed("%s: page %d runs past the checksum" % (path, p))
            frame = b[at:at + stored]
            try:
                params = zstandard.get_frame_parameters(frame)
                if params.content_size != raw:
                    raise Malformed("%s: page %d's frame declares %d bytes, the directory %d" % (path, p, params.content_size, raw))
                data = zstandard.ZstdDecompressor().decompress(frame, max_output_size=raw)
            except zstandard.ZstdError as e:
                raise Malformed("%s: page %d: %s" % (path, p, e))
            if len(data) != raw:
                raise Malformed("%s: page %d holds %d bytes, the directory says %d" % (path, p, len(data), raw))
            runs.append((Reader(data, 0, raw, what="%s page %d" % (path, p)), n, first))
            at += stored
        if at != end:
            raise Malformed("%s: %d bytes after the last page" % (path, end - at))
        SEEN["pack manifest pages"] += pages
    entries = {}
    previous = None
    for e, n, first in runs:
        for i in range(n):
            symbol = e.string(1024, "symbol")
            if not symbol or (previous is not None and not previous.encode() < symbol.encode()):
                raise Malformed("%s: entry %r empty or not after %r" % (path, symbol, previous))
            if i == 0 and first is not None and symbol != first:
                raise Malformed("%s: a page starts at %r, its directory entry says %r" % (path, symbol, first))
            previous = symbol
            m = e.le(4, "day manifest length")
            segs, tombs = parse_manifest(e.take(m, "day manifest"), "%s entry %r" % (path, symbol))
            if version == 1 and e.left() != 24 * len(segs):
                raise Malformed("%s: %r has %d segments and %d bytes of locations" % (path, symbol, len(segs), e.left()))
            locations = []
            for sid, rows in segs:
                kind = e.u8("location kind") if version >= 2 else 0
                if kind > 1:
                    raise Malformed("%s: %r has location kind %d" % (path, symbol, kind))
                pack, offset, length = e.le(8, "pack"), e.le(8, "offset"), e.le(8, "length")
                first_row = e.le(8, "first row") if kind == 1 else None
                if not (1 <= pack < next_pack and offset >= 16 and length >= 40 and length < 1 << 63 and offset <= (1 << 63) - 1 - length):
                    raise Malformed("%s: %r has a segment at pack %d, %d+%d" % (path, symbol, pack, offset, length))
                if first_row is not None and (rows == 0 or first_row > (1 << 63) - 1 - rows):
                    raise Malformed("%s: %r has a slice of %d rows from row %d" % (path, symbol, rows, first_row))
                locations.append((pack, offset, length, first_row))
            entries[symbol] = (segs, tombs, locations)
        if e.left():
            raise Malformed("%s: %d bytes after the last entry" % (e.what, e.left()))
    return next_pack, entries


def packed_partitions(mpath, period):
    """(first day, next first day, name, path) of each partition of a packed measurement."""
    base = os.path.join(mpath, "_packed")
    out = []
    if not os.path.isdir(base):
        return out
    for dd in os.listdir(base):
        part = parse_partition_dir(dd)
        if part is None or not os.path.isdir(os.path.join(base, dd)):
            SEEN["skipped non-partition entry"] += 1
            continue
        if part[0] != period:
            raise LayoutError("%s: a %s partition in a measurement of %s partitions" % (os.path.join(base, dd), part[0], period))
        out.append((part[1], part[2], dd, os.path.join(base, dd)))
    return sorted(out)


PACKS = {}


def pack_bytes(path):
    """A pack file's bytes, its header checked (read once per run)."""
    if path not in PACKS:
        with open(path, "rb") as f:
            b = f.read()
        check_header(b, PACK_MAGIC, (1,), 16, path)
        PACKS[path] = b
        SEEN["packs"] += 1
    return PACKS[path]


def series_days(s):
    """(first day, next first day, partition name, [(segment id, rows, path, bytes or None)],
    tombstones) for each partition of a series, in order."""
    mpath = os.path.join(s.data_dir, s.mdir)
    out = []
    if s.layout == "packed":
        for day, next_day, dd, ppath in packed_partitions(mpath, s.period):
            mf = os.path.join(ppath, "_manifest")
            if not os.path.exists(mf):
                SEEN["packed partitions without a manifest"] += 1
                continue
            _, entries = read_pack_manifest(mf)
            if s.symbol not in entries:
                continue
            segs, tombs, locations = entries[s.symbol]
            listed = []
            for (sid, rows), (pack, offset, length, first_row) in zip(segs, locations):
                ppack = os.path.join(ppath, "%016x.pack" % pack)
                b = pack_bytes(ppack)
                if offset + length > len(b):
                    raise Truncated("%s: segment %d of %r at %d+%d past the end (%d bytes)" % (ppack, sid, s.symbol, offset, length, len(b)))
                image = b[offset:offset + length]
                if first_row is not None:
                    image = (image, first_row)  # a slice of a group image
                    SEEN["group slices"] += 1
                else:
                    SEEN["packed segment images"] += 1
                listed.append((sid, rows, "%s@%d" % (ppack, offset), image))
            SEEN["packed series-partitions"] += 1
            out.append((day, next_day, dd, listed, tombs))
        return out
    base = os.path.join(mpath, s.sdir)
    for day, next_day, dd in series_partitions(s, base):
        dpath = os.path.join(base, dd)
        mf = os.path.join(dpath, "_manifest")
        if not os.path.exists(mf):
            SEEN["day directories without a manifest"] += 1
            continue
        listed, tombs = read_manifest(mf)
        ids = {sid for sid, _ in listed}
        for fn in os.listdir(dpath):
            if SEG_RE.match(fn) and int(fn[:16], 16) not in ids:
                SEEN["segments no manifest lists (ignored)"] += 1
        out.append((day, next_day, dd, [(sid, rows, os.path.join(dpath, "%016x.seg" % sid), None) for sid, rows in listed], tombs))
    return out


def series_partitions(s, base):
    days = []
    for dd in os.listdir(base):
        part = parse_partition_dir(dd)
        if part is None or not os.path.isdir(os.path.join(base, dd)):
            SEEN["skipped non-partition entry"] += 1
            continue
        if part[0] != s.period:
            raise LayoutError("%s: a %s partition in a measurement of %s partitions" % (os.path.join(base, dd), part[0], s.period))
        days.append((part[1], part[2], dd))
    return sorted(days)


def read_series(s):
    """All rows of a series in query order: by time, then segment id, then position."""
    schema_index = {name: i for i, (name, _) in enumerate(s.schema)}
    out = []
    for day, next_day, dd, listed, tombs in series_days(s):
        expected_rows = {sid: rows for sid, rows, _, _ in listed}
        segs = [(sid, path, b) for sid, _, path, b in listed]
        if tombs:
            SEEN["days with tombstones"] += 1
        if len(segs) > 1:
            SEEN["series-days with several segments"] += 1
        if day < 0:
            SEEN["days before 1970"] += 1
        day_rows = []
        for sid, path, b in segs:
            if isinstance(b, tuple):
                seg, rows = read_slice(path, b[0], b[1], expected_rows[sid])
            else:
                seg, rows = read_segment(path, b)
            if seg.measurement != s.measurement or (seg.symbol != s.symbol and not seg.group):
                raise LayoutError("%s: footer names %r/%r, directories %r/%r"
                                  % (path, seg.measurement, seg.symbol, s.measurement, s.symbol))
            if seg.day != day:
                raise LayoutError("%s: footer day %d, directory %s starts on day %d" % (path, seg.day, dd, day))
            # Format.md "Where the day offset is": one offset for every segment of a store.
            first = STORE_OFFSET.setdefault(s.data_dir, seg.offset_seconds)
            if seg.offset_seconds != first:
                raise LayoutError("%s: day offset %d s, other segments of the store %d s" % (path, seg.offset_seconds, first))
            mapping = []
            for name, ftype in seg.fields:
                if name not in schema_index or s.schema[schema_index[name]][1] != ftype:
                    raise LayoutError("%s: field %r %s not in _schema as such" % (path, name, TYPE_NAMES[ftype]))
                mapping.append(schema_index[name])
            if len(seg.fields) < len(s.schema):
                SEEN["segments with fewer fields than _schema"] += 1
            if len(rows) != expected_rows[sid]:
                raise LayoutError("%s: %d rows, the manifest says %d" % (path, len(rows), expected_rows[sid]))
            off_ns = seg.offset_seconds * 1_000_000_000
            for pos, (t, vals) in enumerate(rows):
                if any(lo <= t <= hi and sid <= through for lo, hi, through in tombs):
                    continue
                if not day <= (t + off_ns) // NS_PER_DAY < next_day:
                    raise LayoutError("%s: row %d time %d is not in partition %s" % (path, pos, t, dd))
                full = [None] * len(s.schema)
                for fi, v in zip(mapping, vals):
                    full[fi] = v
                day_rows.append((t, sid, pos, full))
        day_rows.sort(key=lambda x: (x[0], x[1], x[2]))
        out.extend((t, full) for t, _, _, full in day_rows)
    return out


GROUPS = {}


def read_slice(path, image, first_row, count):
    """A series' rows in a group image (Format.md "Group images"): rows first_row ... first_row
    + count - 1 of it, which must lie inside it and be in time order."""
    if path not in GROUPS:
        GROUPS[path] = read_segment(path, image, group=True)
    seg, rows = GROUPS[path]
    if first_row + count > len(rows):
        raise LayoutError("%s: a slice of %d rows from row %d, the group image holds %d" % (path, count, first_row, len(rows)))
    part = rows[first_row:first_row + count]
    for i in range(1, len(part)):
        if part[i][0] < part[i - 1][0]:
            raise LayoutError("%s: the slice from row %d is not in time order at its row %d" % (path, first_row, i))
    return seg, part


def series_csv(s, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["time", "symbol"] + [name for name, _ in s.schema])
    types = [ft for _, ft in s.schema]
    for t, vals in rows:
        w.writerow([str(t), s.symbol] + [format_value(ft, v) for ft, v in zip(types, vals)])
    return buf.getvalue()


# ---------------------------------------------------------------------------------------
# Commands

def cmd_dump(data_dir, out_dir):
    series = walk(data_dir)
    with open(os.path.join(out_dir, "series.tsv"), "w", encoding="utf-8") as idx:
        for i, s in enumerate(series):
            rows = read_series(s)
            with open(os.path.join(out_dir, "%d.py.csv" % i), "w", encoding="utf-8", newline="") as f:
                f.write(series_csv(s, rows))
            with open(os.path.join(out_dir, "%d.types" % i), "w", encoding="utf-8") as f:
                f.write(",".join(str(ft) for _, ft in s.schema) + "\n")
            idx.write("%d\t%s\t%s\n" % (i, s.measurement, s.symbol))
    SEEN["series"] = len(series)
    json.dump(dict(sorted(SEEN.items())), sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


def float_cell_bits(text):
    if text == "Inf":
        return bits_of_f64(math.inf)
    if text == "-Inf":
        return bits_of_f64(-math.inf)
    return bits_of_f64(float(text))


def cmd_compare(out_dir):
    checked = 0
    with open(os.path.join(out_dir, "series.tsv"), encoding="utf-8") as f:
        series = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    for i, measurement, symbol in series:
        with open(os.path.join(out_dir, "%s.types" % i), encoding="utf-8") as f:
            types = [int(x) for x in f.read().strip().split(",") if x]
        with open(os.path.join(out_dir, "%s.py.csv" % i), encoding="utf-8", newline="") as f:
            mine = list(csv.reader(f, strict=True))
        with open(os.path.join(out_dir, "%s.strata.csv" % i), encoding="utf-8", newline="") as f:
            theirs = list(csv.reader(f, strict=True))
        where = "%s/%s" % (measurement, symbol)
        if mine[:1] != theirs[:1]:
            print("DIFF %s header: python %r, strata %r" % (where, mine[:1], theirs[:1]))
            return 1
        for r in range(1, max(len(mine), len(theirs))):
            a = mine[r] if r < len(mine) else None
            b = theirs[r] if r < len(theirs) else None
            if a is None or b is None or len(a) != len(b):
                print("DIFF %s row %d: python %r, strata %r" % (where, r, a, b))
                return 1
            for c, (x, y) in enumerate(zip(a, b)):
                if x == y:
                    continue
                # The text must be the same; say whether a float cell at least holds the same value.
                note = ""
                if c >= 2 and types[c - 2] == 1 and x and y:
                    try:
                        bx, by = float_cell_bits(x), float_cell_bits(y)
                        if bx == by or (is_nan_bits(bx) and is_nan_bits(by)):
                            note = " (the same double, spelt differently)"
                    except ValueError:
                        pass
                print("DIFF %s row %d column %r: python %r, strata %r%s\n  python row: %s\n  strata row: %s"
                      % (where, r, mine[0][c], x, y, note, csv_line(a), csv_line(b)))
                return 1
            checked += 1
    print(json.dumps({"series": len(series), "rows": checked}))
    return 0


def csv_line(fields):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(fields)
    return buf.getvalue()


def cmd_segment(paths):
    for path in paths:
        seg, rows = read_segment(path)
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["time", "symbol"] + [name for name, _ in seg.fields])
        for t, vals in rows:
            w.writerow([str(t), seg.symbol] + [format_value(ft, v) for (_, ft), v in zip(seg.fields, vals)])
    print("segments %d, blocks %d, rows %d" % (SEEN["segments"], SEEN["blocks"], SEEN["rows"]), file=sys.stderr)


def cmd_mutations(path):
    """Damaged copies of one segment, each of which a reader must reject with the error
    code Format.md gives. Checksums are recomputed where the damage is meant to reach a
    later check."""
    with open(path, "rb") as f:
        orig = f.read()
    seg = read_footer_and_header(orig, path)
    t = len(orig) - 24
    fo = seg.footer_offset
    e0 = seg.blocks[0]

    def fix(b):
        b[12:16] = crc32c(bytes(b[:12])).to_bytes(4, "little")
        tt = len(b) - 24
        f = int.from_bytes(b[tt:tt + 8], "little")
        b[tt + 12:tt + 16] = crc32c(bytes(b[f:tt])).to_bytes(4, "little")
        return b

    def edit(fn, fixed=False):
        b = bytearray(orig)
        b = fn(b) or b
        return bytes(fix(b) if fixed else b)

    def flip(i, mask=0x01):
        def f(b):
            b[i] ^= mask
        return f

    def put(i, raw):
        def f(b):
            b[i:i + len(raw)] = raw
        return f

    def footer_grow(b):     # one stray byte at the end of the footer
        b[t:t] = b"\x00"
        b[t + 1 + 8:t + 1 + 12] = (t + 1 - fo).to_bytes(4, "little")

    def gap_before_footer(b):   # one stray byte between the last block and the footer
        b[fo:fo] = b"\x00"
        b[t + 1:t + 9] = (fo + 1).to_bytes(8, "little")

    mid = e0["offset"] + (e0["length"] - 4) // 2
    cases = [
        ("bit flipped in block 0", edit(flip(mid, 0x20)), "checksumMismatch"),
        ("bit flipped in block 0's checksum", edit(flip(e0["offset"] + e0["length"] - 1, 0x80)), "checksumMismatch"),
        ("bit flipped in the header version", edit(flip(8)), "checksumMismatch"),
        ("bit flipped in the footer", edit(flip(fo + 1, 0x04)), "checksumMismatch"),
        ("bit flipped in the last footer byte", edit(flip(t - 1, 0x40)), "checksumMismatch"),
        ("header flags 1 (checksum fixed)", edit(put(10, b"\x01\x00"), True), "unsupported"),
        ("version 2 (checksum fixed)", edit(put(8, b"\x02\x00"), True), "unsupported"),
        ("leading magic damaged", edit(flip(0)), "badMagic"),
        ("last byte cut off", orig[:-1], "truncated"),
        ("cut to 39 bytes", orig[:39], "truncated"),
        ("cut to 7 bytes", orig[:7], "truncated"),
        ("footer offset + 1", edit(lambda b: put(t, (fo + 1).to_bytes(8, "little"))(b)), "malformed"),
        ("stray byte after the last block entry", edit(footer_grow, True), "malformed"),
        ("stray byte between blocks and footer", edit(gap_before_footer, True), "malformed"),
    ]
    for name, data, want in cases:
        try:
            read_segment("%s [%s]" % (path, name), data)
            got, detail = "accepted", ""
        except FormatError as err:
            got, detail = err.code, err.detail
        if got != want:
            print("MUTATION %s: expected %s, got %s %s" % (name, want, got, detail))
            return 1
    print(json.dumps({"mutations rejected as expected": len(cases)}))
    return 0


def cmd_query(data_dir, measurement, symbol):
    for s in walk(data_dir):
        if s.measurement == measurement and s.symbol == symbol:
            sys.stdout.write(series_csv(s, read_series(s)))
            return 0
    print("no series %s/%s" % (measurement, symbol), file=sys.stderr)
    return 1


def cmd_selftest():
    h = bytes.fromhex
    assert crc32c(b"123456789") == 0xE3069283 == crc32c_bitwise(b"123456789")
    assert crc32c(b"") == 0 and crc32c(b"a") == 0xC1D04330
    data = bytes(range(256)) * 3
    assert crc32c(data) == crc32c_bitwise(data)

    def varint(hx):
        return Reader(h(hx)).varint()
    assert varint("00") == 0 and varint("7f") == 127 and varint("8001") == 128
    assert varint("ac02") == 300 and varint("ffffffffffffffffff01") == M64 and varint("8000") == 0
    for bad in ("ffffffffffffffffff02", "ffffffffffffffffff81"):
        try:
            varint(bad)
            raise AssertionError("accepted " + bad)
        except Malformed:
            pass
    assert [unzigzag(u) for u in (0, 1, 2, 3, 4, M64 - 1, M64)] == [0, -1, 1, -2, 2, (1 << 63) - 1, I64_MIN]
    br = BitReader(h("d0c0"), "t")
    assert (br.read(1), br.read(3), br.read(6)) == (1, 5, 3)
    assert unpack_le(h("8846"), 5, 3) == [0, 1, 2, 3, 4]
    assert unpack_le(h("39"), 3, 2) == [1, 2, 3]
    assert unpack_le(h("7fc01f"), 3, 7) == [0x7F, 0, 0x7F]
    assert unpack_le(h("efcdab8967452301"), 1, 64) == [0x0123456789ABCDEF]
    assert unpack_le(bytes(range(200)) * 40, 2000, 13) == [
        (int.from_bytes(bytes(range(200)) * 40, "little") >> (13 * i)) & 0x1FFF for i in range(2000)]

    ts = [
        ([1000, 1000, 1000, 2000, 3000, 3000], "e803000000000000" "e807" "202bf8"),
        ([42], "2a00000000000000" "01"),
        ([0, 1000000, 2000000, 3000000], "0000000000000000" "c0843d" "8080"),
        ([0, 1, 65], "0000000000000000" "01" "80cfc0"),
        ([0, 1, -63], "0000000000000000" "01" "80edf8"),
        ([I64_MIN, (1 << 63) - 1], "0000000000000080" "01" "bf80"),
    ]
    for vals, hx in ts:
        assert decode_ts_dod(h(hx), len(vals)) == vals, (vals, hx)

    gor = [
        ([bits_of_f64(12.0), bits_of_f64(12.0), bits_of_f64(24.0)], "4028000000000000" "6b06"),
        ([bits_of_f64(12.0), bits_of_f64(24.0), bits_of_f64(12.0)], "4028000000000000" "d60e80"),
        ([0, 0x8000000000000000], "0000000000000000" "c00c"),
        ([0, 0x8000000000000001], "0000000000000000" "c0040000000000000008"),
        ([0, 1], "0000000000000000" "ff0800000004"),
        ([bits_of_f64(1.0)], "3ff0000000000000"),
    ]
    for vals, hx in gor:
        assert decode_f64_gorilla(h(hx), len(vals)) == vals, (vals, hx)

    dec = [
        ([4512.25, 4512.5, 4512.25], "0220" "b28a3719010002" "00"),
        ([1.5, 1.5, 0x7FF8000000000001, 2.5], "0120" "1e0a010008" "01" "02010000000000f87f"),
        ([0.25, 0x8000000000000000, 0.5, 0.75], "0220" "3219020090" "01" "010000000000000080"),
        ([100.0, 101.0, 102.0, 103.0, 104.0], "0021" "c80102010000" "00"),
    ]
    for vals, hx in dec:
        want = [v if isinstance(v, int) else bits_of_f64(v) for v in vals]
        assert decode_f64_decimal(h(hx), len(vals)) == want, (vals, hx)

    ints = [
        ([7, 7, 7, 7], 0x20, "0e010000"),
        ([100, 110, 120, 130, 140], 0x20, "c8010a03008846"),
        ([100, 110, 120, 130, 140], 0x21, "c80114010000"),
        ([10, 7, 4, 1], 0x21, "1405010000"),
        ([1, 2, 3, 1000], 0x20, "02010301880e037c"),
        ([1000, 3000, 2000, 5000], 0x20, "d00fe80703005008"),
        ([-1, -2, -3], 0x20, "0501020006"),
        ([I64_MIN, (1 << 63) - 1], 0x20, "ffffffffffffffffff01ffffffffffffffffff01010002"),
        ([I64_MIN, (1 << 63) - 1], 0x21, "ffffffffffffffffff0101010000"),
        ([-5], 0x21, "0900010000"),
    ]
    for vals, enc, hx in ints:
        r = Reader(h(hx))
        assert decode_ints(enc, r, len(vals), "t") == vals and r.left() == 0, (vals, hx)

    strs = [
        (["AAPL", "MSFT", "AAPL", "GOOG", "AAPL"], "03" "0441415 04c" "044d534654" "04474f4f47" "02" "8400"),
        (["x", "x", "x"], "01017800"),
        (["€", ""], "02" "03e282ac" "00" "01" "02"),
    ]
    for vals, hx in strs:
        assert decode_str_dict(h(hx.replace(" ", "")), len(vals)) == vals, (vals, hx)

    names = {"ESH4": "ESH4", "BTC/USD": "BTC%2FUSD", "..": "%2E.", ".hidden": "%2Ehidden",
             "_under": "%5Funder", "a b%c": "a%20b%25c", "é€": "%C3%A9%E2%82%AC"}
    for name, esc in names.items():
        assert escape_name(name) == esc and decode_name(esc) == name, (name, esc)
    for bad in ("BTC%2fUSD", "%41", "a%2", "a/b", "%C3", "a b", "%00", ".x", "_x", "%2E%2E"):
        assert decode_name(bad) is None, bad
    assert parse_day_dir("1970-01-01") == 0 and parse_day_dir("2024-01-02") == 19724
    assert parse_day_dir("1969-12-31") == -1 and parse_day_dir("2023-02-29") is None
    assert parse_day_dir("2024-02-29") == days_from_civil(2024, 2, 29)
    for d in (-106751, -1, 0, 19724, 106750):
        assert parse_day_dir(day_name(d)) == d
    for period in PERIODS:
        for d in range(-106000, 106000, 37):
            first = partition_first_day(period, d)
            nxt = partition_next_day(period, first)
            assert first <= d < nxt and parse_partition_dir(partition_name(period, first)) == (period, first, nxt), (period, d)
    assert partition_name("week", partition_first_day("week", days_from_civil(2021, 1, 3))) == "2020-W53"
    assert partition_name("week", partition_first_day("week", days_from_civil(2024, 12, 30))) == "2025-W01"
    assert parse_partition_dir("2024-03") == ("month", days_from_civil(2024, 3, 1), days_from_civil(2024, 4, 1))
    assert parse_partition_dir("2024") == ("year", days_from_civil(2024, 1, 1), days_from_civil(2025, 1, 1))
    for bad in ("2024-13", "2024-W00", "2021-W53", "2024-W54", "2024-3", "02024", "2024-w10"):
        assert parse_partition_dir(bad) is None, bad

    floats = [(4512.0, "4512"), (-0.0, "-0.0"), (0.0, "0"), (-3.0, "-3"), (1e15, "1000000000000000.0"),
              (1e20, "1e+20"), (1e16, "1e+16"), (2.0 ** 53, "9007199254740992.0"),
              (2.0 ** 53 + 2, "9.007199254740994e+15"), (4512.25, "4512.25"), (0.1, "0.1"),
              (1e15 + 0.5, "1000000000000000.5"), (0.0001, "0.0001"), (0.00012, "0.00012"),
              (1e-05, "1e-05"), (-9e-05, "-9e-05"), (5e-324, "5e-324"), (1.5e300, "1.5e+300"),
              (1.7976931348623157e308, "1.7976931348623157e+308"), (math.inf, "Inf"), (-math.inf, "-Inf")]
    for x, text in floats:
        assert format_float(bits_of_f64(x)) == text, (x, format_float(bits_of_f64(x)), text)
    assert format_float(0xFFF8000000000001) == "NaN"

    # Blocks of two rows at 1000 and 2000 with one Int64 field: presence 1 needs a set bit.
    def block(chunk_hex):
        body = h("0201" "010ce803000000000000e8078080" + chunk_hex)
        b = body + crc32c(body).to_bytes(4, "little")
        return b, {"offset": 0, "length": len(b), "rows": 2, "min": 1000, "max": 2000}
    fields = [("volume", 2)]
    b, e = block("000102" "2004" "0a010000")
    assert decode_block(b, e, fields, "t")[1] == [[None, 5]]
    b, e = block("000100" "2004" "00010000")
    try:
        decode_block(b, e, fields, "t")
        raise AssertionError("presence 1 with no bit set accepted")
    except Malformed:
        pass
    print("selftest ok")
    return 0


def main(argv):
    try:
        if len(argv) >= 1 and argv[0] == "selftest":
            return cmd_selftest()
        if len(argv) >= 2 and argv[0] == "segment":
            cmd_segment(argv[1:])
            return 0
        if len(argv) == 4 and argv[0] == "query":
            return cmd_query(argv[1], argv[2], argv[3])
        if len(argv) == 3 and argv[0] == "dump":
            cmd_dump(argv[1], argv[2])
            return 0
        if len(argv) == 2 and argv[0] == "mutations":
            return cmd_mutations(argv[1])
        if len(argv) == 2 and argv[0] == "compare":
            return cmd_compare(argv[1])
    except FormatError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    print(__doc__, file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
