"""`fact_subscriptions`, billings and `agg_subscriptions_monthly`, definition by definition (metrics.md,
"Subscriptions"). Every expected row below is worked out by hand from the contract, not from the code."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from chispa import assert_column_equality, assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataflix_spark.gold.subscriptions import (
    active_on,
    billings,
    build_agg_subscriptions_monthly,
    build_fact_subscriptions,
)
from dataflix_spark.schemas import GOLD_SCHEMAS, MONEY, SILVER_SCHEMAS
from tests.unit.helpers import day, subscription_fact, subset, ts

BILLINGS = T.StructType(
    [
        T.StructField("billing_date", T.DateType()),
        T.StructField("plan", T.StringType()),
        T.StructField("price_monthly", MONEY),
    ]
)
AGG_MONTHLY = GOLD_SCHEMAS["agg_subscriptions_monthly"]


def month(text: str) -> dt.date:
    """"2027-01" → 2027-01-01, the contract's month."""
    return day(f"{text}-01")


def monthly(spark, rows, columns=None):
    """Expected `agg_subscriptions_monthly` rows: month as "YYYY-MM", money as text."""
    schema = AGG_MONTHLY if columns is None else subset(AGG_MONTHLY, *columns)
    money = {"revenue", "mrr"}
    converted = [
        tuple(
            month(v) if name == "month" else Decimal(v) if name in money else v
            for name, v in zip(schema.fieldNames(), row)
        )
        for row in rows
    ]
    return spark.createDataFrame(converted, schema)


def assert_tables_equal(actual, expected):
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


# --- fact_subscriptions ---------------------------------------------------------------------------


def test_fact_subscriptions_one_row_per_subscription_with_contract_columns(spark):
    silver = spark.createDataFrame(
        [
            ("sub-1", "k1", "Basic", Decimal("9.99"), "active", day("2027-01-05"), None, None, True, "US", 100, "r1"),
            (
                "sub-2", "k2", "Premium", Decimal("19.99"), "cancelled", day("2027-01-20"), day("2027-02-20"),
                ts("2027-02-01T08:00:00"), False, None, 200, "r2",
            ),
        ],
        SILVER_SCHEMAS["subscriptions"],
    )
    expected = spark.createDataFrame(
        [
            ("sub-1", "k1", "Basic", Decimal("9.99"), "active", day("2027-01-05"), None, None, True, "US"),
            (
                "sub-2", "k2", "Premium", Decimal("19.99"), "cancelled", day("2027-01-20"), day("2027-02-20"),
                ts("2027-02-01T08:00:00"), False, None,
            ),
        ],
        GOLD_SCHEMAS["fact_subscriptions"],
    )
    assert_df_equality(build_fact_subscriptions(silver), expected, ignore_row_order=True, ignore_nullable=True)


# --- active on day d -------------------------------------------------------------------------------


def test_active_on_start_inclusive_end_exclusive_null_end_open(spark):
    schema = T.StructType(
        [
            T.StructField("start_date", T.DateType()),
            T.StructField("end_date", T.DateType()),
            T.StructField("day", T.DateType()),
            T.StructField("expected", T.BooleanType()),
        ]
    )
    cases = [
        ("2027-01-10", "2027-02-10", "2027-01-09", False),  # day before startDate
        ("2027-01-10", "2027-02-10", "2027-01-10", True),  # startDate itself
        ("2027-01-10", "2027-02-10", "2027-02-09", True),  # last day of service
        ("2027-01-10", "2027-02-10", "2027-02-10", False),  # endDate: first day without service
        ("2027-01-10", None, "2099-12-31", True),  # open-ended
        ("2027-01-10", None, "2027-01-09", False),
        ("2027-01-10", "2027-01-10", "2027-01-10", False),  # zero-length subscription
    ]
    df = spark.createDataFrame([(day(s), day(e), day(on), x) for s, e, on, x in cases], schema)
    assert_column_equality(df.withColumn("active", active_on(F.col("day"))), "active", "expected")


# --- billings --------------------------------------------------------------------------------------


def test_billings_from_jan_31_clamp_to_month_end_each_k_from_start_date(spark):
    subscriptions = subscription_fact(
        spark,
        [
            ("leap", "k1", "Premium", "19.99", "2028-01-31", None, None),
            ("plain", "k2", "Basic", "9.99", "2027-01-31", "2027-06-01", None),
        ],
    )
    expected = spark.createDataFrame(
        [
            # 2028 is a leap year; Mar and Apr come from startDate + 2 / + 3 months, not from Feb 29.
            (day("2028-01-31"), "Premium", Decimal("19.99")),
            (day("2028-02-29"), "Premium", Decimal("19.99")),
            (day("2028-03-31"), "Premium", Decimal("19.99")),
            (day("2028-04-30"), "Premium", Decimal("19.99")),
            # 2028-05-31 is after the as-of date 2028-05-30.
            (day("2027-01-31"), "Basic", Decimal("9.99")),
            (day("2027-02-28"), "Basic", Decimal("9.99")),
            (day("2027-03-31"), "Basic", Decimal("9.99")),
            (day("2027-04-30"), "Basic", Decimal("9.99")),
            (day("2027-05-31"), "Basic", Decimal("9.99")),
        ],
        BILLINGS,
    )
    assert_tables_equal(billings(subscriptions, dt.date(2028, 5, 30)), expected)


