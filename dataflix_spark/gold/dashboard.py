"""Dashboard tables: `kpi_monthly`, `dim_user`, `dim_date`."""
from __future__ import annotations

import datetime as dt
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dataflix_spark.gold.subscriptions import active_on, month_grid, month_of, subscription_months
from dataflix_spark.schemas import GOLD_SCHEMAS, MONEY_SUM, conform_to


def _sum_by_month(daily: DataFrame, column: str, name: str) -> DataFrame:
    return daily.groupBy(month_of(F.col("date")).alias("month")).agg(F.sum(column).cast("long").alias(name))


def build_kpi_monthly(
    fact_subscriptions: DataFrame,
    subscriptions_monthly: DataFrame,
    qoe_daily: DataFrame,
    buffering_daily: DataFrame,
    errors_daily: DataFrame,
    dim_content: DataFrame,
    as_of: dt.date,
) -> DataFrame:
    """One row per month from the earliest subscription start or playback event to the as-of month.

    Counts are sums of the daily aggregates, not passes over sessions and events: player sessions of
    `agg_qoe_daily` (by session date, the date of `session_start`), buffer and error events of
    `agg_buffering_daily` and `agg_errors_daily` (by event date). Every event has a session that starts
    no later than it, so the earliest session date is the earliest event's."""
    first_months = fact_subscriptions.select(month_of(F.col("start_date")).alias("month")).unionByName(
        qoe_daily.select(month_of(F.col("date")).alias("month"))
    )
    by_plan = subscriptions_monthly.groupBy("month").agg(
        F.sum("revenue").cast(MONEY_SUM).alias("revenue"),
        F.sum("new_subscribers").alias("new_subscribers"),
        F.sum("cancellations").alias("cancellations"),
    )
    subscribers = (
        subscription_months(fact_subscriptions, as_of)
        .groupBy("month")
        .agg(F.count_distinct(F.when(F.col("active_last"), F.col("user_key"))).alias("subscribers"))
    )
    measures = [
        by_plan,
        subscribers,
        _sum_by_month(qoe_daily, "sessions", "player_sessions"),
        _sum_by_month(buffering_daily, "buffer_events", "buffer_events"),
        _sum_by_month(errors_daily, "error_events", "playback_errors"),
    ]
    table = reduce(lambda left, m: left.join(m, on="month", how="left"), measures, month_grid(first_months, as_of))
    content_count = dim_content.agg(F.count(F.lit(1)).alias("content_count"))
    return (
        table.crossJoin(content_count)
        .fillna(0, subset=["subscribers", "new_subscribers", "cancellations", "player_sessions", "buffer_events", "playback_errors"])
        .withColumn("revenue", F.coalesce("revenue", F.lit(0).cast(MONEY_SUM)))
        .transform(conform_to, GOLD_SCHEMAS["kpi_monthly"])
    )


def latest_event_country(events: DataFrame) -> DataFrame:
    """One row per user with events: their latest event (by timestamp, id) that has a country — its
    `event_ts`, `doc_id` and `country`, all null when none has. Applied to its own rows plus new events,
    it gives the same rows as over all events, so an incremental run need not read every event."""
    has_country = F.when(F.col("country").isNotNull(), F.struct("event_ts", "doc_id"))
    # max_by skips null orderings: only events with a country compete.
    latest = F.max_by(F.struct("event_ts", "doc_id", "country"), has_country)
    return events.groupBy("user_key").agg(latest.alias("latest")).select(
        "user_key", "latest.event_ts", "latest.doc_id", "latest.country"
    )


def lists_per_user(recommendations: DataFrame) -> DataFrame:
    """One row per user with recommendation lists: `user_key`, `lists` (how many). Counts add up, so an
    incremental run adds the changed lists' +1 / -1 to the stored rows instead of reading every list."""
    return recommendations.groupBy("user_key").agg(F.count(F.lit(1)).alias("lists"))


def build_dim_user(
    fact_subscriptions: DataFrame, event_countries: DataFrame, list_users: DataFrame, as_of: dt.date
) -> DataFrame:
    """One row per user seen in any container. Country: the latest subscription's, else the latest event's.

    `event_countries` is `latest_event_country` of the playback events: a row per user with events;
    `list_users` has a `user_key` per user with a recommendation list (`lists_per_user`, or the lists)."""
    users = (
        fact_subscriptions.select("user_key")
        .unionByName(event_countries.select("user_key"))
        .unionByName(list_users.select("user_key"))
        .distinct()
    )
    from_subscriptions = fact_subscriptions.groupBy("user_key").agg(
        F.max_by("country", F.struct("start_date", "subscription_id")).alias("subscription_country"),
        F.min("start_date").alias("first_subscription_date"),
        # max_by skips null orderings: only subscriptions active on the as-of date compete.
        F.max_by("plan", F.when(active_on(F.lit(as_of)), F.col("start_date"))).alias("current_plan"),
    )
    from_events = event_countries.select("user_key", F.col("country").alias("event_country"))
    return (
        users.join(from_subscriptions, on="user_key", how="left")
        .join(from_events, on="user_key", how="left")
        .withColumn("country", F.coalesce("subscription_country", "event_country"))
        .withColumn("is_subscriber", F.col("current_plan").isNotNull())
        .transform(conform_to, GOLD_SCHEMAS["dim_user"])
    )


def build_dim_date(date_columns: list[DataFrame], as_of: dt.date) -> DataFrame:
    """One row per date from the earliest to the latest date of `date_columns` (single-column
    DataFrames of dates), and the as-of date."""
    dates = reduce(
        lambda a, b: a.unionByName(b),
        [df.toDF("date") for df in date_columns],
    )
    bounds = dates.agg(
        F.least(F.min("date"), F.lit(as_of)).alias("first"), F.greatest(F.max("date"), F.lit(as_of)).alias("last")
    )
    day_of_week = F.weekday("date") + 1  # weekday(): 0 = Monday
    return (
        bounds.select(F.explode(F.sequence("first", "last", F.expr("INTERVAL 1 DAY"))).alias("date"))
        .withColumn("year", F.year("date"))
        .withColumn("month", month_of(F.col("date")))
        .withColumn("month_name", F.date_format("date", "MMMM"))
        .withColumn("day_of_week", day_of_week)
        .withColumn("is_weekend", day_of_week >= 6)
        .transform(conform_to, GOLD_SCHEMAS["dim_date"])
    )
