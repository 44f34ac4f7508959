"""Builds every gold table from silver. Each table is written, then read back by the tables that
use it, so Delta (not a recomputed plan) is the hand-over between builders."""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dataflix_spark.gold.content import build_agg_content_daily, build_dim_content
from dataflix_spark.gold.dashboard import build_dim_date, build_dim_user, build_kpi_monthly
from dataflix_spark.gold.engagement_sessions import build_fact_engagement_sessions
from dataflix_spark.gold.playback_sessions import build_fact_playback_sessions
from dataflix_spark.gold.qoe import build_agg_buffering_daily, build_agg_errors_daily, build_agg_qoe_daily
from dataflix_spark.gold.recommendations import (
    build_agg_recommendation_rank,
    build_agg_recommendations_daily,
    explode_impressions,
    with_conversion,
)
from dataflix_spark.gold.subscriptions import build_agg_subscriptions_monthly, build_fact_subscriptions
from dataflix_spark.lakehouse import Lakehouse
from dataflix_spark.ops.progress import Progress
from dataflix_spark.sinks.delta import overwrite_table, read_table

GOLD_TABLES = (
    "dim_content", "fact_playback_sessions", "fact_engagement_sessions", "agg_qoe_daily",
    "agg_buffering_daily", "agg_errors_daily", "agg_content_daily", "fact_subscriptions",
    "agg_subscriptions_monthly", "agg_recommendations_daily", "agg_recommendation_rank",
    "kpi_monthly", "dim_user", "dim_date",
)


def build_all(spark: SparkSession, lake: Lakehouse, as_of: dt.date, progress: Progress) -> None:
    """Silver → every gold table of metrics.md (overwritten in full)."""

    def silver(container: str) -> DataFrame:
        return read_table(spark, lake.silver(container))

    def publish(name: str, df: DataFrame) -> DataFrame:
        overwrite_table(df, lake.gold(name))
        progress.stage(f"gold {name} written")
        return read_table(spark, lake.gold(name))

    events = silver("playback_events")
    dim_content = publish("dim_content", build_dim_content(silver("content")))
    sessions = publish("fact_playback_sessions", build_fact_playback_sessions(events, dim_content))
    engagement = publish("fact_engagement_sessions", build_fact_engagement_sessions(sessions))
    publish("agg_qoe_daily", build_agg_qoe_daily(sessions))
    buffering = publish("agg_buffering_daily", build_agg_buffering_daily(events))
    errors = publish("agg_errors_daily", build_agg_errors_daily(events))
    publish("agg_content_daily", build_agg_content_daily(sessions))

    subscriptions = publish("fact_subscriptions", build_fact_subscriptions(silver("subscriptions")))
    monthly = publish("agg_subscriptions_monthly", build_agg_subscriptions_monthly(subscriptions, as_of))

    recommendations = silver("recommendations")
    impressions = explode_impressions(recommendations).transform(with_conversion(sessions))
    recs_daily = publish("agg_recommendations_daily", build_agg_recommendations_daily(impressions))
    publish("agg_recommendation_rank", build_agg_recommendation_rank(impressions))

    kpi = publish(
        "kpi_monthly", build_kpi_monthly(subscriptions, monthly, sessions, events, dim_content, as_of)
    )
    publish("dim_user", build_dim_user(subscriptions, events, recommendations, as_of))
    dates = [
        sessions.select("session_date"),
        engagement.select("engagement_date"),
        buffering.select("date"),
        errors.select("date"),
        subscriptions.select("start_date"),
        subscriptions.select("end_date"),
        subscriptions.select(F.to_date("cancelled_at")),
        recs_daily.select("date"),
        kpi.select("month"),
    ]
    publish("dim_date", build_dim_date(dates, as_of))
