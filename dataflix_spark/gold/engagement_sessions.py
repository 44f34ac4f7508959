"""`fact_engagement_sessions`: a user's viewing session across titles and devices."""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from dataflix_spark.schemas import GOLD_SCHEMAS, conform_to

ENGAGEMENT_GAP_MINUTES = 30



def _user_in_order():
    return Window.partitionBy("user_key").orderBy("session_start", "session_id")


def with_engagement_number(sessions: DataFrame) -> DataFrame:
    """Numbers each user's engagement sessions: a player session opens a new one when it starts
    more than 30 minutes after the latest end seen so far.

    With sessions ordered by start, the latest end over *all* earlier sessions equals the latest
    end in the current engagement session, so one running max needs no recursion.
    """
    latest_end_before = F.max("session_end").over(_user_in_order().rowsBetween(Window.unboundedPreceding, -1))
    opens = latest_end_before.isNull() | (F.col("session_start") > latest_end_before + F.expr(f"INTERVAL {ENGAGEMENT_GAP_MINUTES} MINUTES"))
    return sessions.withColumn("opens", opens.cast("int")).withColumn(
        "engagement_number", F.sum("opens").over(_user_in_order().rowsBetween(Window.unboundedPreceding, 0))
    )


def agg_engagement_sessions(numbered: DataFrame) -> DataFrame:
    """One row per (user, engagement number)."""
    grouped = numbered.groupBy("user_key", "engagement_number").agg(
        # The first player session's id is unique and stable for the same data.
        F.min_by("session_id", F.struct("session_start", "session_id")).alias("first_session_id"),
        F.min("session_start").alias("engagement_start"),
        F.max("session_end").alias("engagement_end"),
        F.count(F.lit(1)).alias("player_sessions"),
        F.count_distinct("content_id").alias("titles"),
        F.count_distinct("device_type").alias("devices"),
        F.sum("watch_time_ms").cast("long").alias("watch_time_ms"),
    )
    return (
        grouped.withColumn("engagement_session_id", F.sha2(F.concat_ws("|", "user_key", "first_session_id"), 256))
        .withColumn("engagement_date", F.to_date("engagement_start"))
        .withColumn("duration_ms", F.unix_millis("engagement_end") - F.unix_millis("engagement_start"))
        .transform(conform_to, GOLD_SCHEMAS["fact_engagement_sessions"])
    )


def build_fact_engagement_sessions(playback_sessions: DataFrame) -> DataFrame:
    """`fact_playback_sessions` → `fact_engagement_sessions`."""
    return playback_sessions.transform(with_engagement_number).transform(agg_engagement_sessions)
