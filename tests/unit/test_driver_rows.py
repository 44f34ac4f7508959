"""session.driver_rows: a run's few driver-made rows (its log, its records) as `createDataFrame` makes them, without
a Python task."""
from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality

from dataflix_spark.ops.gold_state import GOLD_STATE_SCHEMA
from dataflix_spark.schemas import COSMOS_MARKS_SCHEMA, RUN_LOG_SCHEMA, SOURCE_FILES_SCHEMA
from dataflix_spark.session import driver_rows

UTC = dt.timezone.utc
# 2026-10-25T00:30:00.000123Z: 02:30 summer time in Berlin, an hour that happens twice that night.
REPEATED_HOUR = dt.datetime(2026, 10, 25, 0, 30, 0, 123, tzinfo=UTC)
NAIVE = dt.datetime(2026, 10, 31, 23, 59, 59, 999999)

CASES = {
    "run_log, dicts": (RUN_LOG_SCHEMA, [
        {"run_id": "r1", "container": "playback_events", "read": 2**40, "accepted": 1, "quarantined": 0,
         "duplicates": 0, "unknown_content": 0, "started_at": NAIVE, "finished_at": REPEATED_HOUR,
         "as_of": dt.date(2026, 10, 31)},
        {"run_id": "killed", "container": "content", "read": 0, "accepted": 0, "quarantined": 0, "duplicates": 0,
         "unknown_content": 0, "started_at": NAIVE, "finished_at": NAIVE, "as_of": dt.date(1970, 1, 1)},
    ]),
    "gold_state, tuples": (GOLD_STATE_SCHEMA, [
        ("r1", REPEATED_HOUR, dt.date(2026, 10, 31), "incremental", "subscriptions", -1, 0.02, 4000),
    ]),
    "source_files, nulls": (SOURCE_FILES_SCHEMA, [
        ("r1", "content", "/in/content/a é.jsonl", 1_234, 1_796_000_000_000),
        ("r0", "content", "/in/content/old.jsonl", None, None),
    ]),
    "cosmos_marks, nulls": (COSMOS_MARKS_SCHEMA, [
        ("r1", "content", "cosmos://h/db/content", 1_796_000_000, 61, NAIVE),
        ("r1", "content", "cosmos://h/db/content", None, None, REPEATED_HOUR),
    ]),
    "no rows": (RUN_LOG_SCHEMA, []),
}


@pytest.mark.parametrize("name", CASES)
def test_driver_rows_are_create_data_frames_rows_and_schema(spark, name):
    schema, rows = CASES[name]
    made = driver_rows(spark, rows, schema)
    assert made.schema == schema  # nullability too: a first append creates the ops table with it
    assert_df_equality(made, spark.createDataFrame(rows, schema), ignore_row_order=True)


def _lineage(df) -> str:
    return df._jdf.queryExecution().toRdd().toDebugString()


def test_no_python_task_reads_them(spark):
    schema, rows = CASES["run_log, dicts"]
    assert "PythonRDD[" in _lineage(spark.createDataFrame(rows, schema))  # what a run paid a Python worker for
    assert "PythonRDD[" not in _lineage(driver_rows(spark, rows, schema))


@pytest.mark.parametrize(("row", "named"), [
    (("r1", "content", "/in/a.jsonl", "not a number", None), "size_bytes"),
    ((None, "content", "/in/a.jsonl", None, None), "run_id"),
], ids=["a string for a long", "null in a non-null field"])
def test_a_row_that_does_not_fit_is_refused_as_create_data_frame_refuses_it(spark, row, named):
    with pytest.raises(Exception, match=named) as expected:
        spark.createDataFrame([row], SOURCE_FILES_SCHEMA)
    with pytest.raises(type(expected.value), match=named):
        driver_rows(spark, [row], SOURCE_FILES_SCHEMA)
