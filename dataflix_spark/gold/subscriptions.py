"""Subscribers, new subscribers, cancellations, churn, revenue and MRR for the subscription team.

A subscription is active on day d when start_date <= d and (end_date is null or d < end_date).
It is billed price_monthly on start_date + k months (add_months clamps Jan 31 + 1 month to the
end of February), while the billing date is before end_date and not after the as-of date.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from dataflix_spark.schemas import GOLD_SCHEMAS, MONEY_SUM, PLANS, conform_to


def build_fact_subscriptions(subscriptions: DataFrame) -> DataFrame:
    """Silver subscriptions (newest version of each) → `fact_subscriptions`."""
    return subscriptions.withColumnRenamed("doc_id", "subscription_id").transform(
        conform_to, GOLD_SCHEMAS["fact_subscriptions"]
    )


def active_on(day: Column) -> Column:
    return (F.col("start_date") <= day) & (F.col("end_date").isNull() | (day < F.col("end_date")))


def month_of(day: Column) -> Column:
    return F.trunc(day, "month")


def month_span(first_month: Column, last_month: Column) -> Column:
    """Every month's first day from `first_month` to `last_month` (empty when it starts later)."""
    return F.when(first_month <= last_month, F.sequence(first_month, last_month, F.expr("INTERVAL 1 MONTH"))).otherwise(
        F.array().cast("array<date>")
    )


def month_grid(first_months: DataFrame, as_of: dt.date) -> DataFrame:
    """One row (`month`) per month from the earliest `month` in `first_months` to the as-of month."""
    return first_months.agg(F.min("month").alias("first")).select(
        F.explode(month_span(F.col("first"), F.lit(as_of.replace(day=1)))).alias("month")
    )


def subscription_months(fact: DataFrame, as_of: dt.date) -> DataFrame:
    """One row per subscription and month it may be active in, with whether it is active on the
    month's first day, on its last day (or the as-of date, when earlier)."""
    # least() skips nulls: an open-ended subscription spans to the as-of month.
    last_month = F.least(month_of(F.col("end_date")), F.lit(as_of.replace(day=1)))
    last_day = F.least(F.last_day("month"), F.lit(as_of))
    return (
        fact.withColumn("month", F.explode(month_span(month_of(F.col("start_date")), last_month)))
        .withColumn("active_first", active_on(F.col("month")))
        .withColumn("active_last", active_on(last_day))
    )


def billings(fact: DataFrame, as_of: dt.date) -> DataFrame:
    """One row per billing: `billing_date`, `plan`, `price_monthly`."""
    months_to_as_of = (F.lit(as_of.year) - F.year("start_date")) * 12 + (F.lit(as_of.month) - F.month("start_date"))
    k = F.explode(F.sequence(F.lit(0), F.greatest(months_to_as_of, F.lit(0))))
    dated = fact.select("plan", "price_monthly", "start_date", "end_date", k.alias("k")).withColumn(
        "billing_date", F.add_months("start_date", F.col("k"))
    )
    billed = (F.col("billing_date") <= F.lit(as_of)) & (
        F.col("end_date").isNull() | (F.col("billing_date") < F.col("end_date"))
    )
    return dated.where(billed).select("billing_date", "plan", "price_monthly")


def month_start_churn(months: DataFrame, as_of: dt.date) -> DataFrame:
    """One row (user_key, month, plan, churned) per user with a subscription of the plan active on the
    month's 1st; `churned`: no subscription of theirs is active on the next 1st (null in the as-of month)."""
    active_first = months.where("active_first").select("user_key", "month", "plan").distinct()
    stays = active_first.select("user_key", F.add_months("month", -1).alias("month")).distinct().withColumn(
        "_stays", F.lit(True)
    )
    churned = F.when(F.col("month") < F.lit(as_of.replace(day=1)), F.col("_stays").isNull())
    return active_first.join(stays, on=["user_key", "month"], how="left").select(
        "user_key", "month", "plan", churned.alias("churned")
    )


def _churned(months: DataFrame, as_of: dt.date) -> DataFrame:
    """(month, plan, churned): users active on the plan on the 1st with no subscription active on the next 1st."""
    churned = month_start_churn(months, as_of).where("churned")
    return churned.groupBy("month", "plan").agg(F.count(F.lit(1)).alias("churned"))


def _new_subscribers(fact: DataFrame) -> DataFrame:
    earliest = fact.groupBy("user_key").agg(
        F.min_by(F.struct("start_date", "plan"), F.struct("start_date", "subscription_id")).alias("first")
    )
    return earliest.groupBy(month_of(F.col("first.start_date")).alias("month"), F.col("first.plan").alias("plan")).agg(
        F.count(F.lit(1)).alias("new_subscribers")
    )


def _cancellations(fact: DataFrame) -> DataFrame:
    return (
        fact.where(F.col("cancelled_at").isNotNull())
        .groupBy(month_of(F.to_date("cancelled_at")).alias("month"), "plan")
        .agg(F.count(F.lit(1)).alias("cancellations"))
    )


def _revenue(fact: DataFrame, as_of: dt.date) -> DataFrame:
    return (
        billings(fact, as_of)
        .groupBy(month_of(F.col("billing_date")).alias("month"), "plan")
        .agg(F.sum("price_monthly").cast(MONEY_SUM).alias("revenue"))
    )


def _active_counts(months: DataFrame) -> DataFrame:
    return months.groupBy("month", "plan").agg(
        F.count_distinct(F.when(F.col("active_first"), F.col("user_key"))).alias("subscribers_start"),
        F.count_distinct(F.when(F.col("active_last"), F.col("user_key"))).alias("subscribers_end"),
        F.sum(F.when(F.col("active_last"), F.col("price_monthly"))).cast(MONEY_SUM).alias("mrr"),
    )


_COUNTS = ["subscribers_start", "subscribers_end", "new_subscribers", "cancellations"]


def build_agg_subscriptions_monthly(fact: DataFrame, as_of: dt.date) -> DataFrame:
    """`fact_subscriptions` → one row per (month, plan), every month from the earliest start to the
    as-of month and every plan, zero-filled, but for the as-of month's churn: not known yet, so null."""
    months = subscription_months(fact, as_of)
    grid = month_grid(fact.select(month_of(F.col("start_date")).alias("month")), as_of).select(
        "month", F.explode(F.array(*[F.lit(plan) for plan in PLANS])).alias("plan")
    )
    measures = [
        _active_counts(months),
        _new_subscribers(fact),
        _cancellations(fact),
        _churned(months, as_of),
        _revenue(fact, as_of),
    ]
    table = grid
    for measure in measures:
        table = table.join(measure, on=["month", "plan"], how="left")
    zero_money, as_of_month = F.lit(0).cast(MONEY_SUM), as_of.replace(day=1)
    return (
        table.fillna(0, subset=_COUNTS)
        # Whether the as-of month's subscribers are still active on the next 1st is not known yet.
        .withColumn("churned", F.when(F.col("month") < F.lit(as_of_month), F.coalesce("churned", F.lit(0))))
        .withColumn("revenue", F.coalesce("revenue", zero_money))
        .withColumn("mrr", F.coalesce("mrr", zero_money))
        .withColumn(
            "churn_rate", F.when(F.col("subscribers_start") != 0, F.col("churned") / F.col("subscribers_start"))
        )
        .transform(conform_to, GOLD_SCHEMAS["agg_subscriptions_monthly"])
    )
