"""Dashboard tables (metrics.md, "Dashboard"): `kpi_monthly`, `dim_user`, `dim_date`. Expected rows are
worked out by hand from the contract; `kpi_monthly` is built as `gold.build` builds it, from
`fact_subscriptions`, `agg_subscriptions_monthly` and the daily buffering and error aggregates."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataflix_spark.gold.dashboard import build_dim_date, build_dim_user, build_kpi_monthly, latest_event_country
from dataflix_spark.gold.qoe import build_agg_buffering_daily, build_agg_errors_daily
from dataflix_spark.gold.subscriptions import build_agg_subscriptions_monthly
from dataflix_spark.schemas import GOLD_SCHEMAS, SILVER_SCHEMAS
from tests.unit.helpers import day, lists_df, subscription_fact, subset, ts

# The `fact_playback_sessions` columns the dashboard reads (plus the key).
SESSIONS = subset(GOLD_SCHEMAS["fact_playback_sessions"], "session_id", "user_key", "session_start")


def events(spark, rows):
    """Silver playback events from (id, user, session, event_type, timestamp, country) tuples."""
    return spark.createDataFrame(
        [
            (
                eid, user, session, "c1", "tv", event_type, ts(at), day(at[:10]), 0.0,
                1500 if event_type == "buffer" else None,
                "DECODE" if event_type == "error" else None,
                False if event_type == "error" else None,
                country, "1.0", 1, "run",
            )
            for eid, user, session, event_type, at, country in rows
        ],
        SILVER_SCHEMAS["playback_events"],
    )


def sessions(spark, rows):
    return spark.createDataFrame([(sid, user, ts(start)) for sid, user, start in rows], SESSIONS)


def catalogue(spark, content_ids):
    return spark.createDataFrame(
        [(c, f"Title {c}", "movie", None, "Drama", "Drama", "en", "PG", 2020, 5400) for c in content_ids],
        GOLD_SCHEMAS["dim_content"],
    )


def kpi(spark, rows):
    """Expected `kpi_monthly` rows: month as "YYYY-MM", revenue as text."""
    return spark.createDataFrame(
        [(day(f"{m}-01"), Decimal(revenue), *counts) for m, revenue, *counts in rows], GOLD_SCHEMAS["kpi_monthly"]
    )


def build_kpi(fact_subscriptions, playback_sessions, playback_events, dim_content, as_of):
    """kpi_monthly from these facts, through the daily aggregates it sums (as gold.build does)."""
    monthly = build_agg_subscriptions_monthly(fact_subscriptions, as_of)
    buffering, errors = build_agg_buffering_daily(playback_events), build_agg_errors_daily(playback_events)
    # agg_qoe_daily's `sessions` per session date (tests/unit/test_gold_qoe.py); these sessions have no device.
    qoe_daily = playback_sessions.groupBy(F.to_date("session_start").alias("date")).agg(F.count("*").alias("sessions"))
    return build_kpi_monthly(fact_subscriptions, monthly, qoe_daily, buffering, errors, dim_content, as_of)


# --- kpi_monthly -----------------------------------------------------------------------------------


def test_kpi_monthly_from_earliest_event_month_to_as_of_month(spark):
    as_of = dt.date(2027, 3, 10)  # l: Dec 31, Jan 31, Feb 28, and Mar 10 (the as-of date)
    subscriptions = subscription_fact(
        spark,
        [
            # Billed Jan 5, Feb 5, Mar 5.
            ("s1", "u1", "Basic", "9.99", "2027-01-05", None, None, "US"),
            # Billed Jan 20 only (Feb 20 = endDate); cancelled Feb 1.
            ("s2", "u2", "Premium", "19.99", "2027-01-20", "2027-02-20", "2027-02-01T08:00:00", "GB"),
            # u2 comes back on another plan: not a new subscriber. Billed Mar 1.
            ("s3", "u2", "Standard", "14.99", "2027-03-01", None, None, "GB"),
            # Billed Feb 10 and Mar 10 (= as-of date); cancelled Feb 25; a subscriber on Mar 10, gone Mar 20.
            ("s4", "u3", "Basic", "9.99", "2027-02-10", "2027-03-20", "2027-02-25T00:00:00", "DE"),
        ],
    )
    playback_events = events(
        spark,
        [
            # The earliest event (December 2026) starts the grid, before the first subscription.
            ("e1", "u4", "A", "start", "2026-12-31T23:59:59", None),
            ("e2", "u4", "A", "buffer", "2027-01-01T00:00:05", None),  # counted in January (its own month)
            ("e3", "u1", "B", "start", "2027-01-15T20:00:00", None),
            ("e4", "u1", "B", "error", "2027-01-15T20:00:02", None),
            ("e5", "u1", "D", "start", "2027-02-28T23:30:00", None),
            ("e6", "u1", "D", "buffer", "2027-03-01T00:10:00", None),
            ("e7", "u3", "C", "start", "2027-03-09T18:00:00", None),
            ("e8", "u3", "C", "buffer", "2027-03-09T18:05:00", None),
            ("e9", "u3", "C", "error", "2027-03-09T18:06:00", None),
            ("e10", "u3", "C", "error", "2027-03-09T18:07:00", None),
        ],
    )
    playback_sessions = sessions(
        spark,
        [
            ("A", "u4", "2026-12-31T23:59:59"),
            ("B", "u1", "2027-01-15T20:00:00"),
            ("D", "u1", "2027-02-28T23:30:00"),  # runs into March; counted in February, when it started
            ("C", "u3", "2027-03-09T18:00:00"),
        ],
    )
    expected = kpi(
        spark,
        [
            # month, revenue, subscribers, new, cancellations, content, sessions, buffers, errors
            ("2026-12", "0.00", 0, 0, 0, 3, 1, 0, 0),
            ("2027-01", "29.98", 2, 2, 0, 3, 1, 1, 1),  # s1 + s2
            ("2027-02", "19.98", 2, 1, 2, 3, 1, 0, 0),  # s1 + s4; on Feb 28: u1, u3
            ("2027-03", "34.97", 3, 0, 0, 3, 1, 2, 2),  # s1 + s3 + s4; on Mar 10: u1, u2, u3
        ],
    )
    actual = build_kpi(subscriptions, playback_sessions, playback_events, catalogue(spark, ["c1", "c2", "c3"]), as_of)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_kpi_monthly_from_earliest_subscription_without_events_or_catalogue(spark):
    as_of = dt.date(2027, 3, 1)
    subscriptions = subscription_fact(spark, [("s1", "u1", "Basic", "9.99", "2027-02-10", None, None, "US")])
    expected = kpi(
        spark,
        [
            ("2027-02", "9.99", 1, 1, 0, 0, 0, 0, 0),
            ("2027-03", "0.00", 1, 0, 0, 0, 0, 0, 0),  # next billing Mar 10 is after the as-of date
        ],
    )
    actual = build_kpi(subscriptions, sessions(spark, []), events(spark, []), catalogue(spark, []), as_of)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


# --- dim_user --------------------------------------------------------------------------------------

def test_dim_user_one_row_per_user_seen_anywhere(spark):
    as_of = dt.date(2027, 3, 10)
    subscriptions = subscription_fact(
        spark,
        [
            ("s1", "u1", "Basic", "9.99", "2027-01-05", None, None, "US"),
            ("s2", "u2", "Premium", "19.99", "2027-01-20", "2027-02-20", "2027-02-01T08:00:00", "GB"),
            ("s3", "u2", "Standard", "14.99", "2027-03-01", None, None, "IE"),
            ("s4", "u3", "Basic", "9.99", "2027-02-10", "2027-03-20", None, None),
            ("s7", "u7", "Premium", "19.99", "2027-01-01", "2027-03-10", None, "NL"),  # ends on the as-of date
            ("s8", "u8", "Standard", "14.99", "2027-03-10", None, None, "SE"),  # starts on the as-of date
        ],
    )
    playback_events = events(
        spark,
        [
            ("e1", "u1", "A", "start", "2027-02-01T10:00:00", "CA"),
            ("e2", "u3", "B", "start", "2027-02-11T10:00:00", "DE"),
            ("e3", "u4", "C", "start", "2027-01-01T10:00:00", "FR"),
            ("e4", "u4", "D", "start", "2027-02-01T10:00:00", "ES"),
            ("e5", "u4", "E", "start", "2027-03-01T10:00:00", None),
        ],
    )
    recommendations = lists_df(
        spark,
        [
            ("r1", "u1", ts("2027-02-01T09:00:00"), "trending", "home_row", [("c1", 1, 0.9)], 1, "run"),
            ("r2", "u6", ts("2027-02-01T09:00:00"), "trending", "home_row", [("c1", 1, 0.9)], 1, "run"),
        ],
    )
    expected = spark.createDataFrame(
        [
            ("u1", "US", day("2027-01-05"), "Basic", True),  # the subscription's country, not the events'
            ("u2", "IE", day("2027-01-20"), "Standard", True),  # latest subscription's country
            ("u3", "DE", day("2027-02-10"), "Basic", True),  # no country on the subscription: the events'
            ("u4", "ES", None, None, False),  # events only: latest event with a country
            ("u6", None, None, None, False),  # recommendations only
            ("u7", "NL", day("2027-01-01"), None, False),  # endDate = as-of date: not active on it
            ("u8", "SE", day("2027-03-10"), "Standard", True),  # startDate = as-of date: active on it
        ],
        GOLD_SCHEMAS["dim_user"],
    )
    actual = build_dim_user(subscriptions, latest_event_country(playback_events), recommendations, as_of)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


LATEST = T.StructType([
    T.StructField("user_key", T.StringType()), T.StructField("event_ts", T.TimestampType()),
    T.StructField("doc_id", T.StringType()), T.StructField("country", T.StringType()),
])


def test_latest_event_country_skips_events_without_one_and_breaks_ties_by_id(spark):
    playback_events = events(
        spark,
        [
            ("e1", "u1", "A", "start", "2027-02-01T10:00:00", "CA"),
            ("e2", "u1", "A", "play", "2027-02-01T10:00:05", None),  # later, but no country
            ("e3", "u2", "B", "start", "2027-02-01T10:00:00", "DE"),
            ("e4", "u2", "B", "play", "2027-02-01T10:00:00", "AT"),  # same time: the greater id wins
            ("e5", "u3", "C", "start", "2027-02-01T10:00:00", None),  # never a country: still a row
        ],
    )
    expected = spark.createDataFrame(
        [
            ("u1", ts("2027-02-01T10:00:00"), "e1", "CA"),
            ("u2", ts("2027-02-01T10:00:00"), "e4", "AT"),
            ("u3", None, None, None),
        ],
        LATEST,
    )
    actual = latest_event_country(playback_events)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_latest_event_country_of_its_own_rows_and_new_events_equals_that_of_all_events(spark):
    """What an incremental run relies on: the stored rows stand for every event already seen."""
    old = events(
        spark,
        [
            ("e1", "u1", "A", "start", "2027-02-01T10:00:00", "CA"),
            ("e2", "u2", "B", "start", "2027-02-01T10:00:00", None),
            ("e3", "u3", "C", "start", "2027-02-03T10:00:00", "FR"),
        ],
    )
    new = events(
        spark,
        [
            ("e4", "u1", "D", "start", "2027-02-02T10:00:00", "US"),  # newer: replaces CA
            ("e5", "u2", "E", "start", "2027-02-02T10:00:00", "GB"),  # the first with a country
            ("e6", "u3", "F", "start", "2027-02-01T10:00:00", "ES"),  # late but older: FR stays
            ("e7", "u4", "G", "start", "2027-02-01T10:00:00", None),  # a new user without one
        ],
    )
    columns = ["user_key", "event_ts", "doc_id", "country"]
    stepwise = latest_event_country(latest_event_country(old).unionByName(new.select(*columns)))
    at_once = latest_event_country(old.unionByName(new))
    assert_df_equality(stepwise, at_once, ignore_row_order=True, ignore_nullable=True)
    assert {r["user_key"]: r["country"] for r in stepwise.collect()} == {"u1": "US", "u2": "GB", "u3": "FR", "u4": None}


# --- dim_date --------------------------------------------------------------------------------------

def dates(spark, name, values):
    return spark.createDataFrame([(day(v),) for v in values], T.StructType([T.StructField(name, T.DateType())]))


def test_dim_date_contiguous_across_a_year_end(spark):
    date_columns = [
        dates(spark, "session_date", ["2027-12-30", None]),
        dates(spark, "end_date", [None]),
        dates(spark, "month", ["2028-01-01"]),
        dates(spark, "date", ["2028-01-02"]),
    ]
    expected = spark.createDataFrame(
        [
            # 2027-01-01 is a Friday and 2027 has 365 days, so 2028-01-01 is a Saturday.
            (day("2027-12-30"), 2027, day("2027-12-01"), "December", 4, False),
            (day("2027-12-31"), 2027, day("2027-12-01"), "December", 5, False),  # no input has this date
            (day("2028-01-01"), 2028, day("2028-01-01"), "January", 6, True),
            (day("2028-01-02"), 2028, day("2028-01-01"), "January", 7, True),
        ],
        GOLD_SCHEMAS["dim_date"],
    )
    actual = build_dim_date(date_columns, dt.date(2027, 12, 31))
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_dim_date_extends_to_the_as_of_date(spark):
    expected = spark.createDataFrame(
        [
            (day("2027-02-26"), 2027, day("2027-02-01"), "February", 5, False),  # Friday
            (day("2027-02-27"), 2027, day("2027-02-01"), "February", 6, True),
            (day("2027-02-28"), 2027, day("2027-02-01"), "February", 7, True),
            (day("2027-03-01"), 2027, day("2027-03-01"), "March", 1, False),  # Monday
            (day("2027-03-02"), 2027, day("2027-03-01"), "March", 2, False),
        ],
        GOLD_SCHEMAS["dim_date"],
    )
    actual = build_dim_date([dates(spark, "start_date", ["2027-02-26"])], dt.date(2027, 3, 2))
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
