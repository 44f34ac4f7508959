"""Headline KPIs from the gold tables, as the original DataFlix dashboard's cards showed them."""
from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from dataflix_spark.lakehouse import Lakehouse
from dataflix_spark.sinks.delta import read_table


def headline_kpis(spark: SparkSession, lakehouse: str) -> dict[str, object]:
    """Revenue, content, subscribers (latest month), new subscribers, cancellations, buffers — all time.

    One aggregated row, so collecting it is safe at any data size.
    """
    lake = Lakehouse(lakehouse)
    kpi = read_table(spark, lake.gold("kpi_monthly"))
    totals = kpi.agg(
        F.sum("revenue").alias("revenue"),
        F.max("content_count").alias("content"),
        F.max_by("subscribers", "month").alias("subscribers"),
        F.sum("new_subscribers").alias("new_subscribers"),
        F.sum("cancellations").alias("cancellations"),
        F.sum("buffer_events").alias("buffer_events"),
    ).head()
    return totals.asDict()


def format_kpis(kpis: dict[str, object]) -> str:
    revenue = kpis.get("revenue") or 0
    lines = [
        "DataFlix headline KPIs",
        f"  Revenue           ${revenue:,.2f}",
        f"  Content           {kpis.get('content') or 0:,}",
        f"  Subscribers       {kpis.get('subscribers') or 0:,} (as-of month)",
        f"  New subscribers   {kpis.get('new_subscribers') or 0:,}",
        f"  Cancellations     {kpis.get('cancellations') or 0:,}",
        f"  Buffer events     {kpis.get('buffer_events') or 0:,}",
    ]
    return "\n".join(lines)
