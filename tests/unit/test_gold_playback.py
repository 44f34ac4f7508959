"""`fact_playback_sessions`, definition by definition (metrics.md, "Player sessions").

Input: silver playback events (and catalogue durations). Every expected value is worked out by
hand from the contract's definitions; the arithmetic is in the comments. Inputs are given out of
timestamp order on purpose: the builder must order each session's events by (timestamp, id).
"""
from __future__ import annotations

from pyspark.sql import DataFrame

from dataflix_spark.schemas import GOLD_SCHEMAS
from tests.unit.helpers import assert_table, day, event, playback_fact, subset, ts

FACT = GOLD_SCHEMAS["fact_playback_sessions"]
# metrics.md's columns; the table also carries `has_start`, for `agg_qoe_daily` (decisions.md).
CONTRACT_COLUMNS = [name for name in FACT.fieldNames() if name != "has_start"]


def assert_fact(actual: DataFrame, columns: list[str], rows: list[tuple]) -> None:
    assert_table(actual, subset(FACT, *columns), rows)


def test_a_typical_session_has_every_contract_column_right(spark):
    rows = [
        event("e07", "s1", "stop", "2026-10-01 20:30:00", position=1498.75),
        event("e03", "s1", "buffer", "2026-10-01 20:10:00", position=598.75, buffer_ms=2000),
        event("e01", "s1", "start", "2026-10-01 20:00:00"),
        event("e05", "s1", "pause", "2026-10-01 20:20:00", position=1198.75),
        event("e02", "s1", "play", "2026-10-01 20:00:01.250"),
        event("e06", "s1", "play", "2026-10-01 20:25:00", position=1198.75),
        event("e04", "s1", "play", "2026-10-01 20:10:00", position=598.75),
    ]
    # Order: e01 start, e02 play, e03 buffer / e04 play (tie at 20:10, id order), e05 pause, e06 play, e07 stop.
    # startup = 20:00:01.250 - 20:00:00 = 1250. Rebuffers: e03 (after the first play) -> 1, 2000 ms.
    # playing = e02->e03 598_750 + e03->e04 0 + e04->e05 600_000 + e06->e07 300_000 = 1_498_750
    #   (e05 pause -> e06 play is not playing); watch = 1_498_750 - 2000 = 1_496_750.
    # completed: 1498.75 < 0.9 * 6000 = 5400 -> false.
    assert_fact(
        playback_fact(spark, rows),
        CONTRACT_COLUMNS,
        [
            (
                "s1", "u1", "c1", "tv", day("2026-10-01"), ts("2026-10-01 20:00:00"), ts("2026-10-01 20:30:00"),
                1250, 1, 2000, 1_496_750, 1, 0, False, False, 1498.75, False, "stop",
            )
        ],
    )


def test_user_content_device_come_from_the_first_event_with_timestamp_ties_broken_by_id(spark):
    rows = [
        event("t3", "s1", "stop", "2026-10-01 10:00:09", user="u1", content="c1", device="tv"),
        event("t2", "s1", "start", "2026-10-01 10:00:00", user="u1", content="c1", device="tv"),
        event("t1", "s1", "pause", "2026-10-01 10:00:00", user="u9", content="c9", device="web"),
        # s2: the earliest event arrives last.
        event("x2", "s2", "stop", "2026-10-01 11:00:05", user="u2", content="c2", device="tv"),
        event("x1", "s2", "start", "2026-10-01 10:59:59.999", user="u3", content="c3", device="mobile"),
    ]
    # s1: t1 and t2 tie at 10:00:00; "t1" < "t2", so t1 (u9, c9, web) is the first event.
    assert_fact(
        playback_fact(spark, rows),
        ["session_id", "user_key", "content_id", "device_type", "session_start", "session_end"],
        [
            ("s1", "u9", "c9", "web", ts("2026-10-01 10:00:00"), ts("2026-10-01 10:00:09")),
            ("s2", "u3", "c3", "mobile", ts("2026-10-01 10:59:59.999"), ts("2026-10-01 11:00:05")),
        ],
    )


