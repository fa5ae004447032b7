#!/usr/bin/env python3
"""Talks to a Strata server with third-party clients, unchanged, as their users would:
InfluxData's influxdb-client (health, ready, ping, version), influxdb3-python (writes
through /api/v3/write_lp with no_sync and accept_partial) and polars (read_csv of a query
URL, which asks HEAD first). Exits non-zero naming the first thing that differs from what
each client expects. Used by the tests (ServeTests).

    influx-compat.py URL
"""
import sys

url = sys.argv[1]


def check(condition, what):
    if not condition:
        sys.exit(f"failed: {what}")


from influxdb_client import InfluxDBClient

with InfluxDBClient(url=url, token="unused", org="strata") as client:
    health = client.health()
    check(health.status == "pass" and health.name == "strata" and health.version, f"health() is {health}")
    ready = client.ready()
    check(ready.status == "ready" and ready.started is not None and ready.up, f"ready() is {ready}")
    check(client.ping() is True, "ping() is not True")
    check(client.version() not in (None, "", "unknown"), f"version() is {client.version()!r}")
    check(client.build() == "OSS", f"build() is {client.build()!r}")

from influxdb_client_3 import InfluxDBClient3, InfluxDBError, WriteOptions, write_client_options
from influxdb_client_3.write_client.client.write_api import WriteType

def v3_client(**options):
    # use_v2_api=False: the client's InfluxDB 3 mode, which writes to /api/v3/write_lp.
    write = WriteOptions(write_type=WriteType.synchronous, use_v2_api=False, **options)
    return InfluxDBClient3(host=url, token="unused", database="market", write_client_options=write_client_options(write_options=write))

with v3_client(no_sync=True) as client:
    client.write(record="trade,symbol=V3A price=1.5,size=2i 1704205800", write_precision="s")
    client.write(record="trade,symbol=V3A price=2.5,size=3i 1704205801000", write_precision="ms")
with v3_client(accept_partial=False) as client:
    try:
        client.write(record="trade,symbol=V3B price=1,size=1i 1704205800\ntrade,symbol=V3B price=oops 1704205801", write_precision="s")
        sys.exit("failed: accept_partial=false with a bad line was acknowledged")
    except InfluxDBError as error:
        check(error.response.status == 400 and "oops" in str(error), f"accept_partial=false gave {error}")
with v3_client() as client:
    try:
        client.write(record="trade,symbol=V3C price=1,size=1i 1704205800\ntrade,symbol=V3C price=oops 1704205801", write_precision="s")
        sys.exit("failed: a partial write was reported as a success")
    except InfluxDBError as error:
        check(error.response.status == 400 and "line 2" in str(error) or "oops" in str(error), f"a partial write gave {error}")

import polars as pl

frame = pl.read_csv(f"{url}/api/v1/query?measurement=trade&symbol=V3A,V3C&format=csv&time_format=ns")
check(frame.height == 3, f"polars read {frame.height} rows, not 3:\n{frame}")
check(frame["symbol"].to_list() == ["V3A", "V3A", "V3C"], f"polars read symbols {frame['symbol'].to_list()}")
check(frame["time"].to_list() == [1704205800000000000, 1704205801000000000, 1704205800000000000], f"times {frame['time'].to_list()}")
check(frame["price"].to_list() == [1.5, 2.5, 1.0], f"prices {frame['price'].to_list()}")
print("ok: influxdb-client health/ready/ping/version, influxdb3-python no_sync and accept_partial, polars read_csv")
