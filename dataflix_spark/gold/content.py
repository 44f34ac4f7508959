"""The catalogue and how it is watched: `dim_content`, `agg_content_daily`."""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from dataflix_spark.gold.qoe import ratio
from dataflix_spark.schemas import GOLD_SCHEMAS, conform_to


def build_dim_content(content: DataFrame) -> DataFrame:
    """Silver content → one row per `content_id` (its newest document when several ids share it)."""
    newest = Window.partitionBy("content_id").orderBy(F.col("cosmos_ts").desc_nulls_last(), F.col("doc_id"))
    genres = F.filter("genres", lambda g: g.isNotNull())
    return (
        content.withColumn("_rank", F.row_number().over(newest))
        .where(F.col("_rank") == 1)
        .withColumn("primary_genre", F.element_at(genres, 1))
        .withColumn("genres", F.array_join(genres, ", "))
        .transform(conform_to, GOLD_SCHEMAS["dim_content"])
    )


def build_agg_content_daily(sessions: DataFrame) -> DataFrame:
    """`fact_playback_sessions` → one row per (session date, content id)."""
    return (
        sessions.groupBy(F.col("session_date").alias("date"), "content_id")
        .agg(
            F.count(F.lit(1)).alias("sessions"),
            F.count_distinct("user_key").alias("viewers"),
            F.sum("watch_time_ms").cast("long").alias("watch_time_ms"),
            F.count(F.when(F.col("completed"), True)).alias("completions"),
        )
        .withColumn("completion_rate", ratio(F.col("completions"), F.col("sessions")))
        .transform(conform_to, GOLD_SCHEMAS["agg_content_daily"])
    )
