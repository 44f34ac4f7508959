"""Timestamps the incremental build collects and writes back into a query (gold/build.py `_instant`)."""
from __future__ import annotations

import time

from pyspark.sql import functions as F

from dataflix_spark.gold.build import _instant

# 2026-10-25T00:30:00.000123Z: 02:30 summer time in Berlin, an hour that happens twice that night.
IN_THE_REPEATED_HOUR = 1_792_888_200_000_123


def test_an_instant_survives_a_local_time_zone_with_a_dst_change(spark, monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        for micros in (IN_THE_REPEATED_HOUR, IN_THE_REPEATED_HOUR + 3_600_000_000, 0):
            back = spark.range(1).select(F.unix_micros(F.lit(_instant(micros)))).first()[0]
            assert back == micros
    finally:
        monkeypatch.undo()
        time.tzset()
