"""Serving: the dashboard's per-filter top titles and its HTML escaping; the notebooks' analyses
(rebuffering percentiles, cohort retention, churn by plan). Expected values worked out by hand."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataflix_spark.schemas import GOLD_SCHEMAS
from dataflix_spark.serving.analysis import churn_by_plan, cohort_retention, session_buffering_percentiles
from dataflix_spark.serving.dashboard import (
    qoe_churn_by_month_bucket,
    recommendation_qoe_by_month_device,
    render_html,
    revenue_at_risk_by_day_device,
    top_titles,
)
from tests.unit.helpers import assert_table, day, session, sessions_df, subscription_fact, subset

CONTENT = GOLD_SCHEMAS["dim_content"]


def test_top_titles_for_every_month_and_device_combination(spark):
    sessions = sessions_df(spark, [
        session("s1", "u1", "2026-10-02 20:00:00", device="tv", content="c1", watch_ms=100, completed=True),
        session("s2", "u1", "2026-10-03 20:00:00", device="tv", content="c2", watch_ms=300),
        session("s3", "u2", "2026-10-03 21:00:00", device="mobile", content="c1", watch_ms=250, completed=True),
        session("s4", "u2", "2026-09-30 23:59:59", device="tv", content="c3", watch_ms=50),
    ])
    content = spark.createDataFrame(
        [("c1", "One", "movie", None, "Drama", "Drama", "en", "PG", 2020, 600),
         ("c2", "Two", "movie", None, "Drama", "Drama", "en", "PG", 2021, 600)], CONTENT)
    schema = T.StructType([
        T.StructField("month", T.StringType()), T.StructField("device_type", T.StringType()),
        T.StructField("rank", T.IntegerType()), T.StructField("title", T.StringType()),
        T.StructField("sessions", T.LongType()), T.StructField("watch_time_ms", T.LongType()),
        T.StructField("completion_rate", T.DoubleType()),
    ])
    assert_table(top_titles(sessions, content, n=1), schema, [
        ("all", "all", 1, "One", 2, 350, 1.0),       # c1 100 + 250 beats c2 300
        ("all", "tv", 1, "Two", 1, 300, 0.0),
        ("all", "mobile", 1, "One", 1, 250, 1.0),
        ("2026-10", "all", 1, "One", 2, 350, 1.0),
        ("2026-10", "tv", 1, "Two", 1, 300, 0.0),
        ("2026-10", "mobile", 1, "One", 1, 250, 1.0),
        ("2026-09", "all", 1, "c3", 1, 50, 0.0),      # not in the catalogue: its id stands in
        ("2026-09", "tv", 1, "c3", 1, 50, 0.0),
    ])


def test_qoe_churn_adds_plans_and_keeps_the_as_of_month_unknown(spark):
    gold = spark.createDataFrame([
        (day("2026-09-01"), "basic", "good", 10, 1, 0.1),
        (day("2026-09-01"), "premium", "good", 5, 2, 0.4),
        (day("2026-09-01"), "basic", "fatal_failure", 0, 0, None),
        (day("2026-10-01"), "basic", "good", 12, None, None),  # the as-of month: churn not observable yet
    ], GOLD_SCHEMAS["agg_qoe_churn_monthly"])
    schema = T.StructType([
        T.StructField("month", T.StringType()), T.StructField("qoe_bucket", T.StringType()),
        T.StructField("subscribers", T.LongType()), T.StructField("churned", T.LongType()),
    ])
    assert_table(qoe_churn_by_month_bucket(gold), schema, [
        ("2026-09", "good", 15, 3), ("2026-09", "fatal_failure", 0, 0), ("2026-10", "good", 12, None),
    ])


def test_revenue_at_risk_sums_the_attributed_columns_over_plans(spark):
    gold = spark.createDataFrame([
        # mrr_at_risk counts a subscriber under every device they had a bad week on: not what the chart adds.
        (day("2026-10-05"), "basic", "tv", 2, Decimal("20.00"), 1, Decimal("10.00")),
        (day("2026-10-05"), "premium", "tv", 1, Decimal("15.00"), 1, Decimal("15.00")),
        (day("2026-10-05"), "basic", "mobile", 1, Decimal("10.00"), 0, Decimal("0.00")),
    ], GOLD_SCHEMAS["revenue_at_risk_daily"])
    schema = T.StructType([
        T.StructField("date", T.StringType()), T.StructField("month", T.StringType()),
        T.StructField("device_type", T.StringType()), T.StructField("mrr_at_risk", T.DecimalType(38, 2)),
        T.StructField("subscribers_at_risk", T.LongType()),
    ])
    summed = revenue_at_risk_by_day_device(gold).withColumn("mrr_at_risk", F.col("mrr_at_risk").cast("decimal(38,2)"))
    assert_table(summed, schema, [("2026-10-05", "2026-10", "tv", Decimal("25.00"), 2),
                          ("2026-10-05", "2026-10", "mobile", Decimal("0.00"), 0)])


def test_recommendation_qoe_keeps_the_sums_ratios_are_made_from(spark):
    gold = spark.createDataFrame([
        (day("2026-10-01"), "tv", "recommended", 2, 2, 3000, 1500, 1500, 1000, 10, 0.0099, 500, 1, 0.5),
        (day("2026-10-02"), "tv", "recommended", 1, 0, 0, None, None, 400, 0, 0.0, 400, 1, 1.0),
        (day("2026-10-02"), "tv", "other", 4, 4, 8000, 2000, 3000, 4000, 40, 0.0099, 1000, 0, 0.0),
    ], GOLD_SCHEMAS["agg_recommendation_qoe"])
    schema = T.StructType([
        T.StructField("month", T.StringType()), T.StructField("device_type", T.StringType()),
        T.StructField("play_source", T.StringType()), T.StructField("sessions", T.LongType()),
        T.StructField("completions", T.LongType()), T.StructField("watch_time_ms", T.LongType()),
        T.StructField("rebuffer_ms", T.LongType()), T.StructField("total_startup_ms", T.LongType()),
        T.StructField("sessions_with_startup", T.LongType()),
    ])
    assert_table(recommendation_qoe_by_month_device(gold), schema, [
        ("2026-10", "tv", "recommended", 3, 2, 1400, 10, 3000, 2),
        ("2026-10", "tv", "other", 4, 0, 4000, 40, 8000, 4),
    ])


def test_embedded_data_cannot_close_the_script_tag():
    page = render_html({"titles": [{"title": "</script><script>alert(1)</script>"}]})
    assert page.count("</script>") == 2  # the data block's and the renderer's own
    assert "\\u003c/script>\\u003cscript>alert(1)" in page


def test_session_buffering_percentiles_by_device(spark):
    sessions = sessions_df(spark, [
        session("t1", "u1", "2026-10-01 20:00:00", device="tv", rebuffer_ms=0, watch_ms=10_000),
        session("t2", "u1", "2026-10-01 21:00:00", device="tv", rebuffer_ms=0, watch_ms=10_000),
        session("t3", "u2", "2026-10-01 22:00:00", device="tv", rebuffer_ms=1_000, watch_ms=10_000),
        session("t4", "u2", "2026-10-02 20:00:00", device="tv", rebuffer_ms=3_000, watch_ms=6_000),
        session("m1", "u3", "2026-10-02 20:00:00", device="mobile", rebuffer_ms=0, watch_ms=0),
    ])
    schema = T.StructType(
        [T.StructField("device_type", T.StringType()), T.StructField("sessions", T.LongType()),
         T.StructField("rebuffered_share", T.DoubleType()), T.StructField("rebuffer_ratio", T.DoubleType())]
        + [T.StructField(f"rebuffer_p{p}_ms", T.LongType()) for p in (50, 90, 95, 99)]
    )
    assert_table(session_buffering_percentiles(sessions, ["device_type"]), schema, [
        # tv, sorted [0, 0, 1000, 3000]: p50 at rank ceil(0.5 * 4) = 2, p90..p99 at rank 4.
        # ratio 4,000 / (36,000 watched + 4,000).
        ("tv", 4, 0.5, 0.1, 0, 3_000, 3_000, 3_000),
        ("mobile", 1, 0.0, None, 0, 0, 0, 0),  # nothing played: no ratio
    ])


def test_cohort_retention(spark):
    subscriptions = subscription_fact(spark, [
        ("a", "ua", "Basic", "9.99", "2026-01-15", None, None),
        ("b1", "ub", "Basic", "9.99", "2026-01-10", "2026-02-20", "2026-02-01T10:00:00"),
        ("b2", "ub", "Premium", "22.99", "2026-03-05", None, None),  # back: still the January cohort
        ("c", "uc", "Standard", "15.49", "2026-02-01", None, None),
        ("d", "ud", "Basic", "9.99", "2026-02-03", "2026-02-10", "2026-02-04T10:00:00"),
        ("e", "ue", "Basic", "9.99", "2026-03-01", "2026-03-05", "2026-03-02T10:00:00"),
    ])
    schema = T.StructType([
        T.StructField("cohort_month", T.DateType()), T.StructField("months_since", T.IntegerType()),
        T.StructField("cohort_users", T.LongType()), T.StructField("retained_users", T.LongType()),
        T.StructField("retention_rate", T.DoubleType()),
    ])
    # Retained: a subscriber on the month's last day, or on the as-of date in the as-of month.
    assert_table(cohort_retention(subscriptions, dt.date(2026, 3, 10)), schema, [
        (day("2026-01-01"), 0, 2, 2, 1.0),
        (day("2026-01-01"), 1, 2, 1, 0.5),   # ub ended on Feb 20
        (day("2026-01-01"), 2, 2, 2, 1.0),   # ub is back on Mar 5
        (day("2026-02-01"), 0, 2, 1, 0.5),   # ud lasted a week
        (day("2026-02-01"), 1, 2, 1, 0.5),
        (day("2026-03-01"), 0, 1, 0, 0.0),   # zero-filled
    ])


def test_churn_by_plan_leaves_out_the_as_of_month(spark):
    monthly_schema = subset(GOLD_SCHEMAS["agg_subscriptions_monthly"], "month", "plan", "subscribers_start",
                            "new_subscribers", "cancellations", "churned")
    monthly = spark.createDataFrame([
        (day("2026-08-01"), "Basic", 10, 3, 1, 2),
        (day("2026-09-01"), "Basic", 10, 2, 2, 1),
        (day("2026-10-01"), "Basic", 11, 5, 4, 0),  # the as-of month: churn not counted yet
        (day("2026-08-01"), "Premium", 0, 0, 0, 0),
        (day("2026-09-01"), "Premium", 0, 1, 0, 0),
        (day("2026-10-01"), "Premium", 1, 0, 0, 0),
    ], monthly_schema)
    schema = T.StructType([
        T.StructField("plan", T.StringType()), T.StructField("subscribers_start", T.LongType()),
        T.StructField("churned", T.LongType()), T.StructField("cancellations", T.LongType()),
        T.StructField("new_subscribers", T.LongType()), T.StructField("monthly_churn_rate", T.DoubleType()),
    ])
    assert_table(churn_by_plan(monthly), schema, [
        ("Basic", 20, 3, 3, 5, 0.15),
        ("Premium", 0, 0, 0, 1, None),
    ])
