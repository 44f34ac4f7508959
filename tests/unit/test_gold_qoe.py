"""Quality of experience, definition by definition (metrics.md, "Quality of experience"):
nearest-rank percentiles, `agg_qoe_daily`, `agg_buffering_daily`, `agg_errors_daily`.

`agg_qoe_daily` is fed by `fact_playback_sessions` built from silver events, as gold/build.py
composes them; the buffering and error tables read silver events directly. Expected values are
worked out by hand in the comments.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataflix_spark.gold.percentiles import agg_percentiles, nearest_rank
from dataflix_spark.gold.qoe import build_agg_buffering_daily, build_agg_errors_daily, build_agg_qoe_daily
from dataflix_spark.schemas import GOLD_SCHEMAS
from tests.unit.helpers import assert_table, day, event, events_df, playback_fact, subset

QOE_DAILY = GOLD_SCHEMAS["agg_qoe_daily"]


def seconds_after(start: str, seconds: float) -> str:
    return (dt.datetime.fromisoformat(start) + dt.timedelta(seconds=seconds)).isoformat(sep=" ")


# --- percentiles: the p-th of n values is the value at 1-based rank ceil(p * n) ---------------


PERCENTILE_GROUPS = {
    "one": [42],
    "ten": [700, 100, 1000, 300, 900, 200, 500, 800, 400, 600],
    "twenty": [5 * k for k in (20, 3, 17, 9, 1, 14, 6, 11, 19, 2, 8, 16, 4, 13, 10, 7, 18, 12, 15, 5)],
    "dups": [3, 9, 3],
    "nulls": [None, 8, None, 4],
    "hundred": list(range(100, 0, -1)),
    "only_nulls": [None, None],
}
PERCENTILE_ROWS = [
    # n=1: every rank is 1.
    ("one", 42, 42, 42, 42),
    # n=10: ranks 5, 9, ceil(9.5)=10, ceil(9.9)=10 of 100..1000.
    ("ten", 500, 900, 1000, 1000),
    # n=20 (5..100 by 5): ranks 10, 18, 19, ceil(19.8)=20.
    ("twenty", 50, 90, 95, 100),
    # n=3, sorted 3, 3, 9: ranks ceil(1.5)=2, ceil(2.7)=3, ceil(2.85)=3, ceil(2.97)=3.
    ("dups", 3, 9, 9, 9),
    # nulls excluded: n=2, sorted 4, 8: ranks 1, ceil(1.8)=2, 2, 2.
    ("nulls", 4, 8, 8, 8),
    # n=100 (1..100): ranks 50, 90, 95, 99 exactly (no floating-point drift to 91, 96, 100).
    ("hundred", 50, 90, 95, 99),
]
PERCENTILE_PERMILLE = {"p50": 500, "p90": 900, "p95": 950, "p99": 990}
PERCENTILE_SCHEMA = T.StructType(
    [T.StructField("g", T.StringType())] + [T.StructField(name, T.LongType()) for name in ("p50", "p90", "p95", "p99")]
)


def test_nearest_rank_of_collected_values_matches_the_window_percentiles(spark):
    """`nearest_rank` (small groups, values collected) gives `agg_percentiles`' values; a group with only nulls
    has a row with null percentiles instead of no row."""
    values = spark.createDataFrame([(g, v) for g, vs in PERCENTILE_GROUPS.items() for v in vs], "g string, v long")
    actual = values.groupBy("g").agg(F.sort_array(F.collect_list("v")).alias("vs")).select(
        "g", *[nearest_rank("vs", p).alias(name) for name, p in PERCENTILE_PERMILLE.items()]
    )
    assert_table(actual, PERCENTILE_SCHEMA, PERCENTILE_ROWS + [("only_nulls", None, None, None, None)])


def test_nearest_rank_percentiles(spark):
    values = spark.createDataFrame([(g, v) for g, vs in PERCENTILE_GROUPS.items() for v in vs], "g string, v long")
    actual = agg_percentiles(values, ["g"], "v", PERCENTILE_PERMILLE)
    assert_table(actual, PERCENTILE_SCHEMA, PERCENTILE_ROWS)  # a group with only nulls has no row


# --- agg_qoe_daily ------------------------------------------------------------------------------

QOE_RATES = subset(
    QOE_DAILY, "date", "device_type", "sessions", "sessions_with_start", "exits_before_start", "ebvs_rate",
    "failures", "failure_rate",
)


def test_qoe_session_counts_ebvs_rate_and_failure_rate(spark):
    rows = [
        # 2026-10-01 tv
        event("a1", "s1", "start", "2026-10-01 10:00:00"),
        event("a2", "s1", "play", "2026-10-01 10:00:01"),
        event("a3", "s1", "stop", "2026-10-01 10:30:00"),
        event("b1", "s2", "start", "2026-10-01 11:00:00"),  # exits before start
        event("b2", "s2", "stop", "2026-10-01 11:00:09"),
        event("c1", "s3", "start", "2026-10-01 12:00:00"),  # fatal error: a failure, not an EBVS
        event("c2", "s3", "play", "2026-10-01 12:00:02"),
        event("c3", "s3", "error", "2026-10-01 12:01:00", fatal=True),
        event("d1", "s4", "play", "2026-10-01 13:00:00"),  # no start
        event("d2", "s4", "stop", "2026-10-01 13:10:00"),
        event("e1", "s5", "start", "2026-10-01 14:00:00"),  # start + non-fatal error: neither
        event("e2", "s5", "error", "2026-10-01 14:00:04", fatal=False),
        # starts 2026-09-30 on tv, ends after midnight: counted on 2026-09-30; exits before start.
        event("f2", "s6", "stop", "2026-10-01 00:00:10"),
        event("f1", "s6", "start", "2026-09-30 23:59:50"),
        # 2026-10-01 web: no session has a start -> ebvs_rate null.
        event("g1", "s7", "play", "2026-10-01 10:00:00", device="web"),
        event("g2", "s7", "stop", "2026-10-01 10:05:00", device="web"),
        event("h1", "s8", "play", "2026-10-01 10:00:00", device="web"),
        event("h2", "s8", "error", "2026-10-01 10:00:30", device="web", fatal=True),
        # device from the session's first event: mobile.
        event("i2", "s9", "stop", "2026-10-01 10:05:00", device="tv"),
        event("i1", "s9", "play", "2026-10-01 10:00:00", device="mobile"),
    ]
    sessions = playback_fact(spark, rows)
    assert_table(
        build_agg_qoe_daily(sessions),
        QOE_RATES,
        [
            # s1..s5: with start s1, s2, s3, s5; EBVS s2 -> 1/4; fatal s3 -> 1/5.
            (day("2026-10-01"), "tv", 5, 4, 1, 0.25, 1, 0.2),
            (day("2026-09-30"), "tv", 1, 1, 1, 1.0, 0, 0.0),
            (day("2026-10-01"), "web", 2, 0, 0, None, 1, 0.5),
            (day("2026-10-01"), "mobile", 1, 0, 0, None, 0, 0.0),
        ],
    )


def test_qoe_startup_percentiles_over_non_null_startup_times(spark):
    rows = []
    # tv: 10 sessions with startup 100, 200, ..., 1000 ms (given in a scrambled order), one without a start
    # and one with play before start (both null startup, excluded): n=10 -> p50 = 5th, p90 = 9th, p95 = 10th.
    for k in (3, 10, 1, 7, 5, 9, 2, 8, 4, 6):
        start = f"2026-10-01 1{k % 10}:00:00"
        rows += [
            event(f"tv{k}-1", f"tv{k}", "start", start),
            event(f"tv{k}-2", f"tv{k}", "play", seconds_after(start, k / 10)),
        ]
    rows += [
        event("nostart-1", "tv-nostart", "play", "2026-10-01 20:00:00"),
        event("late-1", "tv-late", "play", "2026-10-01 21:00:00"),
        event("late-2", "tv-late", "start", "2026-10-01 21:00:01"),
    ]
    # console: 20 sessions with startup 50, 100, ..., 1000 ms: p50 = 10th (500), p90 = 18th (900), p95 = 19th (950).
    for k in range(1, 21):
        start = f"2026-10-01 08:{k:02d}:00"
        rows += [
            event(f"co{k}-1", f"co{k}", "start", start, device="console"),
            event(f"co{k}-2", f"co{k}", "play", seconds_after(start, k * 0.05), device="console"),
        ]
    # web: one session, no start -> no startup time -> null percentiles.
    rows += [event("w-1", "web1", "play", "2026-10-01 09:00:00", device="web")]
    assert_table(
        build_agg_qoe_daily(playback_fact(spark, rows)),
        subset(QOE_DAILY, "date", "device_type", "sessions", "startup_p50_ms", "startup_p90_ms", "startup_p95_ms"),
        [
            (day("2026-10-01"), "tv", 12, 500, 900, 1000),
            (day("2026-10-01"), "console", 20, 500, 900, 950),
            (day("2026-10-01"), "web", 1, None, None, None),
        ],
    )


def test_qoe_watch_and_rebuffer_sums_ratio_and_rebuffers_per_hour(spark):
    rows = [
        # tv r1: playing 10:00->10:10 600_000 + 10:10->10:20 600_000 + 10:20->10:33:20 800_000 = 2_000_000;
        #        2 rebuffers of 100_000 -> watch 1_800_000.
        event("r1-1", "r1", "start", "2026-10-01 10:00:00"),
        event("r1-2", "r1", "play", "2026-10-01 10:00:00"),
        event("r1-3", "r1", "buffer", "2026-10-01 10:10:00", buffer_ms=100_000),
        event("r1-4", "r1", "buffer", "2026-10-01 10:20:00", buffer_ms=100_000),
        event("r1-5", "r1", "stop", "2026-10-01 10:33:20"),
        # tv r2: 30 minutes of play, no rebuffer.
        event("r2-1", "r2", "play", "2026-10-01 11:00:00"),
        event("r2-2", "r2", "stop", "2026-10-01 11:30:00"),
        # tv r3: a startup stall (buffer before the first play) adds nothing.
        event("r3-1", "r3", "start", "2026-10-01 12:00:00"),
        event("r3-2", "r3", "buffer", "2026-10-01 12:00:05", buffer_ms=3000),
        event("r3-3", "r3", "play", "2026-10-01 12:00:06"),
        event("r3-4", "r3", "stop", "2026-10-01 12:00:06"),
        # web: nothing watched, nothing rebuffered -> both ratios null.
        event("w1-1", "w1", "start", "2026-10-01 10:00:00", device="web"),
        event("w1-2", "w1", "stop", "2026-10-01 10:00:03", device="web"),
        # mobile: playing 2000, rebuffer 5000 -> watch 0: ratio 5000 / (0 + 5000) = 1.0, per hour null.
        event("m1-1", "m1", "play", "2026-10-01 10:00:00", device="mobile"),
        event("m1-2", "m1", "buffer", "2026-10-01 10:00:01", device="mobile", buffer_ms=5000),
        event("m1-3", "m1", "stop", "2026-10-01 10:00:02", device="mobile"),
    ]
    # tv: watch 1_800_000 + 1_800_000 = 3_600_000; rebuffer 200_000 in 2 stalls:
    #     ratio 200_000 / 3_800_000; per hour 2 / (3_600_000 / 3_600_000) = 2.0.
    assert_table(
        build_agg_qoe_daily(playback_fact(spark, rows)),
        subset(
            QOE_DAILY, "date", "device_type", "watch_time_ms", "rebuffer_ms", "rebuffer_count", "rebuffer_ratio",
            "rebuffers_per_hour",
        ),
        [
            (day("2026-10-01"), "tv", 3_600_000, 200_000, 2, 200_000 / 3_800_000, 2.0),
            (day("2026-10-01"), "web", 0, 0, 0, None, None),
            (day("2026-10-01"), "mobile", 0, 5000, 1, 1.0, None),
        ],
    )


# --- agg_buffering_daily ----------------------------------------------------------------------


def test_buffering_daily_counts_every_buffer_event_by_its_own_date_and_device(spark):
    rows = [
        # s1 (tv) starts 2026-10-01 23:00 and runs past midnight.
        event("a1", "s1", "start", "2026-10-01 23:00:00"),
        event("a2", "s1", "buffer", "2026-10-01 23:00:02", buffer_ms=400),  # before the first play: still counted
        event("a3", "s1", "play", "2026-10-01 23:00:03"),
        event("a4", "s1", "buffer", "2026-10-01 23:30:00", buffer_ms=1200),
        event("a5", "s1", "buffer", "2026-10-01 23:45:00", buffer_ms=200),
        event("a6", "s1", "buffer", "2026-10-02 00:00:05", buffer_ms=300),  # counted on 2026-10-02
        event("a7", "s1", "stop", "2026-10-02 00:10:00"),
        event("b1", "s2", "play", "2026-10-01 12:00:00", user="u2"),
        event("b2", "s2", "buffer", "2026-10-01 12:00:30", user="u2", buffer_ms=100),
        event("b3", "s2", "error", "2026-10-01 12:01:00", user="u2", fatal=True),
        # grouped by the buffer event's own device (tablet), not the session's first event's (mobile).
        event("c1", "s4", "play", "2026-10-01 13:00:00", user="u3", device="mobile"),
        event("c2", "s4", "buffer", "2026-10-01 13:00:10", user="u3", device="tablet", buffer_ms=250),
    ]
    # web: 101 stalls of 1..101 ms (a scrambled order: k -> 37k mod 101 is a permutation).
    rows.append(event("w0", "s3", "play", "2026-10-01 08:00:00", device="web"))
    for k in range(101):
        rows.append(
            event(f"w{k + 1:03d}", "s3", "buffer", seconds_after("2026-10-01 08:00:00", k + 1), device="web",
                  buffer_ms=(37 * k) % 101 + 1)
        )
    assert_table(
        build_agg_buffering_daily(events_df(spark, rows)),
        GOLD_SCHEMAS["agg_buffering_daily"],
        [
            # 400, 1200, 200, 100 -> sorted 100, 200, 400, 1200: ranks 2, ceil(3.6)=4, 4, 4.
            (day("2026-10-01"), "tv", 4, 1900, 200, 1200, 1200, 1200, 1200),
            (day("2026-10-02"), "tv", 1, 300, 300, 300, 300, 300, 300),
            (day("2026-10-01"), "tablet", 1, 250, 250, 250, 250, 250, 250),
            # n=101: ranks ceil(50.5)=51, ceil(90.9)=91, ceil(95.95)=96, ceil(99.99)=100; total 101*102/2.
            (day("2026-10-01"), "web", 101, 5151, 51, 91, 96, 100, 101),
        ],
    )


# --- agg_errors_daily -------------------------------------------------------------------------


def test_errors_daily_counts_events_fatal_events_distinct_sessions_and_users(spark):
    rows = [
        event("a0", "s1", "play", "2026-10-01 09:59:00", user="u1"),
        event("a1", "s1", "error", "2026-10-01 10:00:00", user="u1", error_code="DECODE", fatal=False),
        event("a2", "s1", "error", "2026-10-01 10:05:00", user="u1", error_code="DECODE", fatal=True),
        event("a3", "s1", "error", "2026-10-01 10:06:00", user="u1", error_code="NETWORK_TIMEOUT", fatal=True),
        event("a4", "s1", "error", "2026-10-02 00:00:01", user="u1", error_code="DECODE", fatal=False),
        event("a5", "s1", "stop", "2026-10-02 00:00:02", user="u1"),
        event("c1", "s3", "error", "2026-10-01 11:00:00", user="u1", error_code="DECODE", fatal=False),
        event("b1", "s2", "error", "2026-10-01 12:00:00", user="u2", error_code="DECODE", fatal=False),
        event("d0", "s4", "start", "2026-10-01 12:00:00", user="u2", device="web"),
        event("d1", "s4", "error", "2026-10-01 12:00:01", user="u2", device="web", error_code="DECODE",
              fatal=False),
    ]
    assert_table(
        build_agg_errors_daily(events_df(spark, rows)),
        GOLD_SCHEMAS["agg_errors_daily"],
        [
            # a1, a2, c1, b1: 4 events, 1 fatal, sessions s1, s3, s2, users u1, u2.
            (day("2026-10-01"), "tv", "DECODE", 4, 1, 3, 2),
            (day("2026-10-01"), "tv", "NETWORK_TIMEOUT", 1, 1, 1, 1),
            (day("2026-10-02"), "tv", "DECODE", 1, 0, 1, 1),
            (day("2026-10-01"), "web", "DECODE", 1, 0, 1, 1),
        ],
    )
