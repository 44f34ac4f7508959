"""`ops/gold_state`: the silver versions and as-of date gold was last built from, so the next run
knows which silver changes it has not applied yet. A row per container, appended after a build."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataflix_spark.config import QoeThresholds
from dataflix_spark.lakehouse import Lakehouse
from dataflix_spark.sinks.delta import append_table, read_pinned, table_exists, table_version
from dataflix_spark.session import driver_rows

GOLD_STATE_SCHEMA = T.StructType([
    T.StructField("run_id", T.StringType(), False),
    T.StructField("built_at", T.TimestampType(), False),
    T.StructField("as_of", T.DateType(), False),
    T.StructField("mode", T.StringType(), False),  # full | incremental
    T.StructField("container", T.StringType(), False),
    T.StructField("silver_version", T.LongType(), False),  # -1: the silver table did not exist
    T.StructField("qoe_rebuffer_ratio", T.DoubleType(), False),
    T.StructField("qoe_startup_p90_ms", T.LongType(), False),
])


@dataclass(frozen=True)
class GoldState:
    as_of: dt.date
    silver_versions: dict[str, int]
    thresholds: QoeThresholds


def silver_versions(spark: SparkSession, lake: Lakehouse, containers: tuple[str, ...]) -> dict[str, int]:
    return {
        c: table_version(spark, lake.silver(c)) if table_exists(spark, lake.silver(c)) else -1 for c in containers
    }


def record_gold_state(spark: SparkSession, lake: Lakehouse, run_id: str, as_of: dt.date, mode: str,
                      versions: dict[str, int], thresholds: QoeThresholds) -> None:
    built_at = dt.datetime.now(dt.timezone.utc)
    rows = [
        (run_id, built_at, as_of, mode, container, version, float(thresholds.rebuffer_ratio),
         int(thresholds.startup_p90_ms))
        for container, version in versions.items()
    ]
    append_table(driver_rows(spark, rows, GOLD_STATE_SCHEMA), lake.ops("gold_state"))


def last_gold_state(spark: SparkSession, lake: Lakehouse) -> GoldState | None:
    """The newest recorded build (a handful of rows per run: collecting them is cheap)."""
    if not table_exists(spark, lake.ops("gold_state")):
        return None
    state = read_pinned(spark, lake.ops("gold_state"))
    newest = state.agg(F.max("built_at")).head()[0]
    rows = state.where(F.col("built_at") == newest).collect()
    thresholds = QoeThresholds(rows[0]["qoe_rebuffer_ratio"], rows[0]["qoe_startup_p90_ms"])
    return GoldState(rows[0]["as_of"], {r["container"]: r["silver_version"] for r in rows}, thresholds)
