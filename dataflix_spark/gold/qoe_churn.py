"""Quality of experience joined to billing: `agg_qoe_churn_monthly` and `revenue_at_risk_daily`.

A viewer's experience over a period (a calendar month, or the 7 days ending on a date) falls in the
first bucket that applies (thresholds from `QoeThresholds`, a value must be strictly above one):

  fatal_failure     a player session with `fatal_error`
  high_rebuffering  sum(rebuffer_ms) / (sum(watch_time_ms) + sum(rebuffer_ms)) above `rebuffer_ratio`
  slow_startup      nearest-rank p90 of `startup_time_ms` above `startup_p90_ms`
  good              played, none of the above (sessions that never started playing included)
  no_playback       no player session in the period (only the monthly table shows it)

docs/metrics-extra.md defines both tables column by column.
"""
from __future__ import annotations

import datetime as dt
from fractions import Fraction

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from dataflix_spark.config import QoeThresholds
from dataflix_spark.gold.percentiles import nearest_rank
from dataflix_spark.gold.qoe import ratio
from dataflix_spark.gold.subscriptions import month_grid, month_of, month_start_churn, subscription_months
from dataflix_spark.schemas import DEVICE_TYPES, GOLD_SCHEMAS, MONEY_SUM, PLANS, conform_to

BUCKETS = ("fatal_failure", "high_rebuffering", "slow_startup", "good", "no_playback")
POOR_BUCKETS = BUCKETS[:3]
RISK_WINDOW_DAYS = 7
_EXACT = "decimal(38,0)"


def _above_ratio(numerator: Column, denominator: Column, threshold: float) -> Column:
    """numerator / denominator > threshold, in exact integer arithmetic (a ratio of exactly 2 % is not above 2 %)."""
    limit = Fraction(str(threshold))  # 0.02 → 1/50, exactly as written in the config
    return numerator.cast(_EXACT) * F.lit(limit.denominator).cast(_EXACT) > denominator.cast(_EXACT) * F.lit(
        limit.numerator
    ).cast(_EXACT)


def qoe_bucket(thresholds: QoeThresholds) -> Column:
    """The bucket of a group with `any_fatal`, `watch_time_ms`, `rebuffer_ms` and `startup_p90_ms`."""
    played_ms = F.col("watch_time_ms") + F.col("rebuffer_ms")
    return (
        F.when(F.col("any_fatal"), F.lit("fatal_failure"))
        .when(_above_ratio(F.col("rebuffer_ms"), played_ms, thresholds.rebuffer_ratio), F.lit("high_rebuffering"))
        .when(F.col("startup_p90_ms") > F.lit(thresholds.startup_p90_ms), F.lit("slow_startup"))
        .otherwise(F.lit("good"))
    )


def experience(sessions: DataFrame, keys: list[str], thresholds: QoeThresholds) -> DataFrame:
    """`fact_playback_sessions` rows → one row per `keys` group (one user's sessions over a period: few):
    `sessions`, `qoe_bucket` (never no_playback)."""
    totals = sessions.groupBy(*keys).agg(
        F.count(F.lit(1)).alias("sessions"),
        F.coalesce(F.max("fatal_error"), F.lit(False)).alias("any_fatal"),
        F.sum("watch_time_ms").cast("long").alias("watch_time_ms"),
        F.sum("rebuffer_ms").cast("long").alias("rebuffer_ms"),
        F.sort_array(F.collect_list("startup_time_ms")).alias("_startups"),
    )
    return (
        totals.withColumn("startup_p90_ms", nearest_rank("_startups", 900)).drop("_startups")
        .withColumn("qoe_bucket", qoe_bucket(thresholds))
    )


def _values(name: str, values: tuple[str, ...]) -> Column:
    return F.explode(F.array(*[F.lit(v) for v in values])).alias(name)


# --- agg_qoe_churn_monthly ------------------------------------------------------------------------


def build_agg_qoe_churn_monthly(
    fact_subscriptions: DataFrame, sessions: DataFrame, as_of: dt.date, thresholds: QoeThresholds
) -> DataFrame:
    """`fact_subscriptions` + `fact_playback_sessions` → one row per (month, plan, qoe_bucket), every month of
    `agg_subscriptions_monthly`, plan and bucket (zero-filled). The subscribers are those of `subscribers_start`,
    bucketed by their sessions dated in the month (up to the as-of date); churn as in `agg_subscriptions_monthly`,
    null in the as-of month (not yet known)."""
    population = month_start_churn(subscription_months(fact_subscriptions, as_of), as_of)
    played = sessions.where(F.col("session_date") <= F.lit(as_of)).withColumn("month", month_of(F.col("session_date")))
    buckets = experience(played, ["user_key", "month"], thresholds).select("user_key", "month", "qoe_bucket")
    counts = (
        population.join(buckets, on=["user_key", "month"], how="left")
        .withColumn("qoe_bucket", F.coalesce("qoe_bucket", F.lit("no_playback")))
        .groupBy("month", "plan", "qoe_bucket")
        .agg(F.count(F.lit(1)).alias("subscribers"), F.count(F.when(F.col("churned"), True)).alias("churned"))
    )
    grid = month_grid(fact_subscriptions.select(month_of(F.col("start_date")).alias("month")), as_of).select(
        "month", _values("plan", PLANS)
    ).select("month", "plan", _values("qoe_bucket", BUCKETS))
    known = F.col("month") < F.lit(as_of.replace(day=1))
    return (
        grid.join(counts, on=["month", "plan", "qoe_bucket"], how="left")
        .withColumn("subscribers", F.coalesce("subscribers", F.lit(0)))
        .withColumn("churned", F.when(known, F.coalesce("churned", F.lit(0))))
        .withColumn("churn_rate", ratio(F.col("churned"), F.col("subscribers")))
        .transform(conform_to, GOLD_SCHEMAS["agg_qoe_churn_monthly"])
    )


