"""Quality of experience for the video platform team: `agg_qoe_daily`, `agg_buffering_daily`, `agg_errors_daily`."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from dataflix_spark.gold.percentiles import agg_percentiles
from dataflix_spark.schemas import GOLD_SCHEMAS, conform_to

MS_PER_HOUR = 3_600_000


def ratio(numerator: Column, denominator: Column) -> Column:
    """numerator / denominator as a double, null when the denominator is 0 or null."""
    return F.when(denominator != 0, numerator.cast("double") / denominator)


def build_agg_qoe_daily(sessions: DataFrame) -> DataFrame:
    """`fact_playback_sessions` → one row per (session date, device type)."""
    keys = ["date", "device_type"]
    by_day = sessions.withColumnRenamed("session_date", "date")
    totals = by_day.groupBy(*keys).agg(
        F.count(F.lit(1)).alias("sessions"),
        F.count(F.when(F.col("has_start"), True)).alias("sessions_with_start"),
        F.count(F.when(F.col("exited_before_start"), True)).alias("exits_before_start"),
        F.count(F.when(F.col("fatal_error"), True)).alias("failures"),
        F.sum("watch_time_ms").cast("long").alias("watch_time_ms"),
        F.sum("rebuffer_ms").cast("long").alias("rebuffer_ms"),
        F.sum("rebuffer_count").cast("long").alias("rebuffer_count"),
    )
    startup = agg_percentiles(
        by_day, keys, "startup_time_ms", {"startup_p50_ms": 500, "startup_p90_ms": 900, "startup_p95_ms": 950}
    )
    return (
        totals.join(startup, on=keys, how="left")
        .withColumn("ebvs_rate", ratio(F.col("exits_before_start"), F.col("sessions_with_start")))
        .withColumn("failure_rate", ratio(F.col("failures"), F.col("sessions")))
        .withColumn("rebuffer_ratio", ratio(F.col("rebuffer_ms"), F.col("watch_time_ms") + F.col("rebuffer_ms")))
        .withColumn("rebuffers_per_hour", ratio(F.col("rebuffer_count") * MS_PER_HOUR, F.col("watch_time_ms")))
        .transform(conform_to, GOLD_SCHEMAS["agg_qoe_daily"])
    )


def build_agg_buffering_daily(events: DataFrame) -> DataFrame:
    """Silver playback events → one row per (event date, device type) over every `buffer` event."""
    keys = ["date", "device_type"]
    buffers = events.where(F.col("event_type") == "buffer").withColumnRenamed("event_date", "date")
    totals = buffers.groupBy(*keys).agg(
        F.count(F.lit(1)).alias("buffer_events"),
        F.sum("buffer_time_ms").cast("long").alias("total_buffer_ms"),
        F.max("buffer_time_ms").cast("long").alias("max_buffer_ms"),
    )
    percentiles = agg_percentiles(
        buffers, keys, "buffer_time_ms",
        {"p50_buffer_ms": 500, "p90_buffer_ms": 900, "p95_buffer_ms": 950, "p99_buffer_ms": 990},
    )
    return totals.join(percentiles, on=keys, how="left").transform(
        conform_to, GOLD_SCHEMAS["agg_buffering_daily"]
    )


def build_agg_errors_daily(events: DataFrame) -> DataFrame:
    """Silver playback events → one row per (event date, device type, error code) over `error` events."""
    errors = events.where(F.col("event_type") == "error").withColumnRenamed("event_date", "date")
    return (
        errors.groupBy("date", "device_type", "error_code")
        .agg(
            F.count(F.lit(1)).alias("error_events"),
            F.count(F.when(F.col("fatal"), True)).alias("fatal_events"),
            F.count_distinct("session_id").alias("affected_sessions"),
            F.count_distinct("user_key").alias("affected_users"),
        )
        .transform(conform_to, GOLD_SCHEMAS["agg_errors_daily"])
    )
