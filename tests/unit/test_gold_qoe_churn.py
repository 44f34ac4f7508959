"""QoE buckets, `agg_qoe_churn_monthly` and `revenue_at_risk_daily` (docs/metrics-extra.md). Every expected row
is worked out by hand from the definitions, not from the code."""
from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import types as T

from dataflix_spark.config import QoeThresholds
from dataflix_spark.gold.qoe_churn import (
    BUCKETS,
    build_agg_qoe_churn_monthly,
    build_revenue_at_risk_daily,
    experience,
)
from dataflix_spark.schemas import DEVICE_TYPES, GOLD_SCHEMAS, PLANS
from tests.unit.helpers import assert_table, day, session, sessions_df, subscription_fact

DEFAULT = QoeThresholds()  # rebuffer ratio 2 %, startup p90 4 s
BUCKET_OF = T.StructType([T.StructField("user_key", T.StringType()), T.StructField("qoe_bucket", T.StringType())])


def buckets(spark, rows, thresholds=DEFAULT):
    return experience(sessions_df(spark, rows), ["user_key"], thresholds)


# --- buckets --------------------------------------------------------------------------------------


def test_bucket_thresholds_are_strictly_above_and_in_priority_order(spark):
    rows = [
        # exactly 2 % rebuffering (20 / (980 + 20)) and a p90 of exactly 4 s: neither is above
        session("a1", "exact", "2027-01-05T10:00:00", rebuffer_ms=20, watch_ms=980, startup_ms=4000),
        # 21 / 1000 = 2.1 %, and a slow start too: rebuffering comes first
        session("b1", "rebuf", "2027-01-05T10:00:00", rebuffer_ms=21, watch_ms=979, startup_ms=9000),
        # a fatal failure beats heavy rebuffering in another session
        session("c1", "fatal", "2027-01-05T10:00:00", fatal=True, startup_ms=None, watch_ms=0),
        session("c2", "fatal", "2027-01-06T10:00:00", rebuffer_ms=500, watch_ms=500),
        # p90 of (1000, 4001) is the 2nd value: 4001 > 4000
        session("d1", "slow", "2027-01-05T10:00:00", startup_ms=1000),
        session("d2", "slow", "2027-01-06T10:00:00", startup_ms=4001),
        # rebuffering is over all the viewer's sessions: 30 / (1470 + 30) = 2 %, not above
        session("e1", "pooled", "2027-01-05T10:00:00", rebuffer_ms=30, watch_ms=470),
        session("e2", "pooled", "2027-01-06T10:00:00", rebuffer_ms=0, watch_ms=1000),
        # never played (exit before start): no ratio, no startup time → good
        session("f1", "exited", "2027-01-05T10:00:00", startup_ms=None, watch_ms=0),
    ]
    assert_table(
        buckets(spark, rows),
        BUCKET_OF,
        [("exact", "good"), ("rebuf", "high_rebuffering"), ("fatal", "fatal_failure"), ("slow", "slow_startup"),
         ("pooled", "good"), ("exited", "good")],
    )


def test_bucket_thresholds_are_configurable(spark):
    rows = [
        session("a1", "two_percent", "2027-01-05T10:00:00", rebuffer_ms=20, watch_ms=980, startup_ms=1000),
        session("b1", "four_seconds", "2027-01-05T10:00:00", startup_ms=4500),
    ]
    strict = QoeThresholds(rebuffer_ratio=0.01, startup_p90_ms=5000)
    expected = [("two_percent", "high_rebuffering"), ("four_seconds", "good")]
    assert_table(buckets(spark, rows, strict), BUCKET_OF, expected)


# --- agg_qoe_churn_monthly ------------------------------------------------------------------------

CHURN_AS_OF = dt.date(2027, 3, 15)


def month(text: str) -> dt.date:
    return day(f"{text}-01")