def test_billings_stop_before_end_date_and_after_as_of(spark):
    as_of = dt.date(2027, 6, 10)
    subscriptions = subscription_fact(
        spark,
        [
            ("ends-on-billing-date", "k1", "Basic", "9.99", "2027-01-10", "2027-03-10", "2027-02-01T00:00:00"),
            ("ends-day-after", "k2", "Standard", "14.99", "2027-01-10", "2027-03-11", None),
            ("billed-on-as-of", "k3", "Premium", "19.99", "2027-04-10", None, None),
            ("next-after-as-of", "k4", "Premium", "29.99", "2027-04-11", None, None),
            ("starts-after-as-of", "k5", "Basic", "5.00", "2027-06-11", None, None),
            ("zero-length", "k6", "Basic", "7.00", "2027-02-01", "2027-02-01", None),
        ],
    )
    expected = spark.createDataFrame(
        [
            (day("2027-01-10"), "Basic", Decimal("9.99")),
            (day("2027-02-10"), "Basic", Decimal("9.99")),  # 2027-03-10 = endDate: not billed
            (day("2027-01-10"), "Standard", Decimal("14.99")),
            (day("2027-02-10"), "Standard", Decimal("14.99")),
            (day("2027-03-10"), "Standard", Decimal("14.99")),
            (day("2027-04-10"), "Premium", Decimal("19.99")),
            (day("2027-05-10"), "Premium", Decimal("19.99")),
            (day("2027-06-10"), "Premium", Decimal("19.99")),  # = as-of date: billed
            (day("2027-04-11"), "Premium", Decimal("29.99")),
            (day("2027-05-11"), "Premium", Decimal("29.99")),  # 2027-06-11 is after the as-of date
        ],
        BILLINGS,
    )
    assert_tables_equal(billings(subscriptions, as_of), expected)


# --- agg_subscriptions_monthly ---------------------------------------------------------------------


def test_agg_subscriptions_monthly_every_column(spark):
    # as-of 2027-03-15: months Jan..Mar, l = Jan 31, Feb 28, Mar 15.
    subscriptions = subscription_fact(
        spark,
        [
            ("s1", "u1", "Basic", "9.99", "2027-01-01", None, None),
            # Ends on Mar 1 (not active that day); cancelled in Feb; billed Jan 31, Feb 28 (Mar 31 >= endDate).
            ("s2", "u2", "Premium", "19.99", "2027-01-31", "2027-03-01", "2027-02-20T10:00:00"),
            # Starts mid-month; billed Feb 15 and Mar 15 (= as-of date).
            ("s3", "u3", "Standard", "14.99", "2027-02-15", None, None),
        ],
    )
    expected = monthly(
        spark,
        [
            # month, plan, subs_start, subs_end, new, cancellations, churned, churn_rate, revenue, mrr
            ("2027-01", "Basic", 1, 1, 1, 0, 0, 0.0, "9.99", "9.99"),
            ("2027-01", "Standard", 0, 0, 0, 0, 0, None, "0.00", "0.00"),
            ("2027-01", "Premium", 0, 1, 1, 0, 0, None, "19.99", "19.99"),
            ("2027-02", "Basic", 1, 1, 0, 0, 0, 0.0, "9.99", "9.99"),
            ("2027-02", "Standard", 0, 1, 1, 0, 0, None, "14.99", "14.99"),
            ("2027-02", "Premium", 1, 1, 0, 1, 1, 1.0, "19.99", "19.99"),  # u2: nothing active on Mar 1
            # The as-of month: churn not known yet (null).
            ("2027-03", "Basic", 1, 1, 0, 0, None, None, "9.99", "9.99"),
            ("2027-03", "Standard", 1, 1, 0, 0, None, None, "14.99", "14.99"),
            ("2027-03", "Premium", 0, 0, 0, 0, None, None, "0.00", "0.00"),
        ],
    )
    assert_tables_equal(build_agg_subscriptions_monthly(subscriptions, dt.date(2027, 3, 15)), expected)