def test_a_buffer_tied_with_the_first_play_is_a_rebuffer_only_when_its_id_sorts_after_the_play(spark):
    rows = [
        # sa: buffer "a2" sorts before play "a3" at 10:00:02 -> before the first play.
        event("a4", "sa", "stop", "2026-10-01 10:00:10"),
        event("a3", "sa", "play", "2026-10-01 10:00:02"),
        event("a2", "sa", "buffer", "2026-10-01 10:00:02", buffer_ms=700),
        event("a1", "sa", "start", "2026-10-01 10:00:00"),
        # sb: play "b2" sorts before buffer "b3" at 10:00:02 -> the buffer is a rebuffer.
        event("b4", "sb", "stop", "2026-10-01 10:00:10"),
        event("b3", "sb", "buffer", "2026-10-01 10:00:02", buffer_ms=700),
        event("b2", "sb", "play", "2026-10-01 10:00:02"),
        event("b1", "sb", "start", "2026-10-01 10:00:00"),
    ]
    # sa: playing = a3->a4 8000 (a2->a3 is a buffer before the first play); no rebuffer; watch 8000.
    # sb: playing = b2->b3 0 + b3->b4 8000 = 8000; rebuffer 700; watch 7300.
    assert_fact(
        playback_fact(spark, rows),
        ["session_id", "startup_time_ms", "rebuffer_count", "rebuffer_ms", "watch_time_ms"],
        [("sa", 2000, 0, 0, 8000), ("sb", 2000, 1, 700, 7300)],
    )


def test_a_buffer_before_the_first_play_is_not_a_rebuffer_and_its_interval_is_not_playing(spark):
    rows = [
        event("p4", "s1", "stop", "2026-10-01 10:00:10"),
        event("p3", "s1", "play", "2026-10-01 10:00:04"),
        event("p2", "s1", "buffer", "2026-10-01 10:00:03", buffer_ms=2500),
        event("p1", "s1", "start", "2026-10-01 10:00:00"),
        # s2 never plays: its buffer is no rebuffer and nothing is playing.
        event("q3", "s2", "stop", "2026-10-01 10:01:00"),
        event("q2", "s2", "buffer", "2026-10-01 10:00:30", buffer_ms=30_000),
        event("q1", "s2", "start", "2026-10-01 10:00:00"),
    ]
    # s1: playing = p3->p4 6000 only (p2->p3, 1 s, is the startup stall); startup 4000.
    assert_fact(
        playback_fact(spark, rows),
        ["session_id", "startup_time_ms", "rebuffer_count", "rebuffer_ms", "watch_time_ms"],
        [("s1", 4000, 0, 0, 6000), ("s2", None, 0, 0, 0)],
    )


def test_startup_time_is_first_play_minus_first_start_else_null(spark):
    rows = [
        # no start: startup null, the play still counts as watching.
        event("n2", "no_start", "stop", "2026-10-01 10:01:00"),
        event("n1", "no_start", "play", "2026-10-01 10:00:00"),
        # play before start: 10:00:00 - 10:00:05 = -5000 -> null. playing = play->start 5000.
        event("b3", "play_first", "stop", "2026-10-01 10:00:30"),
        event("b2", "play_first", "start", "2026-10-01 10:00:05"),
        event("b1", "play_first", "play", "2026-10-01 10:00:00"),
        # two starts and two plays: first play 10:00:02 - first start 10:00:00 = 2000.
        event("m4", "two_each", "play", "2026-10-01 10:00:06"),
        event("m3", "two_each", "start", "2026-10-01 10:00:05"),
        event("m2", "two_each", "play", "2026-10-01 10:00:02"),
        event("m1", "two_each", "start", "2026-10-01 10:00:00"),
        # play at the same instant as start: 0 is a valid startup time.
        event("z2", "instant", "play", "2026-10-01 10:00:00"),
        event("z1", "instant", "start", "2026-10-01 10:00:00"),
        # millisecond timestamps: 10:00:00.350 - 10:00:00.100 = 250; playing 10:00:00.350 -> 10:00:01.999 = 1649.
        event("ms3", "millis", "stop", "2026-10-01 10:00:01.999"),
        event("ms2", "millis", "play", "2026-10-01 10:00:00.350"),
        event("ms1", "millis", "start", "2026-10-01 10:00:00.100"),
    ]
    # two_each playing: m2->m3 3000 + m4 (last event, no next) 0 = 3000.
    assert_fact(
        playback_fact(spark, rows),
        ["session_id", "startup_time_ms", "watch_time_ms"],
        [
            ("no_start", None, 60_000),
            ("play_first", None, 5000),
            ("two_each", 2000, 3000),
            ("instant", 0, 0),
            ("millis", 250, 1649),
        ],
    )


