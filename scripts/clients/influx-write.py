#!/usr/bin/env python3
"""Writes trades to a Strata server with InfluxData's own Python client (influxdb-client,
from PyPI), as an Influx user would, then reads them back through Strata's query API and
checks the counts and sums are exact. Used by the tests (ServeTests).

    influx-write.py URL ROWS
"""
import json
import sys
import urllib.request

from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

url, rows = sys.argv[1], int(sys.argv[2])
base = 1704205800_000_000_000  # 2024-01-02T14:30:00Z
symbols = ["ESH4", "NQH4", "005930"]
expected = {s: [0, 0.0, 0] for s in symbols}
points = []
for i in range(rows):
    s = symbols[i % 3]
    price = 4500 + (i % 97) * 0.25
    size = 1 + i % 7
    # Several trades in one millisecond: equal timestamps are all kept.
    points.append(Point("trade").tag("symbol", s).field("price", price).field("size", size).time(base + (i // 5) * 1_000_000, WritePrecision.NS))
    expected[s][0] += 1
    expected[s][1] += price
    expected[s][2] += size

with InfluxDBClient(url=url, token="unused-until-keys-exist", org="strata") as client:
    write = client.write_api(write_options=SYNCHRONOUS)
    for start in range(0, len(points), 5000):
        write.write(bucket="market", record=points[start:start + 5000])
    # The gzip path, as clients with enable_gzip send it.
with InfluxDBClient(url=url, token="unused", org="strata", enable_gzip=True) as client:
    client.write_api(write_options=SYNCHRONOUS).write(bucket="market", record=Point("trade").tag("symbol", "GZ").field("price", 1.5).field("size", 2).time(base, WritePrecision.NS))

with urllib.request.urlopen(f"{url}/api/v1/query?measurement=trade&symbol={','.join(symbols + ['GZ'])}&time_format=ns") as response:
    got = json.load(response)
actual = {s: [0, 0.0, 0] for s in symbols + ["GZ"]}
for r in got:
    a = actual[r["symbol"]]
    a[0] += 1
    a[1] += r["price"]
    a[2] += r["size"]
expected["GZ"] = [1, 1.5, 2]
for s, e in expected.items():
    a = actual[s]
    # Prices are multiples of 0.25: their sums are exact in a double.
    if a != e:
        sys.exit(f"{s}: wrote {e[0]} rows (price sum {e[1]}, size sum {e[2]}), read back {a[0]} ({a[1]}, {a[2]})")
print(f"ok: {rows + 1} rows written with influxdb-client {__import__('influxdb_client').__version__} and read back exactly")