# --- revenue_at_risk_daily ------------------------------------------------------------------------


def poor_device_days(sessions: DataFrame, as_of: dt.date, thresholds: QoeThresholds,
                     dates: list[dt.date] | None = None) -> DataFrame:
    """(user_key, device_type, date, qoe_bucket, sessions, attributed) for each date up to the as-of date on which
    the user's sessions on that device over the 7 days ending on it (the date and the 6 before) were poor.
    `attributed` marks one device per user and date: the worst bucket, then most sessions, then device name.
    `dates`, when given, are the only dates wanted (an incremental update)."""
    last_day = F.least(F.date_add("session_date", RISK_WINDOW_DAYS - 1), F.lit(as_of))
    windowed = sessions.where(F.col("session_date") <= F.lit(as_of)).withColumn(
        "date", F.explode(F.sequence(F.col("session_date"), last_day))
    )
    if dates is not None:
        # Here, not on the result: a filter on the exploded date cannot be pushed below the explode, and each
        # session reaches 7 dates, so the aggregation would otherwise run over all 7.
        windowed = windowed.where(F.col("date").isin(dates))
    poor = experience(windowed, ["user_key", "device_type", "date"], thresholds).where(
        F.col("qoe_bucket").isin(*POOR_BUCKETS)
    )
    severity = F.array_position(F.array(*[F.lit(b) for b in BUCKETS]), F.col("qoe_bucket"))
    first = Window.partitionBy("user_key", "date").orderBy(severity, F.col("sessions").desc(), F.col("device_type"))
    attributed = (F.row_number().over(first) == 1).alias("attributed")
    return poor.select("user_key", "device_type", "date", "qoe_bucket", "sessions", attributed)


def _open_on(day: Column) -> Column:
    """Subscription active on `day` and not cancelled on or before it: revenue that can still be kept."""
    active = (F.col("start_date") <= day) & (F.col("end_date").isNull() | (day < F.col("end_date")))
    return active & (F.col("cancelled_at").isNull() | (F.to_date("cancelled_at") > day))


def _date_grid(sessions: DataFrame, as_of: dt.date, first_date: dt.date | None = None) -> DataFrame:
    """Every (date, plan, device_type) from the earliest session date (or `first_date`) to the as-of date."""
    first = F.lit(first_date) if first_date else F.min("session_date")
    last = F.lit(as_of)
    dates = sessions.agg(
        F.when(first <= last, F.sequence(first, last)).otherwise(F.array().cast("array<date>")).alias("d")
    )
    return dates.select(F.explode("d").alias("date")).select("date", _values("plan", PLANS)).select(
        "date", "plan", _values("device_type", DEVICE_TYPES)
    )


def build_revenue_at_risk_daily(
    fact_subscriptions: DataFrame, sessions: DataFrame, as_of: dt.date, thresholds: QoeThresholds,
    first_date: dt.date | None = None, dates: list[dt.date] | None = None,
) -> DataFrame:
    """`fact_subscriptions` + `fact_playback_sessions` → one row per (date, plan, device_type), every date from the
    earliest session date to the as-of date (zero-filled). A subscriber at risk on two devices is counted under
    both in `subscribers_at_risk` / `mrr_at_risk`, and under one only in the `attributed_*` columns, which add up.

    For an incremental update, `dates` are the dates to build (other rows are left out) and `first_date` fixes
    where the dates start, as `sessions` is then only part of them."""
    poor = poor_device_days(sessions, as_of, thresholds, dates).alias("p")
    subscriptions = fact_subscriptions.select(
        "user_key", "plan", "price_monthly", "start_date", "end_date", "cancelled_at"
    ).alias("s")
    at_risk = poor.join(
        subscriptions, on=(F.col("p.user_key") == F.col("s.user_key")) & _open_on(F.col("p.date")), how="inner"
    ).select("p.user_key", "p.device_type", "p.date", "p.attributed", "s.plan", "s.price_monthly")
    attributed = F.col("attributed")
    counts = at_risk.groupBy("date", "plan", "device_type").agg(
        F.count_distinct("user_key").alias("subscribers_at_risk"),
        F.sum("price_monthly").alias("mrr_at_risk"),
        F.count_distinct(F.when(attributed, F.col("user_key"))).alias("attributed_subscribers_at_risk"),
        F.sum(F.when(attributed, F.col("price_monthly"))).alias("attributed_mrr_at_risk"),
    )
    zero_money = F.lit(0).cast(MONEY_SUM)
    grid = _date_grid(sessions, as_of, first_date)
    return (
        (grid if dates is None else grid.where(F.col("date").isin(dates)))
        .join(counts, on=["date", "plan", "device_type"], how="left")
        .fillna(0, subset=["subscribers_at_risk", "attributed_subscribers_at_risk"])
        .withColumn("mrr_at_risk", F.coalesce(F.col("mrr_at_risk").cast(MONEY_SUM), zero_money))
        .withColumn("attributed_mrr_at_risk", F.coalesce(F.col("attributed_mrr_at_risk").cast(MONEY_SUM), zero_money))
        .transform(conform_to, GOLD_SCHEMAS["revenue_at_risk_daily"])
    )