def test_agg_qoe_churn_monthly(spark):
    subscriptions = subscription_fact(spark, [
        ("s-fatal", "u_fatal", "Basic", "9.99", "2027-01-01", None, None),
        ("s-exact", "u_exact", "Basic", "9.99", "2027-01-01", "2027-02-01", "2027-01-20T09:00:00"),
        ("s-rebuf", "u_rebuf", "Basic", "9.99", "2027-01-01", "2027-02-20", "2027-02-10T09:00:00"),
        ("s-slow", "u_slow", "Premium", "22.99", "2027-01-01", None, None),
        ("s-none", "u_none", "Standard", "15.49", "2027-01-01", None, None),
        ("s-late", "u_late", "Basic", "9.99", "2027-01-10", None, None),
        # a plan change on the 1st is not churn: another subscription is active on Feb 1
        ("s-switch-1", "u_switch", "Basic", "9.99", "2027-01-01", "2027-02-01", "2027-01-25T09:00:00"),
        ("s-switch-2", "u_switch", "Premium", "22.99", "2027-02-01", None, None),
    ])
    sessions = sessions_df(spark, [
        session("f1", "u_fatal", "2027-01-03T20:00:00", fatal=True),
        session("f2", "u_fatal", "2027-01-04T20:00:00", rebuffer_ms=5000, watch_ms=5000),
        session("f3", "u_fatal", "2027-02-03T20:00:00"),
        session("x1", "u_exact", "2027-01-03T20:00:00", rebuffer_ms=20, watch_ms=980, startup_ms=4000),
        session("r1", "u_rebuf", "2027-01-31T23:59:59", rebuffer_ms=21, watch_ms=979, startup_ms=9000),
        session("s1", "u_slow", "2027-01-02T20:00:00", startup_ms=1000),
        session("s2", "u_slow", "2027-01-09T20:00:00", startup_ms=4001),
        session("s3", "u_slow", "2027-03-15T23:00:00"),  # on the as-of date: counts
        session("n1", "u_none", "2027-03-16T08:00:00", fatal=True),  # after the as-of date: ignored
        session("l1", "u_late", "2027-01-12T20:00:00", fatal=True),  # not a subscriber on Jan 1
    ])
    # (month, plan, bucket) → (subscribers, churned); every other cell is 0 subscribers.
    cells = {
        ("2027-01", "Basic", "fatal_failure"): (1, 0),      # u_fatal: fatal beats rebuffering
        ("2027-01", "Basic", "good"): (1, 1),               # u_exact: exactly at both thresholds; gone on Feb 1
        ("2027-01", "Basic", "high_rebuffering"): (1, 0),   # u_rebuf churns in February, not January
        ("2027-01", "Basic", "no_playback"): (1, 0),        # u_switch
        ("2027-01", "Premium", "slow_startup"): (1, 0),     # u_slow
        ("2027-01", "Standard", "no_playback"): (1, 0),     # u_none
        ("2027-02", "Basic", "good"): (1, 0),               # u_fatal
        ("2027-02", "Basic", "no_playback"): (2, 1),        # u_late, u_rebuf (churned)
        ("2027-02", "Premium", "no_playback"): (2, 0),      # u_slow, u_switch
        ("2027-02", "Standard", "no_playback"): (1, 0),     # u_none
        ("2027-03", "Basic", "no_playback"): (2, None),     # u_fatal, u_late; the as-of month's churn is unknown
        ("2027-03", "Premium", "good"): (1, None),          # u_slow
        ("2027-03", "Premium", "no_playback"): (1, None),   # u_switch
        ("2027-03", "Standard", "no_playback"): (1, None),  # u_none: its session after the as-of date is ignored
    }
    expected = []
    for m, plan, bucket in itertools.product(("2027-01", "2027-02", "2027-03"), PLANS, BUCKETS):
        subscribers, churned = cells.get((m, plan, bucket), (0, None if m == "2027-03" else 0))
        rate = churned / subscribers if subscribers and churned is not None else None
        expected.append((month(m), plan, bucket, subscribers, churned, rate))
    actual = build_agg_qoe_churn_monthly(subscriptions, sessions, CHURN_AS_OF, DEFAULT)
    assert_table(actual, GOLD_SCHEMAS["agg_qoe_churn_monthly"], expected)


# --- revenue_at_risk_daily ------------------------------------------------------------------------

RISK_AS_OF = dt.date(2027, 3, 20)


