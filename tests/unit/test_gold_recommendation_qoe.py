"""`agg_recommendation_qoe` (docs/metrics-extra.md): plays that followed a recommendation of their title to the
same user within 24 hours (both ends included) against the other plays. Expected rows are worked out by hand."""
from __future__ import annotations

import datetime as dt

from dataflix_spark.gold.recommendation_qoe import build_agg_recommendation_qoe
from dataflix_spark.gold.recommendations import explode_impressions
from dataflix_spark.schemas import GOLD_SCHEMAS
from tests.unit.helpers import assert_table, lists_df, session, sessions_df, ts


def test_agg_recommendation_qoe(spark):
    lists = lists_df(
        spark,
        [
            ("r1", "u1", ts("2027-03-01T10:00:00"), "collab_filter_v2", "home_row",
             [("c1", 1, 0.9), ("c2", 2, 0.8)], 1, "run"),
        ],
    )
    sessions = sessions_df(spark, [
        # recommended: u1 was shown c1 and c2 at 10:00 on Mar 1
        session("p1", "u1", "2027-03-02T10:00:00", content="c1", startup_ms=2000, rebuffer_ms=0, watch_ms=90_000,
                completed=True),  # exactly 24 h later: still recommended
        session("p5", "u1", "2027-03-01T11:00:00", content="c1", startup_ms=1000, rebuffer_ms=100, watch_ms=9_900),
        session("p6", "u1", "2027-03-01T10:00:00", content="c2", startup_ms=1501, rebuffer_ms=0, watch_ms=20_000,
                completed=True),  # at the very moment the list was shown
        # other plays
        session("p2", "u1", "2027-03-02T10:00:01", content="c2", startup_ms=3000, watch_ms=1_000),  # 24 h + 1 s
        session("p3", "u2", "2027-03-01T12:00:00", content="c1", startup_ms=1000, rebuffer_ms=600, watch_ms=60_000,
                completed=True),  # another user's title
        session("p4", "u1", "2027-03-01T09:59:59", content="c1", startup_ms=None, watch_ms=0),  # before the list
        session("p7", "u1", "2027-03-01T12:00:00", content="c9", device="mobile", startup_ms=700),  # not recommended
    ])
    mar1, mar2 = dt.date(2027, 3, 1), dt.date(2027, 3, 2)
    expected = [
        # date, device, source, sessions, with startup, total startup, avg, p90, watch, rebuffer, ratio,
        # avg watch, completions, completion rate
        (mar1, "tv", "recommended", 2, 2, 2501, 1251, 1501, 29_900, 100, 100 / 30_000, 14_950, 1, 0.5),
        (mar1, "tv", "other", 2, 1, 1000, 1000, 1000, 60_000, 600, 600 / 60_600, 30_000, 1, 0.5),
        (mar1, "mobile", "other", 1, 1, 700, 700, 700, 60_000, 0, 0.0, 60_000, 0, 0.0),
        (mar2, "tv", "recommended", 1, 1, 2000, 2000, 2000, 90_000, 0, 0.0, 90_000, 1, 1.0),
        (mar2, "tv", "other", 1, 1, 3000, 3000, 3000, 1_000, 0, 0.0, 1_000, 0, 0.0),
    ]
    actual = build_agg_recommendation_qoe(sessions, explode_impressions(lists))
    assert_table(actual, GOLD_SCHEMAS["agg_recommendation_qoe"], expected)