def test_exited_before_start_needs_a_start_and_neither_play_nor_error(spark):
    rows = [
        event("a1", "start_stop", "start", "2026-10-01 10:00:00"),
        event("a2", "start_stop", "stop", "2026-10-01 10:00:07"),
        event("b1", "start_only", "start", "2026-10-01 10:00:00"),
        event("c1", "start_error", "start", "2026-10-01 10:00:00"),
        event("c2", "start_error", "error", "2026-10-01 10:00:03", fatal=False),
        event("d1", "start_fatal", "start", "2026-10-01 10:00:00"),
        event("d2", "start_fatal", "error", "2026-10-01 10:00:03", fatal=True),
        event("e1", "start_play", "start", "2026-10-01 10:00:00"),
        event("e2", "start_play", "play", "2026-10-01 10:00:01"),
        event("f1", "no_start", "pause", "2026-10-01 10:00:00"),
        event("f2", "no_start", "stop", "2026-10-01 10:00:01"),
    ]
    assert_fact(
        playback_fact(spark, rows),
        ["session_id", "exited_before_start", "ended_by"],
        [
            ("start_stop", True, "stop"),
            ("start_only", True, "abandoned"),
            ("start_error", False, "abandoned"),
            ("start_fatal", False, "error"),
            ("start_play", False, "abandoned"),
            ("no_start", False, "stop"),
        ],
    )


def test_errors_fatal_flag_and_how_the_session_ended(spark):
    rows = [
        # non-fatal error, then stop -> stop
        event("a1", "nonfatal_stop", "play", "2026-10-01 10:00:00"),
        event("a2", "nonfatal_stop", "error", "2026-10-01 10:00:05", fatal=False),
        event("a3", "nonfatal_stop", "stop", "2026-10-01 10:00:09"),
        # fatal error, then a stop -> error wins over stop
        event("b1", "fatal_stop", "play", "2026-10-01 10:00:00"),
        event("b2", "fatal_stop", "error", "2026-10-01 10:00:05", fatal=True, error_code="DRM_LICENSE"),
        event("b3", "fatal_stop", "stop", "2026-10-01 10:00:06"),
        # two errors, only the first fatal
        event("c1", "two_errors", "play", "2026-10-01 10:00:00"),
        event("c2", "two_errors", "error", "2026-10-01 10:00:01", fatal=True),
        event("c3", "two_errors", "error", "2026-10-01 10:00:02", fatal=False),
        # non-fatal error and no stop -> abandoned
        event("d1", "nonfatal_open", "play", "2026-10-01 10:00:00"),
        event("d2", "nonfatal_open", "error", "2026-10-01 10:00:05", fatal=False),
        # no error, no stop -> abandoned
        event("e1", "open", "start", "2026-10-01 10:00:00"),
        event("e2", "open", "play", "2026-10-01 10:00:01"),
    ]
    assert_fact(
        playback_fact(spark, rows),
        ["session_id", "error_count", "fatal_error", "ended_by"],
        [
            ("nonfatal_stop", 1, False, "stop"),
            ("fatal_stop", 1, True, "error"),
            ("two_errors", 2, True, "error"),
            ("nonfatal_open", 1, False, "abandoned"),
            ("open", 0, False, "abandoned"),
        ],
    )


def test_watch_time_clamps_at_zero_when_rebuffering_exceeds_playing(spark):
    rows = [
        event("w3", "s1", "stop", "2026-10-01 10:00:02"),
        event("w2", "s1", "buffer", "2026-10-01 10:00:01", buffer_ms=5000),
        event("w1", "s1", "play", "2026-10-01 10:00:00"),
    ]
    # playing = w1->w2 1000 + w2->w3 1000 = 2000; rebuffer 5000; watch = max(0, -3000) = 0.
    assert_fact(
        playback_fact(spark, rows),
        ["session_id", "rebuffer_count", "rebuffer_ms", "watch_time_ms"],
        [("s1", 1, 5000, 0)],
    )


