"""`dim_content` and `agg_content_daily`, definition by definition (metrics.md, "Content").

`agg_content_daily` is fed as gold/build.py composes it: silver content → `dim_content`, whose
durations judge completion in `fact_playback_sessions`. Expected values are worked out by hand.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from dataflix_spark.gold.content import build_agg_content_daily, build_dim_content
from dataflix_spark.gold.playback_sessions import build_fact_playback_sessions
from dataflix_spark.schemas import GOLD_SCHEMAS, SILVER_SCHEMAS
from tests.unit.helpers import assert_table, day, event, events_df


def content_df(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, SILVER_SCHEMAS["content"])


def test_dim_content_newest_version_wins_with_first_genre_and_joined_genres(spark):
    rows = [
        ("c1", "c1", "Old Title", "movie", None, ["Drama"], "en", "PG", 2019, 5400, 100, "run-1"),
        ("c1", "c1", "New Title", "movie", None, ["Thriller", "Drama"], "en", "PG-13", 2019, 5460, 300, "run-3"),
        ("c1", "c1", "Middle Title", "movie", None, ["Horror"], "en", "R", 2019, 5430, 200, "run-2"),
        ("c2", "c2", "Pilot", "episode", "series-7", ["Drama", "Thriller", "Crime"], "es", "TV-14", 2021, 2700, 50,
         "run-1"),
        ("c3", "c3", "Laughs", "movie", None, ["Comedy"], "hi", "G", 2001, 6000, 10, "run-1"),
    ]
    assert_table(
        build_dim_content(content_df(spark, rows)),
        GOLD_SCHEMAS["dim_content"],
        [
            ("c1", "New Title", "movie", None, "Thriller", "Thriller, Drama", "en", "PG-13", 2019, 5460),
            ("c2", "Pilot", "episode", "series-7", "Drama", "Drama, Thriller, Crime", "es", "TV-14", 2021, 2700),
            ("c3", "Laughs", "movie", None, "Comedy", "Comedy", "hi", "G", 2001, 6000),
        ],
    )


def viewing(doc_prefix: str, session_id: str, user: str, content: str, start: str, stop: str, position: float):
    """A session that plays from `start` to `stop` and ends at `position`."""
    return [
        event(f"{doc_prefix}-1", session_id, "play", start, user=user, content=content),
        event(f"{doc_prefix}-2", session_id, "stop", stop, user=user, content=content, position=position),
    ]


def test_agg_content_daily_sessions_viewers_watch_time_and_completion_rate(spark):
    catalogue = content_df(
        spark,
        [
            # c1 now lasts 100 s (an older version said 200 s): completion is judged on 100 s.
            ("c1", "c1", "Short", "movie", None, ["Drama"], "en", "PG", 2020, 200, 1, "run-1"),
            ("c1", "c1", "Short", "movie", None, ["Drama"], "en", "PG", 2020, 100, 2, "run-2"),
        ],
    )
    events = (
        viewing("a", "s1", "u1", "c1", "2026-10-01 10:00:00", "2026-10-01 10:01:00", 90.0)  # exactly 90 %: done
        + viewing("b", "s2", "u1", "c1", "2026-10-01 11:00:00", "2026-10-01 11:00:30", 89.9)  # just under
        + viewing("c", "s3", "u2", "c1", "2026-10-01 12:00:00", "2026-10-01 12:01:00", 95.0)
        # starts on 2026-10-01, ends on 2026-10-02: counted on its session_date, 2026-10-01.
        + viewing("d", "s4", "u3", "c1", "2026-10-01 23:59:30", "2026-10-02 00:00:30", 100.0)
        + viewing("e", "s5", "u2", "c1", "2026-10-02 09:00:00", "2026-10-02 09:00:20", 10.0)
        # not in the catalogue: still a row, never completed.
        + viewing("f", "s6", "u3", "c-unknown", "2026-10-01 15:00:00", "2026-10-01 15:00:10", 5000.0)
    )
    sessions = build_fact_playback_sessions(events_df(spark, events), build_dim_content(catalogue))
    assert_table(
        build_agg_content_daily(sessions),
        GOLD_SCHEMAS["agg_content_daily"],
        [
            # s1, s2, s3, s4: users u1, u2, u3; watch 60 + 30 + 60 + 60 s; completed s1, s3, s4 -> 3/4.
            (day("2026-10-01"), "c1", 4, 3, 210_000, 3, 0.75),
            (day("2026-10-02"), "c1", 1, 1, 20_000, 0, 0.0),
            (day("2026-10-01"), "c-unknown", 1, 1, 10_000, 0, 0.0),
        ],
    )


def test_agg_content_daily_completion_rate_of_two_in_three(spark):
    catalogue = content_df(spark, [("c9", "c9", "Doc", "movie", None, ["Documentary"], "en", "G", 2015, 60, 1, "r")])
    events = (
        viewing("a", "s1", "u1", "c9", "2026-10-03 10:00:00", "2026-10-03 10:01:00", 54.0)  # 0.9 * 60 = 54
        + viewing("b", "s2", "u2", "c9", "2026-10-03 11:00:00", "2026-10-03 11:01:00", 60.0)
        + viewing("c", "s3", "u3", "c9", "2026-10-03 12:00:00", "2026-10-03 12:00:40", 40.0)
    )
    sessions = build_fact_playback_sessions(events_df(spark, events), build_dim_content(catalogue))
    assert_table(
        build_agg_content_daily(sessions),
        GOLD_SCHEMAS["agg_content_daily"],
        [(day("2026-10-03"), "c9", 3, 3, 160_000, 2, 2 / 3)],
    )
