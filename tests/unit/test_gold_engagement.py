"""`fact_engagement_sessions`, definition by definition (metrics.md, "Engagement sessions").

Input: `fact_playback_sessions` rows (the columns the builder reads). A player session opens a new
engagement session when it starts more than 30 minutes after the latest `session_end` seen so far
in the current one. Expected values are worked out by hand in the comments.
"""
from __future__ import annotations

from contextlib import contextmanager

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dataflix_spark.gold.engagement_sessions import build_fact_engagement_sessions
from dataflix_spark.schemas import GOLD_SCHEMAS
from tests.unit.helpers import assert_table, day, subset, ts

# The `fact_playback_sessions` columns the builder reads (plus the date).
PLAYER_SESSIONS = subset(
    GOLD_SCHEMAS["fact_playback_sessions"], "session_id", "user_key", "content_id", "device_type", "session_date",
    "session_start", "session_end", "watch_time_ms",
)
# Every column but the generated id, which has its own test.
ENGAGEMENT = subset(
    GOLD_SCHEMAS["fact_engagement_sessions"], "user_key", "engagement_date", "engagement_start", "engagement_end",
    "duration_ms", "player_sessions", "titles", "devices", "watch_time_ms",
)


def player_session(
    session_id: str, user: str, start: str, end: str, *, content: str = "c1", device: str = "tv", watch_ms: int = 0
) -> tuple:
    begin = ts(start)
    return (session_id, user, content, device, begin.date(), begin, ts(end), watch_ms)


def sessions_df(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, PLAYER_SESSIONS)


@contextmanager
def session_conf(spark: SparkSession, settings: dict[str, str]):
    """Sets SQL options for the block, then restores them (the session is shared by the suite)."""
    before = {key: spark.conf.get(key) for key in settings}
    try:
        for key, value in settings.items():
            spark.conf.set(key, value)
        yield
    finally:
        for key, value in before.items():
            spark.conf.set(key, value)


def test_a_gap_of_exactly_30_minutes_joins_and_one_second_more_opens_a_new_session(spark):
    rows = [
        player_session("s3", "u1", "2026-10-01 11:30:01", "2026-10-01 11:40:00", watch_ms=500_000),
        player_session("s1", "u1", "2026-10-01 10:00:00", "2026-10-01 10:20:00", watch_ms=1_000_000),
        player_session("s2", "u1", "2026-10-01 10:50:00", "2026-10-01 11:00:00", watch_ms=300_000),
        # u2: 30 min + 1 ms after the previous end is "more than 30 minutes".
        player_session("t1", "u2", "2026-10-01 10:00:00", "2026-10-01 10:10:00.000"),
        player_session("t2", "u2", "2026-10-01 10:40:00.001", "2026-10-01 10:45:00"),
        # u3: 31 minutes.
        player_session("v1", "u3", "2026-10-01 10:00:00", "2026-10-01 10:10:00"),
        player_session("v2", "u3", "2026-10-01 10:41:00", "2026-10-01 10:45:00"),
    ]
    # u1: s2 starts 10:50 = 10:20 + 30 min -> joins (10:00-11:00); s3 starts 11:30:01 = 11:00 + 30 min 1 s -> new.
    assert_table(
        build_fact_engagement_sessions(sessions_df(spark, rows)),
        ENGAGEMENT,
        [
            ("u1", day("2026-10-01"), ts("2026-10-01 10:00:00"), ts("2026-10-01 11:00:00"), 3_600_000, 2, 1, 1,
             1_300_000),
            ("u1", day("2026-10-01"), ts("2026-10-01 11:30:01"), ts("2026-10-01 11:40:00"), 599_000, 1, 1, 1, 500_000),
            ("u2", day("2026-10-01"), ts("2026-10-01 10:00:00"), ts("2026-10-01 10:10:00"), 600_000, 1, 1, 1, 0),
            ("u2", day("2026-10-01"), ts("2026-10-01 10:40:00.001"), ts("2026-10-01 10:45:00"), 299_999, 1, 1, 1, 0),
            ("u3", day("2026-10-01"), ts("2026-10-01 10:00:00"), ts("2026-10-01 10:10:00"), 600_000, 1, 1, 1, 0),
            ("u3", day("2026-10-01"), ts("2026-10-01 10:41:00"), ts("2026-10-01 10:45:00"), 240_000, 1, 1, 1, 0),
        ],
    )


