"""Headline KPIs from the gold tables, as the original DataFlix dashboard's cards showed them."""
from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from dataflix_spark.lakehouse import Lakehouse
from dataflix_spark.sinks.delta import read_table


def headline_kpis(spark: SparkSession, lakehouse: str) -> dict[str, object]:
    """Revenue, content, subscribers (latest month), new subscribers, cancellations, buffers — all time; with
    the months they cover (`first_month`, `last_month`; `first_playback_month`, `last_playback_month`).

    One aggregated row, so collecting it is safe at any data size.
    """
    lake = Lakehouse(lakehouse)
    kpi = read_table(spark, lake.gold("kpi_monthly"))
    played = F.when(F.col("player_sessions") > 0, F.col("month"))
    totals = kpi.agg(
        F.sum("revenue").alias("revenue"),
        F.max("content_count").alias("content"),
        F.max_by("subscribers", "month").alias("subscribers"),
        F.sum("new_subscribers").alias("new_subscribers"),
        F.sum("cancellations").alias("cancellations"),
        F.sum("buffer_events").alias("buffer_events"),
        F.min("month").alias("first_month"),
        F.max("month").alias("last_month"),
        F.min(played).alias("first_playback_month"),
        F.max(played).alias("last_playback_month"),
    ).head()
    return totals.asDict()


def _months(first, last) -> str:
    if first is None:
        return "no months"
    return f"{first:%Y-%m}" if first == last else f"{first:%Y-%m} to {last:%Y-%m}"


def format_kpis(kpis: dict[str, object]) -> str:
    """The KPI lines, each saying which period it covers."""
    revenue = kpis.get("revenue") or 0
    every_month = f"all months, {_months(kpis.get('first_month'), kpis.get('last_month'))}"
    playback = f"months with playback, {_months(kpis.get('first_playback_month'), kpis.get('last_playback_month'))}"
    as_of_month = f"{kpis['last_month']:%Y-%m}" if kpis.get("last_month") else "the as-of month"
    rows = [
        ("Revenue", f"${revenue:,.2f}", every_month),
        ("Content", f"{kpis.get('content') or 0:,}", "titles in the catalogue"),
        ("Subscribers", f"{kpis.get('subscribers') or 0:,}", f"at the end of the as-of month {as_of_month} "
                                                              "(on the as-of date)"),
        ("New subscribers", f"{kpis.get('new_subscribers') or 0:,}", every_month),
        ("Cancellations", f"{kpis.get('cancellations') or 0:,}", every_month),
        ("Buffer events", f"{kpis.get('buffer_events') or 0:,}", playback),
    ]
    return "\n".join(["DataFlix headline KPIs"] + [f"  {name:<18}{value:<14}{period}" for name, value, period in rows])
