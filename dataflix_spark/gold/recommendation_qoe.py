"""Do recommended plays stream and hold viewers as well as the rest? `agg_recommendation_qoe`.

A player session *follows a recommendation* when the same user was shown that title in a recommendation
list at most 24 hours before the session started, both ends included: the rule by which an impression
converts (metrics.md, "Recommendations"), read from the session's side.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from dataflix_spark.gold.percentiles import agg_percentiles
from dataflix_spark.gold.qoe import ratio
from dataflix_spark.gold.recommendations import CONVERSION_WINDOW_HOURS
from dataflix_spark.schemas import GOLD_SCHEMAS, conform_to

RECOMMENDED, OTHER = "recommended", "other"


def with_play_source(impressions: DataFrame):
    """Adds `play_source` ("recommended" / "other") to `fact_playback_sessions`, from exploded impressions."""

    def transform(sessions: DataFrame) -> DataFrame:
        s = sessions.select("session_id", "user_key", "content_id", "session_start").alias("s")
        i = impressions.select("user_key", "content_id", "shown_at").alias("i")
        window_end = F.col("i.shown_at") + F.expr(f"INTERVAL {CONVERSION_WINDOW_HOURS} HOURS")
        followed = (
            s.join(
                i,
                on=(F.col("s.user_key") == F.col("i.user_key"))
                & (F.col("s.content_id") == F.col("i.content_id"))
                & (F.col("s.session_start") >= F.col("i.shown_at"))
                & (F.col("s.session_start") <= window_end),
                how="left_semi",
            )
            .select("session_id")
            .withColumn("_recommended", F.lit(True))
        )
        return (
            sessions.join(followed, on="session_id", how="left")
            .withColumn("play_source", F.when(F.col("_recommended"), F.lit(RECOMMENDED)).otherwise(F.lit(OTHER)))
            .drop("_recommended")
        )

    return transform


def _rounded_ms(numerator: Column, denominator: Column) -> Column:
    """A whole-millisecond average (half up), null when there is nothing to average."""
    return F.round(ratio(numerator, denominator), 0).cast("long")


def build_agg_recommendation_qoe(sessions: DataFrame, impressions: DataFrame) -> DataFrame:
    """`fact_playback_sessions` + exploded impressions (`explode_impressions`) → one row per
    (session date, device type, play_source) with sessions, startup, rebuffering, watch time and completion."""
    keys = ["date", "device_type", "play_source"]
    labelled = sessions.transform(with_play_source(impressions)).withColumnRenamed("session_date", "date")
    totals = labelled.groupBy(*keys).agg(
        F.count(F.lit(1)).alias("sessions"),
        F.count("startup_time_ms").alias("sessions_with_startup"),
        F.sum("startup_time_ms").cast("long").alias("total_startup_ms"),
        F.sum("watch_time_ms").cast("long").alias("watch_time_ms"),
        F.sum("rebuffer_ms").cast("long").alias("rebuffer_ms"),
        F.count(F.when(F.col("completed"), True)).alias("completions"),
    )
    startup = agg_percentiles(labelled, keys, "startup_time_ms", {"startup_p90_ms": 900})
    return (
        totals.join(startup, on=keys, how="left")
        .withColumn("startup_avg_ms", _rounded_ms(F.col("total_startup_ms"), F.col("sessions_with_startup")))
        .withColumn("rebuffer_ratio", ratio(F.col("rebuffer_ms"), F.col("watch_time_ms") + F.col("rebuffer_ms")))
        .withColumn("avg_watch_time_ms", _rounded_ms(F.col("watch_time_ms"), F.col("sessions")))
        .withColumn("completion_rate", ratio(F.col("completions"), F.col("sessions")))
        .transform(conform_to, GOLD_SCHEMAS["agg_recommendation_qoe"])
    )
