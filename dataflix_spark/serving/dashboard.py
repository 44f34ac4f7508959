"""The local dashboard: gold tables → the small datasets its charts need → one self-contained HTML file.

The file embeds its data as JSON and draws every chart as inline SVG with a small vanilla-JS
renderer (resources/dashboard.js), so it opens offline and loads nothing from the network; its
Content-Security-Policy forbids any fetch. Filtering by month and device happens in the page.

Every dataset below is an aggregate of gold tables bounded by months, days, devices, error codes,
plans, algorithms, ranks, QoE buckets and play sources — and for titles by (months + 1) ×
(devices + 1) × `top_titles` — never by the number of events, sessions or users. Collecting them to the driver is therefore
safe at any data size; the aggregation itself runs in Spark.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from functools import partial
from importlib import resources
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from dataflix_spark.lakehouse import Lakehouse
from dataflix_spark.ops.concurrent import run_concurrently
from dataflix_spark.serving.kpis import headline_kpis
from dataflix_spark.sinks.delta import read_table

ALL = "all"  # the key of "every month" / "every device" in the per-filter datasets
TOP_TITLES = 10


def month_key(day: Column) -> Column:
    """'yyyy-MM' of a date: the month the page filters on."""
    return F.date_format(F.trunc(day, "month"), "yyyy-MM")


# --- pure transforms: gold → one chart dataset each ---------------------------------------------


def kpis_by_month(kpi_monthly: DataFrame) -> DataFrame:
    return kpi_monthly.select(
        month_key(F.col("month")).alias("month"), "revenue", "subscribers", "new_subscribers", "cancellations",
        F.col("content_count").alias("content"), "buffer_events", "playback_errors", "player_sessions",
    )


def buffers_by_month_device(buffering_daily: DataFrame) -> DataFrame:
    """Buffer events per (month, device): the Buffers card when a device is picked."""
    return buffering_daily.groupBy(month_key(F.col("date")).alias("month"), "device_type").agg(
        F.sum("buffer_events").alias("buffer_events")
    )


def errors_by_month_device_code(errors_daily: DataFrame) -> DataFrame:
    return errors_daily.groupBy(month_key(F.col("date")).alias("month"), "device_type", "error_code").agg(
        F.sum("error_events").alias("error_events"), F.sum("fatal_events").alias("fatal_events")
    )


def qoe_by_day_device(qoe_daily: DataFrame) -> DataFrame:
    """Startup p90 and rebuffer ratio per day and device (percentiles do not add up, so no rollup)."""
    return qoe_daily.select(
        F.date_format("date", "yyyy-MM-dd").alias("date"), month_key(F.col("date")).alias("month"), "device_type",
        "sessions", "watch_time_ms", "rebuffer_ms", "startup_p90_ms", "rebuffer_ratio",
    )


def plans_by_month(subscriptions_monthly: DataFrame) -> DataFrame:
    return subscriptions_monthly.select(
        month_key(F.col("month")).alias("month"), "plan", "subscribers_end", "new_subscribers", "mrr"
    )


def subscriptions_by_month(subscriptions_monthly: DataFrame, kpi_monthly: DataFrame) -> DataFrame:
    """Subscribers (distinct users, from `kpi_monthly`), churn rate and MRR per month, all plans."""
    by_month = subscriptions_monthly.groupBy("month").agg(
        F.sum("subscribers_start").alias("subscribers_start"),
        F.sum("churned").alias("churned"),
        F.sum("mrr").alias("mrr"),
    )
    return (
        by_month.join(kpi_monthly.select("month", "subscribers"), on="month", how="full")
        .withColumn(
            "churn_rate", F.when(F.col("subscribers_start") > 0, F.col("churned") / F.col("subscribers_start"))
        )
        .select(month_key(F.col("month")).alias("month"), "subscribers", "churned", "churn_rate", "mrr")
    )


def top_titles(playback_sessions: DataFrame, dim_content: DataFrame, n: int = TOP_TITLES) -> DataFrame:
    """The `n` titles with the most watch time for every (month or all, device or all), with completion rate.

    A cube computes every filter combination in one pass, so the page never adds up partial top lists.
    """
    # Aggregate first so the cube expands (month, device, title) rows, not sessions.
    by_title = playback_sessions.groupBy(
        month_key(F.col("session_date")).alias("month"), "device_type", "content_id"
    ).agg(
        F.count(F.lit(1)).alias("sessions"),
        F.sum("watch_time_ms").alias("watch_time_ms"),
        F.count(F.when(F.col("completed"), True)).alias("completions"),
    )
    cubed = by_title.cube("month", "device_type", "content_id").agg(
        F.sum("sessions").alias("sessions"),
        F.sum("watch_time_ms").alias("watch_time_ms"),
        F.sum("completions").alias("completions"),
        F.grouping("month").alias("_all_months"),
        F.grouping("device_type").alias("_all_devices"),
        F.grouping("content_id").alias("_all_titles"),
    )
    per_filter = cubed.where(F.col("_all_titles") == 0).select(
        F.when(F.col("_all_months") == 1, F.lit(ALL)).otherwise(F.col("month")).alias("month"),
        F.when(F.col("_all_devices") == 1, F.lit(ALL)).otherwise(F.col("device_type")).alias("device_type"),
        "content_id", "sessions", "watch_time_ms", "completions",
    )
    rank = F.row_number().over(
        Window.partitionBy("month", "device_type").orderBy(F.desc("watch_time_ms"), F.asc("content_id"))
    )
    titles = dim_content.select("content_id", "title")
    return (
        per_filter.withColumn("rank", rank)
        .where(F.col("rank") <= n)
        .join(titles, on="content_id", how="left")
        .select(
            "month", "device_type", "rank", "content_id", F.coalesce("title", "content_id").alias("title"),
            "sessions", "watch_time_ms", "completions",
            (F.col("completions") / F.col("sessions")).alias("completion_rate"),
        )
    )


def recommendations_by_month_algorithm(recommendations_daily: DataFrame) -> DataFrame:
    return recommendations_daily.groupBy(month_key(F.col("date")).alias("month"), "algorithm").agg(
        F.sum("impressions").alias("impressions"), F.sum("conversions").alias("conversions")
    )


def recommendations_by_rank(recommendation_rank: DataFrame) -> DataFrame:
    return recommendation_rank.select("algorithm", "rank", "impressions", "conversions", "conversion_rate")


def qoe_churn_by_month_bucket(qoe_churn_monthly: DataFrame) -> DataFrame:
    """Subscribers and churned per (month, QoE bucket), all plans; churned stays null in the as-of month."""
    return qoe_churn_monthly.groupBy(month_key(F.col("month")).alias("month"), "qoe_bucket").agg(
        F.sum("subscribers").alias("subscribers"), F.sum("churned").alias("churned")
    )


def revenue_at_risk_by_day_device(revenue_at_risk_daily: DataFrame) -> DataFrame:
    """Attributed MRR and subscribers at risk per (day, device), all plans: each subscriber under one device."""
    return revenue_at_risk_daily.groupBy(
        F.date_format("date", "yyyy-MM-dd").alias("date"), month_key(F.col("date")).alias("month"), "device_type"
    ).agg(
        F.sum("attributed_mrr_at_risk").alias("mrr_at_risk"),
        F.sum("attributed_subscribers_at_risk").alias("subscribers_at_risk"),
    )


def recommendation_qoe_by_month_device(recommendation_qoe: DataFrame) -> DataFrame:
    """The sums behind completion, rebuffer ratio and average startup per (month, device, play source)."""
    return recommendation_qoe.groupBy(month_key(F.col("date")).alias("month"), "device_type", "play_source").agg(
        *[F.sum(c).alias(c) for c in (
            "sessions", "completions", "watch_time_ms", "rebuffer_ms", "total_startup_ms", "sessions_with_startup"
        )]
    )


# --- the edges: read gold, collect the bounded datasets, write the file --------------------------


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(df: DataFrame, *order: str) -> list[dict[str, object]]:
    """The rows of a small aggregate (see the module docstring) as JSON-ready dicts, in a stable order."""
    return [{k: _plain(v) for k, v in row.asDict().items()} for row in df.orderBy(*order).collect()]


def dashboard_data(spark: SparkSession, lakehouse: str, top_n: int = TOP_TITLES,
                   headline: dict[str, object] | None = None) -> dict[str, object]:
    """Everything the page shows, as JSON-ready lists of small aggregates. `headline`: the lakehouse's
    `headline_kpis`, when the caller has them already.

    The datasets are collected side by side: each is a small query whose time is mostly the driver's (Delta's
    snapshot, planning), so one query's planning fills another's gaps."""
    lake = Lakehouse(lakehouse)

    def table(name: str) -> DataFrame:
        return read_table(spark, lake.gold(name))

    # Each dataset reads its tables in its own step: reading a Delta table loads its snapshot there and then.
    datasets = {
        "kpis": lambda: _records(kpis_by_month(table("kpi_monthly")), "month"),
        "buffers": lambda: _records(buffers_by_month_device(table("agg_buffering_daily")), "month", "device_type"),
        "errors": lambda: _records(
            errors_by_month_device_code(table("agg_errors_daily")), "month", "device_type", "error_code"
        ),
        "qoe": lambda: _records(qoe_by_day_device(table("agg_qoe_daily")), "date", "device_type"),
        "plans": lambda: _records(plans_by_month(table("agg_subscriptions_monthly")), "month", "plan"),
        "subscriptions": lambda: _records(
            subscriptions_by_month(table("agg_subscriptions_monthly"), table("kpi_monthly")), "month"
        ),
        "titles": lambda: _records(
            top_titles(table("fact_playback_sessions"), table("dim_content"), top_n), "month", "device_type", "rank"
        ),
        "recommendations": lambda: _records(
            recommendations_by_month_algorithm(table("agg_recommendations_daily")), "month", "algorithm"
        ),
        "recommendation_rank": lambda: _records(
            recommendations_by_rank(table("agg_recommendation_rank")), "algorithm", "rank"
        ),
        "qoe_churn": lambda: _records(qoe_churn_by_month_bucket(table("agg_qoe_churn_monthly")), "month", "qoe_bucket"),
        "revenue_at_risk": lambda: _records(
            revenue_at_risk_by_day_device(table("revenue_at_risk_daily")), "date", "device_type"
        ),
        "recommendation_qoe": lambda: _records(
            recommendation_qoe_by_month_device(table("agg_recommendation_qoe")), "month", "device_type", "play_source"
        ),
        "headline": (lambda: headline) if headline is not None else partial(headline_kpis, spark, lakehouse),
    }
    data = dict(zip(datasets, run_concurrently(spark, *datasets.values())))
    headline_plain = {k: _plain(v) for k, v in data.pop("headline").items()}
    return {
        "months": [row["month"] for row in data["kpis"]],
        "devices": sorted({row["device_type"] for row in data["qoe"] if row["device_type"]}),
        **data,
        "kpis": {ALL: headline_plain, "monthly": data["kpis"]},
        "top_n": top_n,
    }


def _resource(name: str) -> str:
    return (resources.files("dataflix_spark") / "resources" / name).read_text(encoding="utf-8")


def render_html(data: dict[str, object]) -> str:
    """The page: template + inline CSS and JS + the data as JSON (`<` escaped so no value can close the tag)."""
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=False).replace("<", "\\u003c")
    return (
        _resource("dashboard.html")
        .replace("/*__CSS__*/", _resource("dashboard.css"))
        .replace("/*__JS__*/", _resource("dashboard.js"))
        .replace("__DATAFLIX_DATA__", payload)
    )


def write_dashboard(spark: SparkSession, lakehouse: str, out: str | Path,
                    headline: dict[str, object] | None = None) -> Path:
    """Writes the dashboard of `lakehouse`'s gold tables to `out` (`headline`: as `dashboard_data`); returns its
    absolute path."""
    path = Path(out).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(dashboard_data(spark, lakehouse, headline=headline)), encoding="utf-8")
    return path
