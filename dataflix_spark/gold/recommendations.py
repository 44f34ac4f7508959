"""Do recommendations lead to plays? `agg_recommendations_daily`, `agg_recommendation_rank`.

An impression is one item of one list; it converts when the same user starts a player session on
that title within 24 hours after the list was shown, both ends included.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dataflix_spark.gold.qoe import ratio
from dataflix_spark.schemas import GOLD_SCHEMAS, conform_to

CONVERSION_WINDOW_HOURS = 24


def explode_impressions(recommendations: DataFrame) -> DataFrame:
    """One row per item of each list: `doc_id`, `position`, user, time, algorithm, surface, content, rank."""
    return recommendations.select(
        "doc_id", "user_key", "shown_at", "algorithm", "surface", F.posexplode("items").alias("position", "item")
    ).select(
        "doc_id", "position", "user_key", "shown_at", "algorithm", "surface",
        F.col("item.content_id").alias("content_id"), F.col("item.rank").alias("rank"),
    )


def with_conversion(sessions: DataFrame):
    """Adds `converted` to impressions, from `fact_playback_sessions`."""

    def transform(impressions: DataFrame) -> DataFrame:
        i = impressions.alias("i")
        s = sessions.select("user_key", "content_id", "session_start").alias("s")
        matched = (
            i.join(
                s,
                on=(F.col("i.user_key") == F.col("s.user_key"))
                & (F.col("i.content_id") == F.col("s.content_id"))
                & (F.col("s.session_start") >= F.col("i.shown_at"))
                & (F.col("s.session_start") <= F.col("i.shown_at") + F.expr(f"INTERVAL {CONVERSION_WINDOW_HOURS} HOURS")),
                how="left_semi",
            )
            .select("doc_id", "position")
            .withColumn("converted", F.lit(True))
        )
        return impressions.join(matched, on=["doc_id", "position"], how="left").withColumn(
            "converted", F.coalesce("converted", F.lit(False))
        )

    return transform


def conversion_counts(impressions: DataFrame) -> DataFrame:
    """Converted impressions → impressions and conversions per (date shown, algorithm, surface, rank).

    Both recommendation tables are sums over this grain, so a build joins lists to sessions once and
    derives them from these few rows (days × algorithms × surfaces × ranks).
    """
    return impressions.groupBy(F.to_date("shown_at").alias("date"), "algorithm", "surface", "rank").agg(
        F.count(F.lit(1)).alias("impressions"), F.count(F.when(F.col("converted"), True)).alias("conversions")
    )


def _summed(counts: DataFrame, keys: list[str]) -> DataFrame:
    return counts.groupBy(*keys).agg(
        F.sum("impressions").cast("long").alias("impressions"), F.sum("conversions").cast("long").alias("conversions")
    )


def recommendations_daily_from_counts(counts: DataFrame) -> DataFrame:
    """`conversion_counts` → `agg_recommendations_daily`: one row per (date shown, algorithm, surface)."""
    return (
        _summed(counts, ["date", "algorithm", "surface"])
        .withColumn("conversion_rate", ratio(F.col("conversions"), F.col("impressions")))
        .transform(conform_to, GOLD_SCHEMAS["agg_recommendations_daily"])
    )


def rank_daily_from_counts(counts: DataFrame) -> DataFrame:
    """`conversion_counts` → impressions and conversions per (date shown, algorithm, rank)."""
    return _summed(counts, ["date", "algorithm", "rank"])


def build_agg_recommendations_daily(impressions: DataFrame) -> DataFrame:
    """Converted impressions → one row per (date shown, algorithm, surface)."""
    return impressions.transform(conversion_counts).transform(recommendations_daily_from_counts)


def build_agg_recommendation_rank_daily(impressions: DataFrame) -> DataFrame:
    """Converted impressions → impressions and conversions per (date shown, algorithm, rank)."""
    return impressions.transform(conversion_counts).transform(rank_daily_from_counts)


def rollup_recommendation_rank(rank_daily: DataFrame) -> DataFrame:
    """Per-day rank counts → one row per (algorithm, rank): position bias over all days."""
    return (
        rank_daily.groupBy("algorithm", "rank")
        .agg(F.sum("impressions").alias("impressions"), F.sum("conversions").alias("conversions"))
        .withColumn("conversion_rate", ratio(F.col("conversions"), F.col("impressions")))
        .transform(conform_to, GOLD_SCHEMAS["agg_recommendation_rank"])
    )


def build_agg_recommendation_rank(impressions: DataFrame) -> DataFrame:
    """Converted impressions → one row per (algorithm, rank): position bias."""
    return impressions.transform(build_agg_recommendation_rank_daily).transform(rollup_recommendation_rank)