def test_agg_subscriptions_monthly_zero_filled_from_earliest_start_month_for_every_plan(spark):
    # as-of 2027-04-02: grid Dec 2026..Apr 2027 x 3 plans, Feb and Mar with no activity at all.
    subscriptions = subscription_fact(
        spark,
        [
            ("s1", "u1", "Standard", "14.99", "2026-12-20", "2027-01-05", "2026-12-28T12:00:00"),
            ("s2", "u2", "Basic", "9.99", "2027-04-01", None, None),
        ],
    )
    zero = (0, 0, 0, 0, 0, None, "0.00", "0.00")
    expected = monthly(
        spark,
        [
            ("2026-12", "Basic", *zero),
            ("2026-12", "Standard", 0, 1, 1, 1, 0, None, "14.99", "14.99"),
            ("2026-12", "Premium", *zero),
            ("2027-01", "Basic", *zero),
            ("2027-01", "Standard", 1, 0, 0, 0, 1, 1.0, "0.00", "0.00"),  # active Jan 1, nothing on Feb 1
            ("2027-01", "Premium", *zero),
            ("2027-02", "Basic", *zero),
            ("2027-02", "Standard", *zero),
            ("2027-02", "Premium", *zero),
            ("2027-03", "Basic", *zero),
            ("2027-03", "Standard", *zero),
            ("2027-03", "Premium", *zero),
            ("2027-04", "Basic", 1, 1, 1, 0, None, None, "9.99", "9.99"),  # l = as-of date Apr 2
            ("2027-04", "Standard", 0, 0, 0, 0, None, None, "0.00", "0.00"),
            ("2027-04", "Premium", 0, 0, 0, 0, None, None, "0.00", "0.00"),
        ],
    )
    assert_tables_equal(build_agg_subscriptions_monthly(subscriptions, dt.date(2027, 4, 2)), expected)


CHURN_COLUMNS = ["month", "plan", "subscribers_start", "subscribers_end", "new_subscribers", "churned", "churn_rate"]


def test_churn_plan_switch_is_not_churn_resubscription_after_gap_is(spark):
    # as-of 2027-05-20: months Jan..May.
    subscriptions = subscription_fact(
        spark,
        [
            # u1 switches Basic → Standard mid-month (one ends, the other starts the same day).
            ("u1-basic", "u1", "Basic", "9.99", "2027-01-01", "2027-03-15", None),
            ("u1-standard", "u1", "Standard", "14.99", "2027-03-15", None, None),
            # u2 switches Basic → Premium on the 1st.
            ("u2-basic", "u2", "Basic", "9.99", "2027-01-01", "2027-04-01", None),
            ("u2-premium", "u2", "Premium", "19.99", "2027-04-01", None, None),
            # u3 leaves on Mar 10 and comes back on Apr 10: churned in March, not new in April.
            ("u3-first", "u3", "Standard", "14.99", "2027-01-10", "2027-03-10", "2027-02-15T09:00:00"),
            ("u3-again", "u3", "Standard", "14.99", "2027-04-10", None, None),
        ],
    )
    expected = monthly(
        spark,
        [
            # month, plan, subscribers_start, subscribers_end, new_subscribers, churned, churn_rate
            ("2027-01", "Basic", 2, 2, 2, 0, 0.0),
            ("2027-01", "Standard", 0, 1, 1, 0, None),
            ("2027-01", "Premium", 0, 0, 0, 0, None),
            ("2027-02", "Basic", 2, 2, 0, 0, 0.0),
            ("2027-02", "Standard", 1, 1, 0, 0, 0.0),
            ("2027-02", "Premium", 0, 0, 0, 0, None),
            ("2027-03", "Basic", 2, 1, 0, 0, 0.0),  # u1 and u2 both hold another plan on Apr 1
            ("2027-03", "Standard", 1, 1, 0, 1, 1.0),  # u3: active Mar 1, nothing on Apr 1
            ("2027-03", "Premium", 0, 0, 0, 0, None),
            ("2027-04", "Basic", 0, 0, 0, 0, None),
            ("2027-04", "Standard", 1, 2, 0, 0, 0.0),
            ("2027-04", "Premium", 1, 1, 0, 0, 0.0),
            ("2027-05", "Basic", 0, 0, 0, None, None),
            ("2027-05", "Standard", 2, 2, 0, None, None),
            ("2027-05", "Premium", 1, 1, 0, None, None),
        ],
        CHURN_COLUMNS,
    )
    actual = build_agg_subscriptions_monthly(subscriptions, dt.date(2027, 5, 20)).select(*CHURN_COLUMNS)
    assert_tables_equal(actual, expected)