def test_revenue_at_risk_daily(spark):
    subscriptions = subscription_fact(spark, [
        ("s-a", "ua", "Basic", "9.99", "2027-01-01", None, None),
        ("s-b", "ub", "Premium", "22.99", "2027-01-01", None, None),
        # cancelled on Mar 12, paid up to Apr 1: no longer at risk from Mar 12
        ("s-c", "uc", "Standard", "15.49", "2027-01-01", "2027-04-01", "2027-03-12T10:00:00"),
        ("s-d", "ud", "Basic", "9.99", "2027-01-01", "2027-03-14", None),  # ends on Mar 14
        ("s-e", "ue", "Basic", "9.99", "2027-01-01", None, None),
        ("s-g", "ug", "Basic", "9.99", "2027-01-01", None, None),
    ])
    sessions = sessions_df(spark, [
        session("a1", "ua", "2027-03-10T12:00:00", fatal=True),  # at risk Mar 10 .. 16 (day -6 in, day -7 out)
        session("b1", "ub", "2027-03-18T12:00:00", device="mobile", rebuffer_ms=100, watch_ms=900),
        session("b2", "ub", "2027-03-18T13:00:00", device="tv", startup_ms=6000),
        session("b3", "ub", "2027-03-21T13:00:00", device="web", fatal=True),  # after the as-of date
        session("c1", "uc", "2027-03-11T12:00:00", device="web", fatal=True),
        session("d1", "ud", "2027-03-12T12:00:00", device="console", fatal=True),
        session("e1", "ue", "2027-03-15T12:00:00"),  # good
        session("f1", "uf", "2027-03-15T12:00:00", fatal=True),  # not a subscriber
        # the same bucket on two devices: attributed to the one with more sessions
        session("g1", "ug", "2027-03-20T08:00:00", device="tablet", fatal=True),
        session("g2", "ug", "2027-03-20T09:00:00", device="web", fatal=True),
        session("g3", "ug", "2027-03-20T10:00:00", device="web"),
    ])
    basic, standard, premium = "9.99", "15.49", "22.99"
    cells = {}  # (date, plan, device) → (subscribers, mrr, attributed subscribers, attributed mrr)
    for d in range(10, 17):
        cells[(d, "Basic", "tv")] = (1, basic, 1, basic)
    for d in (18, 19, 20):
        cells[(d, "Premium", "mobile")] = (1, premium, 1, premium)  # rebuffering is worse than slow startup
        cells[(d, "Premium", "tv")] = (1, premium, 0, "0")
    cells[(11, "Standard", "web")] = (1, standard, 1, standard)
    cells[(12, "Basic", "console")] = cells[(13, "Basic", "console")] = (1, basic, 1, basic)
    cells[(20, "Basic", "web")] = (1, basic, 1, basic)
    cells[(20, "Basic", "tablet")] = (1, basic, 0, "0")

    expected = []
    for d, plan, device in itertools.product(range(10, 21), PLANS, DEVICE_TYPES):  # earliest session .. as-of
        subs, mrr, attributed, attributed_mrr = cells.get((d, plan, device), (0, "0", 0, "0"))
        expected.append(
            (dt.date(2027, 3, d), plan, device, subs, Decimal(mrr), attributed, Decimal(attributed_mrr))
        )
    actual = build_revenue_at_risk_daily(subscriptions, sessions, RISK_AS_OF, DEFAULT)
    assert_table(actual, GOLD_SCHEMAS["revenue_at_risk_daily"], expected)


def test_revenue_at_risk_from_a_window_of_sessions_with_a_fixed_first_date(spark):
    """An incremental update builds some dates (`dates`, and only those) from only the sessions their 7-day
    windows reach; `first_date` keeps the zero-filled grid where the full table starts, even for dates with no
    session left in reach."""
    subscriptions = subscription_fact(spark, [("s-a", "ua", "Basic", "9.99", "2027-01-01", None, None)])
    sessions = sessions_df(spark, [
        session("a0", "ua", "2027-03-01T12:00:00"),  # the table's first date
        session("a1", "ua", "2027-03-10T12:00:00", fatal=True),
    ])
    in_reach = sessions.where("session_date BETWEEN DATE'2027-03-04' AND DATE'2027-03-12'")
    dates = "date BETWEEN DATE'2027-03-08' AND DATE'2027-03-12'"
    full = build_revenue_at_risk_daily(subscriptions, sessions, RISK_AS_OF, DEFAULT).where(dates)
    partial = build_revenue_at_risk_daily(
        subscriptions, in_reach, RISK_AS_OF, DEFAULT, first_date=dt.date(2027, 3, 1),
        dates=[dt.date(2027, 3, d) for d in range(8, 13)],
    )
    assert full.count() == 5 * len(PLANS) * len(DEVICE_TYPES)
    assert_df_equality(partial, full, ignore_row_order=True)
