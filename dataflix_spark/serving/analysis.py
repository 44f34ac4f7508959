"""Analyses behind the notebooks (notebooks/): pure DataFrame → DataFrame transforms over gold tables.

Each returns an aggregate bounded by devices, titles, plans, months or dates (or a `limit`), so a
notebook may display it (`.toPandas()`) without pulling event-level data to the driver.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dataflix_spark.gold.percentiles import agg_percentiles
from dataflix_spark.gold.subscriptions import month_of, subscription_months
from dataflix_spark.lakehouse import Lakehouse
from dataflix_spark.sinks.delta import read_table

REBUFFER_PERCENTILES = {"rebuffer_p50_ms": 500, "rebuffer_p90_ms": 900, "rebuffer_p95_ms": 950, "rebuffer_p99_ms": 990}


def read_gold(spark: SparkSession, lakehouse: str, table: str) -> DataFrame:
    """A gold table of the lakehouse (a local folder, abfss://, dbfs:/ …)."""
    return read_table(spark, Lakehouse(lakehouse).gold(table))


def latest_as_of(spark: SparkSession, lakehouse: str) -> dt.date:
    """The as-of date of the lakehouse's latest run (from `ops/run_log`): what gold was computed for."""
    run_log = read_table(spark, Lakehouse(lakehouse).ops("run_log"))
    return run_log.agg(F.max_by("as_of", "finished_at").alias("as_of")).head()["as_of"]


def with_titles(df: DataFrame, dim_content: DataFrame) -> DataFrame:
    """Adds `title` (the content id when the catalogue does not know it)."""
    titles = dim_content.select("content_id", F.col("title").alias("_title"))
    return (
        df.join(titles, on="content_id", how="left")
        .withColumn("title", F.coalesce("_title", "content_id"))
        .drop("_title")
    )


def _ratio(numerator: str, denominator: str) -> F.Column:
    return F.when(F.col(denominator) > 0, F.col(numerator) / F.col(denominator))


# --- quality of experience ------------------------------------------------------------------------


def session_buffering_percentiles(playback_sessions: DataFrame, by: list[str]) -> DataFrame:
    """Per group of `by` (e.g. ["device_type"], ["content_id"]): sessions, the share that rebuffered,
    the rebuffer ratio, and exact nearest-rank percentiles of a session's rebuffering time."""
    totals = playback_sessions.groupBy(*by).agg(
        F.count(F.lit(1)).alias("sessions"),
        F.count(F.when(F.col("rebuffer_count") > 0, True)).alias("rebuffered_sessions"),
        F.sum("watch_time_ms").alias("watch_time_ms"),
        F.sum("rebuffer_ms").alias("rebuffer_ms"),
    )
    percentiles = agg_percentiles(playback_sessions, by, "rebuffer_ms", REBUFFER_PERCENTILES)
    return (
        totals.join(percentiles, on=by, how="left")
        .withColumn("rebuffered_share", F.col("rebuffered_sessions") / F.col("sessions"))
        .withColumn("played_ms", F.col("watch_time_ms") + F.col("rebuffer_ms"))
        .withColumn("rebuffer_ratio", _ratio("rebuffer_ms", "played_ms"))
        .select(*by, "sessions", "rebuffered_share", "rebuffer_ratio", *REBUFFER_PERCENTILES)
    )


def worst_sessions(playback_sessions: DataFrame, dim_content: DataFrame, n: int = 10) -> DataFrame:
    """The `n` sessions with the most rebuffering time (then most rebuffers), with their title."""
    order = [F.desc("rebuffer_ms"), F.desc("rebuffer_count"), F.asc("session_id")]
    worst = playback_sessions.orderBy(*order).limit(n)
    return (
        worst.transform(with_titles, dim_content)
        .withColumn("played_ms", F.col("watch_time_ms") + F.col("rebuffer_ms"))
        .withColumn("rebuffer_ratio", _ratio("rebuffer_ms", "played_ms"))
        .select(
            "session_id", "session_date", "device_type", "title", "startup_time_ms", "watch_time_ms",
            "rebuffer_count", "rebuffer_ms", "rebuffer_ratio", "ended_by",
        )
        .orderBy(*order)
    )


# --- subscriptions and churn ----------------------------------------------------------------------


def cohort_retention(fact_subscriptions: DataFrame, as_of: dt.date) -> DataFrame:
    """One row per (cohort month, months since): a cohort is the users whose first subscription starts
    in that month; a user is retained in month k when they are a subscriber on its last day (or the
    as-of date). Every month from the cohort's to the as-of month is present, zero-filled."""
    cohorts = fact_subscriptions.groupBy("user_key").agg(month_of(F.min("start_date")).alias("cohort_month"))
    sizes = cohorts.groupBy("cohort_month").agg(F.count(F.lit(1)).alias("cohort_users"))
    months_since = F.months_between(F.col("month"), F.col("cohort_month")).cast("int")
    retained = (
        subscription_months(fact_subscriptions, as_of)
        .where("active_last")
        .select("user_key", "month")
        .distinct()
        .join(cohorts, on="user_key", how="inner")
        .groupBy("cohort_month", months_since.alias("months_since"))
        .agg(F.count(F.lit(1)).alias("retained_users"))
    )
    span = F.months_between(F.lit(as_of.replace(day=1)), F.col("cohort_month")).cast("int")
    grid = sizes.withColumn("months_since", F.explode(F.sequence(F.lit(0), span)))
    return (
        grid.join(retained, on=["cohort_month", "months_since"], how="left")
        .fillna(0, subset=["retained_users"])
        .withColumn("retention_rate", F.col("retained_users") / F.col("cohort_users"))
        .select("cohort_month", "months_since", "cohort_users", "retained_users", "retention_rate")
    )


def churn_by_plan(subscriptions_monthly: DataFrame) -> DataFrame:
    """Per plan over every month but the as-of (last) one, where churn is not counted: subscribers on
    the 1st, churned, cancellations, new subscribers and the pooled monthly churn rate."""
    last_month = subscriptions_monthly.agg(F.max("month").alias("_last_month"))
    return (
        subscriptions_monthly.crossJoin(last_month)
        .where(F.col("month") < F.col("_last_month"))
        .groupBy("plan")
        .agg(
            F.sum("subscribers_start").alias("subscribers_start"),
            F.sum("churned").alias("churned"),
            F.sum("cancellations").alias("cancellations"),
            F.sum("new_subscribers").alias("new_subscribers"),
        )
        .withColumn("monthly_churn_rate", _ratio("churned", "subscribers_start"))
    )


# --- engagement and recommendations ---------------------------------------------------------------


def engagement_by_day(engagement_sessions: DataFrame, dim_date: DataFrame) -> DataFrame:
    """Per date: engagement sessions, active users, average length, titles and player sessions per
    engagement session, the share spanning devices, watch hours; with the day of week."""
    daily = engagement_sessions.groupBy(F.col("engagement_date").alias("date")).agg(
        F.count(F.lit(1)).alias("engagement_sessions"),
        F.count_distinct("user_key").alias("users"),
        (F.avg("duration_ms") / 60_000).alias("avg_minutes"),
        F.avg("player_sessions").alias("avg_player_sessions"),
        F.avg("titles").alias("avg_titles"),
        F.avg(F.when(F.col("devices") > 1, 1.0).otherwise(0.0)).alias("multi_device_share"),
        (F.sum("watch_time_ms") / 3_600_000).alias("watch_hours"),
    )
    return daily.join(dim_date.select("date", "day_of_week", "is_weekend"), on="date", how="left")


def watch_by_genre(playback_sessions: DataFrame, dim_content: DataFrame) -> DataFrame:
    """Per primary genre ('unknown' for titles not in the catalogue): sessions, viewers, watch hours,
    completion rate."""
    genres = dim_content.select("content_id", "primary_genre")
    return (
        playback_sessions.join(genres, on="content_id", how="left")
        .withColumn("primary_genre", F.coalesce("primary_genre", F.lit("unknown")))
        .groupBy("primary_genre")
        .agg(
            F.count(F.lit(1)).alias("sessions"),
            F.count_distinct("user_key").alias("viewers"),
            (F.sum("watch_time_ms") / 3_600_000).alias("watch_hours"),
            F.avg(F.col("completed").cast("double")).alias("completion_rate"),
        )
    )


def recommendation_conversion(recommendations_daily: DataFrame, by: list[str]) -> DataFrame:
    """Impressions, conversions and conversion rate of `agg_recommendations_daily` per group of `by`."""
    return (
        recommendations_daily.groupBy(*by)
        .agg(F.sum("impressions").alias("impressions"), F.sum("conversions").alias("conversions"))
        .withColumn("conversion_rate", _ratio("conversions", "impressions"))
    )
