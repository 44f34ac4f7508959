"""`fact_playback_sessions`: one row per player session (`sessionId`), from its ordered events."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from dataflix_spark.schemas import GOLD_SCHEMAS, conform_to


def _ms_between(later: Column, earlier: Column) -> Column:
    return F.unix_millis(later) - F.unix_millis(earlier)


def with_event_order(events: DataFrame) -> DataFrame:
    """Orders each session's events by (timestamp, id): `seq`, the next event's time, the first play's `seq`."""
    session = Window.partitionBy("session_id")
    in_order = session.orderBy("event_ts", "doc_id")
    return (
        events.withColumn("seq", F.row_number().over(in_order))
        .withColumn("next_ts", F.lead("event_ts").over(in_order))
        .withColumn("first_play_seq", F.min(F.when(F.col("event_type") == "play", F.col("seq"))).over(session))
    )


def with_playing_intervals(ordered: DataFrame) -> DataFrame:
    """Flags rebuffers (buffers after the first play) and the time each play/rebuffer lasts until the next event."""
    is_rebuffer = (F.col("event_type") == "buffer") & (F.col("seq") > F.col("first_play_seq"))
    plays_until_next = (F.col("event_type") == "play") | is_rebuffer
    return ordered.withColumn("is_rebuffer", F.coalesce(is_rebuffer, F.lit(False))).withColumn(
        "playing_ms", F.when(plays_until_next, _ms_between(F.col("next_ts"), F.col("event_ts")))
    )


def _has(event_type: str) -> Column:
    return F.max(F.col("event_type") == event_type)


def _count(event_type: str) -> Column:
    return F.count(F.when(F.col("event_type") == event_type, True))


def agg_sessions(intervals: DataFrame) -> DataFrame:
    """One row per session with the counts and times metrics.md defines."""
    first_start = F.min(F.when(F.col("event_type") == "start", F.col("event_ts")))
    first_play = F.min(F.when(F.col("event_type") == "play", F.col("event_ts")))
    rebuffer_ms = F.coalesce(F.sum(F.when(F.col("is_rebuffer"), F.col("buffer_time_ms"))), F.lit(0))
    playing_ms = F.coalesce(F.sum("playing_ms"), F.lit(0))
    return intervals.groupBy("session_id").agg(
        F.min_by("user_key", "seq").alias("user_key"),
        F.min_by("content_id", "seq").alias("content_id"),
        F.min_by("device_type", "seq").alias("device_type"),
        F.min("event_ts").alias("session_start"),
        F.max("event_ts").alias("session_end"),
        _ms_between(first_play, first_start).alias("startup_diff_ms"),
        F.count(F.when(F.col("is_rebuffer"), True)).alias("rebuffer_count"),
        rebuffer_ms.cast("long").alias("rebuffer_ms"),
        playing_ms.cast("long").alias("playing_ms"),
        _count("pause").alias("pause_count"),
        _count("error").alias("error_count"),
        F.coalesce(F.max((F.col("event_type") == "error") & F.col("fatal")), F.lit(False)).alias("fatal_error"),
        _has("start").alias("has_start"),
        _has("play").alias("has_play"),
        _has("error").alias("has_error"),
        _has("stop").alias("has_stop"),
        F.max("position_sec").alias("max_position_sec"),
    )


def with_session_measures(content: DataFrame):
    """Derived columns: startup time, watch time, exit before start, completion, how the session ended."""

    def transform(sessions: DataFrame) -> DataFrame:
        durations = content.select("content_id", "duration_sec")
        startup = F.col("startup_diff_ms")
        # position >= 0.9 * duration, in exact arithmetic for whole-second durations.
        completed = F.col("max_position_sec") * 10 >= F.col("duration_sec") * 9
        return (
            sessions.join(F.broadcast(durations), on="content_id", how="left")
            .withColumn("session_date", F.to_date("session_start"))
            .withColumn("startup_time_ms", F.when(startup >= 0, startup))
            .withColumn("watch_time_ms", F.greatest(F.lit(0), F.col("playing_ms") - F.col("rebuffer_ms")).cast("long"))
            .withColumn("exited_before_start", F.col("has_start") & ~F.col("has_play") & ~F.col("has_error"))
            .withColumn("completed", F.coalesce(completed, F.lit(False)))
            .withColumn(
                "ended_by",
                F.when(F.col("fatal_error"), "error").when(F.col("has_stop"), "stop").otherwise("abandoned"),
            )
        )

    return transform


def build_fact_playback_sessions(events: DataFrame, content: DataFrame) -> DataFrame:
    """Silver playback events (+ catalogue durations) → `fact_playback_sessions`."""
    return (
        events.transform(with_event_order)
        .transform(with_playing_intervals)
        .transform(agg_sessions)
        .transform(with_session_measures(content))
        .transform(conform_to, GOLD_SCHEMAS["fact_playback_sessions"])
    )
