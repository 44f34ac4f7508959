"""Recommendation impressions and conversions (metrics.md, "Recommendations"): an impression is one item
of one list; it converts when the same user starts a player session on that title within 24 hours after
the list's timestamp, both ends included. Expected rows are worked out by hand."""
from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from dataflix_spark.gold.recommendations import (
    build_agg_recommendation_rank,
    build_agg_recommendations_daily,
    explode_impressions,
    with_conversion,
)
from dataflix_spark.schemas import GOLD_SCHEMAS
from tests.unit.helpers import lists_df, subset, ts

# The `fact_playback_sessions` columns conversion reads (plus the key and date, for readability).
SESSIONS = subset(
    GOLD_SCHEMAS["fact_playback_sessions"], "session_id", "user_key", "content_id", "session_date", "session_start"
)


def items(*content_ids: str) -> list[tuple]:
    """Items ranked 1, 2, … in the order given (scores descending)."""
    return [(c, rank, 1.0 - rank / 10) for rank, c in enumerate(content_ids, start=1)]


@pytest.fixture(scope="module")
def impressions(spark):
    recommendations = lists_df(
        spark,
        [
            ("r1", "u1", ts("2027-03-01T10:00:00"), "collab_filter_v2", "home_row",
             items("c1", "c2", "c3", "c4", "c5", "c6"), 1, "run"),
            ("r2", "u1", ts("2027-03-01T23:30:00"), "trending", "home_row", items("c1", "c7"), 1, "run"),
            ("r3", "u2", ts("2027-03-02T00:15:00"), "collab_filter_v2", "post_play", items("c4"), 1, "run"),
            ("r4", "u3", ts("2027-03-02T08:00:00"), "trending", "post_play", items("c1"), 1, "run"),
            # The same title twice in one list: two impressions.
            ("r5", "u4", ts("2027-03-03T12:00:00"), "trending", "post_play", items("c8", "c8"), 1, "run"),
        ],
    )
    played = [
        # (session, user, content, session_start)
        ("p1", "u1", "c1", ts("2027-03-02T10:00:00")),  # exactly 24 h after r1: converts r1/c1 (and r2/c1)
        ("p2", "u1", "c2", ts("2027-03-02T10:00:01")),  # 24 h + 1 s after r1: too late
        ("p3", "u1", "c3", ts("2027-03-01T09:59:59")),  # 1 s before r1 was shown
        ("p4", "u2", "c4", ts("2027-03-01T11:00:00")),  # u2's, not u1's; and before r3
        ("p5", "u1", "c9", ts("2027-03-01T10:30:00")),  # u1 in the window, but a title not in r1
        ("p6", "u1", "c6", ts("2027-03-01T10:00:00")),  # at the very moment r1 was shown
        ("p7", "u1", "c6", ts("2027-03-01T11:00:00")),  # a second match for r1/c6: still one conversion
        ("p8", "u2", "c4", ts("2027-03-02T20:00:00")),  # converts r3/c4 (u2), not r1/c4 (u1)
        ("p9", "u4", "c8", ts("2027-03-03T13:00:00")),  # converts both r5 items
    ]
    sessions = spark.createDataFrame([(s, u, c, start.date(), start) for s, u, c, start in played], SESSIONS)
    return explode_impressions(recommendations).transform(with_conversion(sessions))