def test_as_of_month_uses_as_of_date_as_l_and_its_churn_is_null(spark):
    # as-of 2027-02-15: in February l = Feb 15 and f' = Mar 1 is after the as-of date.
    subscriptions = subscription_fact(
        spark,
        [
            # Ended before the as-of date: would be churn in Feb, but Feb is the as-of month.
            ("s1", "u1", "Premium", "19.99", "2027-01-01", "2027-02-10", "2027-01-20T00:00:00"),
            # Ends after the as-of date, before the month's last day: still a subscriber on l = Feb 15.
            ("s2", "u2", "Premium", "19.99", "2027-01-01", "2027-02-20", None),
            # Starts after the as-of date within the as-of month: new in Feb, not yet a subscriber nor billed.
            ("s3", "u3", "Basic", "9.99", "2027-02-16", None, None),
        ],
    )
    zero = (0, 0, 0, 0, 0, None, "0.00", "0.00")
    expected = monthly(
        spark,
        [
            ("2027-01", "Basic", *zero),
            ("2027-01", "Standard", *zero),
            ("2027-01", "Premium", 2, 2, 2, 1, 0, 0.0, "39.98", "39.98"),
            # The as-of month's churn is not known yet: null (not 0) in every plan, with or without subscribers.
            ("2027-02", "Basic", 0, 0, 1, 0, None, None, "0.00", "0.00"),
            ("2027-02", "Standard", 0, 0, 0, 0, None, None, "0.00", "0.00"),
            ("2027-02", "Premium", 2, 1, 0, 0, None, None, "39.98", "19.99"),
        ],
    )
    assert_tables_equal(build_agg_subscriptions_monthly(subscriptions, dt.date(2027, 2, 15)), expected)


def test_new_subscribers_earliest_subscription_only_and_cancellations_by_cancelled_at_month(spark):
    subscriptions = subscription_fact(
        spark,
        [
            # u1's earliest is Basic (Jan): new for Basic only, not for the Premium that follows.
            ("u1-basic", "u1", "Basic", "9.99", "2027-01-05", "2027-01-20", "2027-01-10T10:00:00"),
            ("u1-premium", "u1", "Premium", "19.99", "2027-01-20", "2027-03-01", "2027-01-31T23:59:59.999"),
            ("u2", "u2", "Standard", "14.99", "2027-01-25", "2027-02-25", "2027-02-01T00:00:00"),
            ("u3", "u3", "Standard", "14.99", "2027-02-03", None, None),
            # Cancelled in March, service until Apr 1.
            ("u4", "u4", "Premium", "19.99", "2027-03-01", "2027-04-01", "2027-03-02T08:00:00"),
        ],
    )
    columns = ["month", "plan", "new_subscribers", "cancellations"]
    expected = monthly(
        spark,
        [
            ("2027-01", "Basic", 1, 1),
            ("2027-01", "Standard", 1, 0),
            ("2027-01", "Premium", 0, 1),  # cancelled Jan 31 23:59:59.999 UTC, service ended Mar 1
            ("2027-02", "Basic", 0, 0),
            ("2027-02", "Standard", 1, 1),  # u3 new; u2 cancelled Feb 1 00:00:00 UTC
            ("2027-02", "Premium", 0, 0),
            ("2027-03", "Basic", 0, 0),
            ("2027-03", "Standard", 0, 0),
            ("2027-03", "Premium", 1, 1),
        ],
        columns,
    )
    actual = build_agg_subscriptions_monthly(subscriptions, dt.date(2027, 3, 5)).select(*columns)
    assert_tables_equal(actual, expected)


def test_revenue_and_mrr_per_month_and_plan(spark):
    # as-of 2027-02-20.
    subscriptions = subscription_fact(
        spark,
        [
            ("s1", "u1", "Basic", "9.99", "2027-01-15", None, None),  # billed Jan 15, Feb 15
            ("s2", "u2", "Basic", "8.49", "2027-01-31", "2027-02-25", None),  # billed Jan 31 only
            ("s3", "u3", "Standard", "14.99", "2027-01-02", "2027-01-31", None),  # billed Jan 2; gone on Jan 31
            ("s4", "u4", "Premium", "19.99", "2027-02-20", None, None),  # starts and billed on the as-of date
        ],
    )
    columns = ["month", "plan", "revenue", "mrr"]
    expected = monthly(
        spark,
        [
            ("2027-01", "Basic", "18.48", "18.48"),
            ("2027-01", "Standard", "14.99", "0.00"),
            ("2027-01", "Premium", "0.00", "0.00"),
            ("2027-02", "Basic", "9.99", "18.48"),  # s2 still active on l = Feb 20
            ("2027-02", "Standard", "0.00", "0.00"),
            ("2027-02", "Premium", "19.99", "19.99"),
        ],
        columns,
    )
    actual = build_agg_subscriptions_monthly(subscriptions, dt.date(2027, 2, 20)).select(*columns)
    assert_tables_equal(actual, expected)