def test_the_gap_is_measured_from_the_latest_end_so_far_not_the_previous_sessions_end(spark):
    rows = [
        player_session("s5", "u1", "2026-10-01 13:11:00", "2026-10-01 13:20:00"),
        player_session("s4", "u1", "2026-10-01 12:30:00", "2026-10-01 12:40:00"),
        player_session("s3", "u1", "2026-10-01 11:40:00", "2026-10-01 11:50:00"),
        player_session("s2", "u1", "2026-10-01 10:10:00", "2026-10-01 10:20:00"),
        player_session("s1", "u1", "2026-10-01 10:00:00", "2026-10-01 12:00:00"),
    ]
    # s1 runs 10:00-12:00. s2 is inside it. s3 starts 80 min after s2's end but within s1 -> joins.
    # s4 starts 12:30 = latest end 12:00 + 30 min -> joins; latest end becomes 12:40 (not s3's 11:50).
    # s5 starts 13:11 = 12:40 + 31 min -> new.
    assert_table(
        build_fact_engagement_sessions(sessions_df(spark, rows)),
        ENGAGEMENT,
        [
            ("u1", day("2026-10-01"), ts("2026-10-01 10:00:00"), ts("2026-10-01 12:40:00"), 9_600_000, 4, 1, 1, 0),
            ("u1", day("2026-10-01"), ts("2026-10-01 13:11:00"), ts("2026-10-01 13:20:00"), 540_000, 1, 1, 1, 0),
        ],
    )


def test_titles_and_devices_are_distinct_counts_and_users_never_share_a_session(spark):
    rows = [
        player_session("a1", "u1", "2026-10-01 20:00:00", "2026-10-01 20:30:00", content="c1", device="tv",
                       watch_ms=1_700_000),
        player_session("a2", "u1", "2026-10-01 20:35:00", "2026-10-01 21:00:00", content="c1", device="mobile",
                       watch_ms=1_400_000),
        player_session("a3", "u1", "2026-10-01 21:10:00", "2026-10-01 21:50:00", content="c2", device="tv",
                       watch_ms=2_300_000),
        # u2 watches at the same time: a separate engagement session.
        player_session("b1", "u2", "2026-10-01 20:05:00", "2026-10-01 20:25:00", content="c3", device="web",
                       watch_ms=1_100_000),
    ]
    assert_table(
        build_fact_engagement_sessions(sessions_df(spark, rows)),
        ENGAGEMENT,
        [
            ("u1", day("2026-10-01"), ts("2026-10-01 20:00:00"), ts("2026-10-01 21:50:00"), 6_600_000, 3, 2, 2,
             5_400_000),
            ("u2", day("2026-10-01"), ts("2026-10-01 20:05:00"), ts("2026-10-01 20:25:00"), 1_200_000, 1, 1, 1,
             1_100_000),
        ],
    )


def test_engagement_date_is_the_date_of_the_engagement_start_across_midnight(spark):
    rows = [
        player_session("n1", "u1", "2026-10-01 23:50:00", "2026-10-02 00:10:00"),
        player_session("n2", "u1", "2026-10-02 00:20:00", "2026-10-02 00:30:00"),
    ]
    assert_table(
        build_fact_engagement_sessions(sessions_df(spark, rows)),
        ENGAGEMENT,
        [("u1", day("2026-10-01"), ts("2026-10-01 23:50:00"), ts("2026-10-02 00:30:00"), 2_400_000, 2, 1, 1, 0)],
    )


def test_engagement_session_id_is_unique_and_the_same_on_every_build(spark):
    rows = [
        player_session("s1", "u1", "2026-10-01 10:00:00", "2026-10-01 10:20:00"),
        player_session("s2", "u1", "2026-10-01 10:30:00", "2026-10-01 10:40:00"),
        player_session("s3", "u1", "2026-10-01 12:00:00", "2026-10-01 12:10:00"),
        # u2 has sessions at exactly the same times as u1: still different ids.
        player_session("s4", "u2", "2026-10-01 10:00:00", "2026-10-01 10:20:00"),
        player_session("s5", "u2", "2026-10-01 12:00:00", "2026-10-01 12:10:00"),
        # two sessions starting at the same instant (ordered by session_id).
        player_session("s7", "u3", "2026-10-01 09:00:00", "2026-10-01 09:05:00"),
        player_session("s6", "u3", "2026-10-01 09:00:00", "2026-10-01 09:10:00"),
    ]
    keys = ["user_key", "engagement_start", "engagement_session_id"]
    first = build_fact_engagement_sessions(sessions_df(spark, rows)).select(*keys).localCheckpoint()
    # The second build sees the rows in another order, in other partitions, with another shuffle layout.
    with session_conf(spark, {"spark.sql.shuffle.partitions": "7", "spark.sql.adaptive.enabled": "false"}):
        reordered = sessions_df(spark, list(reversed(rows))).repartition(3)
        second = build_fact_engagement_sessions(reordered).select(*keys).localCheckpoint()
    assert_df_equality(first, second, ignore_row_order=True)

    summary = first.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_distinct("engagement_session_id").alias("distinct_ids"),
        F.count("engagement_session_id").alias("non_null_ids"),
    )
    # u1: 10:00-10:40 and 12:00-12:10; u2: two; u3: one -> 5 engagement sessions, 5 distinct ids.
    expected = spark.createDataFrame([(5, 5, 5)], "rows long, distinct_ids long, non_null_ids long")
    assert_df_equality(summary, expected, ignore_nullable=True)