def test_explode_impressions_one_row_per_item(spark):
    recommendations = lists_df(
        spark,
        [
            ("r1", "u1", ts("2027-03-01T10:00:00"), "trending", "home_row", items("c1", "c2"), 1, "run"),
            ("r2", "u2", ts("2027-03-02T10:00:00"), "trending", "post_play", items("c1"), 1, "run"),
        ],
    )
    schema = T.StructType(
        [
            T.StructField("doc_id", T.StringType()),
            T.StructField("position", T.IntegerType()),
            T.StructField("user_key", T.StringType()),
            T.StructField("shown_at", T.TimestampType()),
            T.StructField("algorithm", T.StringType()),
            T.StructField("surface", T.StringType()),
            T.StructField("content_id", T.StringType()),
            T.StructField("rank", T.IntegerType()),
        ]
    )
    expected = spark.createDataFrame(
        [
            ("r1", 0, "u1", ts("2027-03-01T10:00:00"), "trending", "home_row", "c1", 1),
            ("r1", 1, "u1", ts("2027-03-01T10:00:00"), "trending", "home_row", "c2", 2),
            ("r2", 0, "u2", ts("2027-03-02T10:00:00"), "trending", "post_play", "c1", 1),
        ],
        schema,
    )
    assert_df_equality(explode_impressions(recommendations), expected, ignore_row_order=True, ignore_nullable=True)


def test_conversion_window_user_and_content(spark, impressions):
    schema = T.StructType(
        [
            T.StructField("doc_id", T.StringType()),
            T.StructField("rank", T.IntegerType()),
            T.StructField("content_id", T.StringType()),
            T.StructField("converted", T.BooleanType()),
        ]
    )
    expected = spark.createDataFrame(
        [
            ("r1", 1, "c1", True),  # session exactly 24 h later (end of window included)
            ("r1", 2, "c2", False),  # 24 h + 1 s later
            ("r1", 3, "c3", False),  # session started before the list was shown
            ("r1", 4, "c4", False),  # only another user played c4
            ("r1", 5, "c5", False),  # u1 played another title
            ("r1", 6, "c6", True),  # session at the list's own timestamp (start included); two matches
            ("r2", 1, "c1", True),  # the same session converts a second list's impression
            ("r2", 2, "c7", False),
            ("r3", 1, "c4", True),
            ("r4", 1, "c1", False),  # u3 has no sessions
            ("r5", 1, "c8", True),
            ("r5", 2, "c8", True),
        ],
        schema,
    )
    actual = impressions.select("doc_id", "rank", "content_id", "converted")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_agg_recommendations_daily(spark, impressions):
    expected = spark.createDataFrame(
        [
            # Two items of one list (r1: c1 and c6) convert: 2 of its 6 impressions.
            (dt.date(2027, 3, 1), "collab_filter_v2", "home_row", 6, 2, 2 / 6),
            # r2 was shown on Mar 1 (23:30 UTC); its conversion happened on Mar 2: counted on Mar 1.
            (dt.date(2027, 3, 1), "trending", "home_row", 2, 1, 0.5),
            (dt.date(2027, 3, 2), "collab_filter_v2", "post_play", 1, 1, 1.0),
            (dt.date(2027, 3, 2), "trending", "post_play", 1, 0, 0.0),
            (dt.date(2027, 3, 3), "trending", "post_play", 2, 2, 1.0),
        ],
        GOLD_SCHEMAS["agg_recommendations_daily"],
    )
    assert_df_equality(
        build_agg_recommendations_daily(impressions), expected, ignore_row_order=True, ignore_nullable=True
    )


def test_agg_recommendation_rank(spark, impressions):
    expected = spark.createDataFrame(
        [
            ("collab_filter_v2", 1, 2, 2, 1.0),  # r1/c1 and r3/c4
            ("collab_filter_v2", 2, 1, 0, 0.0),
            ("collab_filter_v2", 3, 1, 0, 0.0),
            ("collab_filter_v2", 4, 1, 0, 0.0),
            ("collab_filter_v2", 5, 1, 0, 0.0),
            ("collab_filter_v2", 6, 1, 1, 1.0),
            ("trending", 1, 3, 2, 2 / 3),  # r2/c1 and r5/c8 convert, r4/c1 does not
            ("trending", 2, 2, 1, 0.5),  # r2/c7 does not, r5/c8 does
        ],
        GOLD_SCHEMAS["agg_recommendation_rank"],
    )
    assert_df_equality(
        build_agg_recommendation_rank(impressions), expected, ignore_row_order=True, ignore_nullable=True
    )