def test_several_rebuffers_are_summed_and_each_counts_as_playing_until_the_next_event(spark):
    rows = [
        event("r5", "s1", "stop", "2026-10-01 10:05:00"),
        event("r4", "s1", "buffer", "2026-10-01 10:03:00", buffer_ms=1500),
        event("r3", "s1", "buffer", "2026-10-01 10:02:00", buffer_ms=500),
        event("r2", "s1", "play", "2026-10-01 10:00:00"),
        event("r1", "s1", "start", "2026-10-01 09:59:58"),
    ]
    # playing = r2->r3 120_000 + r3->r4 60_000 + r4->r5 120_000 = 300_000; rebuffer 2000 -> watch 298_000.
    assert_fact(
        playback_fact(spark, rows),
        ["session_id", "rebuffer_count", "rebuffer_ms", "watch_time_ms"],
        [("s1", 2, 2000, 298_000)],
    )


def test_pause_intervals_are_not_watch_time(spark):
    rows = [
        event("k7", "s1", "stop", "2026-10-01 10:03:01"),
        event("k6", "s1", "pause", "2026-10-01 10:02:01"),
        event("k5", "s1", "play", "2026-10-01 10:01:51"),
        event("k4", "s1", "pause", "2026-10-01 10:01:21"),
        event("k3", "s1", "play", "2026-10-01 10:01:11"),
        event("k2", "s1", "pause", "2026-10-01 10:00:11"),
        event("k1", "s1", "play", "2026-10-01 10:00:01"),
    ]
    # playing = k1->k2 10_000 + k3->k4 10_000 + k5->k6 10_000 = 30_000 (pauses -> next are not counted).
    assert_fact(
        playback_fact(spark, rows),
        ["session_id", "pause_count", "watch_time_ms"],
        [("s1", 3, 30_000)],
    )


def test_completed_at_exactly_ninety_percent_of_duration_not_just_under_nor_for_unknown_content(spark):
    catalogue = {"c1": 6000, "c13": 13}
    rows = [
        # 5400 = 0.9 * 6000 exactly -> completed; the largest position counts even after a seek back.
        event("a1", "exact", "play", "2026-10-01 10:00:00", position=0.0),
        event("a2", "exact", "pause", "2026-10-01 11:30:00", position=5400.0),
        event("a3", "exact", "stop", "2026-10-01 11:31:00", position=100.0),
        event("b1", "just_under", "play", "2026-10-01 10:00:00", position=0.0),
        event("b2", "just_under", "stop", "2026-10-01 11:30:00", position=5399.999),
        # 0.9 * 13 = 11.7 exactly (in floating point 0.9 * 13 is 11.700000000000001).
        event("c1", "exact_13", "stop", "2026-10-01 10:00:12", content="c13", position=11.7),
        event("c0", "exact_13", "play", "2026-10-01 10:00:00", content="c13", position=0.0),
        event("d1", "under_13", "stop", "2026-10-01 10:00:12", content="c13", position=11.69),
        event("e1", "unknown", "stop", "2026-10-01 10:00:12", content="c-not-in-catalogue", position=99_999.0),
    ]
    assert_fact(
        playback_fact(spark, rows, catalogue),
        ["session_id", "content_id", "max_position_sec", "completed"],
        [
            ("exact", "c1", 5400.0, True),
            ("just_under", "c1", 5399.999, False),
            ("exact_13", "c13", 11.7, True),
            ("under_13", "c13", 11.69, False),
            ("unknown", "c-not-in-catalogue", 99_999.0, False),
        ],
    )


def test_max_position_is_the_largest_not_the_last(spark):
    rows = [
        event("m1", "s1", "play", "2026-10-01 10:00:00", position=10.5),
        event("m3", "s1", "stop", "2026-10-01 10:10:00", position=120.0),
        event("m2", "s1", "pause", "2026-10-01 10:05:00", position=300.25),
    ]
    assert_fact(playback_fact(spark, rows), ["session_id", "max_position_sec"], [("s1", 300.25)])


def test_session_date_is_the_utc_date_of_the_session_start_across_midnight(spark):
    rows = [
        event("n3", "s1", "stop", "2026-10-02 00:00:10"),
        event("n1", "s1", "start", "2026-10-01 23:59:59.500"),
        event("n2", "s1", "play", "2026-10-02 00:00:00.250"),
    ]
    # startup 750; playing 00:00:00.250 -> 00:00:10 = 9750.
    assert_fact(
        playback_fact(spark, rows),
        ["session_id", "session_date", "session_start", "session_end", "startup_time_ms", "watch_time_ms"],
        [
            (
                "s1", day("2026-10-01"), ts("2026-10-01 23:59:59.500"), ts("2026-10-02 00:00:10"), 750, 9750,
            )
        ],
    )
