"""bench/compare.py: the row-by-row comparison behind the DuckDB cross-check reports real differences."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from bench.compare import diff_table

UTC = dt.timezone.utc


def _table(rate: float, revenue: str, at: dt.datetime, months: list[dt.date]) -> pa.Table:
    n = len(months)
    return pa.table({"month": months, "rate": [rate] * n, "revenue": [Decimal(revenue)] * n, "at": [at] * n})


MONTHS = [dt.date(2026, 9, 1), dt.date(2026, 10, 1)]
NAIVE = dt.datetime(2026, 10, 1, 12, 0)


def test_equal_tables_within_float_tolerance_and_across_time_zone_spelling():
    expected = _table(0.1 + 0.2, "1.10", NAIVE, MONTHS)
    actual = _table(0.3, "1.10", NAIVE.replace(tzinfo=UTC), MONTHS)
    assert diff_table(expected, actual, ("month",)) == []


def test_reports_changed_values_missing_and_unexpected_rows():
    expected = _table(0.3, "1.10", NAIVE, MONTHS)
    actual = _table(0.31, "1.11", NAIVE, [MONTHS[0], dt.date(2026, 11, 1)])
    problems = diff_table(expected, actual, ("month",))
    assert any("row missing from actual" in p and "2026, 10, 1" in p for p in problems)
    assert any("unexpected row in actual" in p and "2026, 11, 1" in p for p in problems)
    assert any("rate expected 0.3, actual 0.31" in p for p in problems)
    assert any("revenue expected Decimal('1.10'), actual Decimal('1.11')" in p for p in problems)


def test_reports_missing_columns_and_duplicate_keys():
    expected = _table(0.3, "1.10", NAIVE, MONTHS)
    assert diff_table(expected, expected.drop_columns(["rate"]), ("month",)) == ["columns missing: ['rate']"]
    doubled = pa.concat_tables([expected, expected])
    assert any("appears 2 times in actual" in p for p in diff_table(expected, doubled, ("month",)))


def test_the_run_benchmark_times_the_stages_of_a_first_run(tmp_path):
    """The benchmark's 11.5M run is a first run: its line says so ("(first run)"), and the stages are timed from it."""
    from bench.run_bench import stage_times

    lines = [(100.0, "10:00:05 INFO run r1 (first run): input /in, lakehouse /lh, as-of 2026-10-31"),
             (110.0, "10:00:15 INFO [   10.0s] content: 1 new files, 67 read, 60 accepted, 4 quarantined, 3 duplicates"),
             (120.0, "10:00:25 INFO [   20.0s] subscriptions: 1 new files, 9 read, 9 accepted, 0 quarantined, 0 duplicates"),
             (130.0, "10:00:35 INFO [   30.0s] playback_events: 1 new files, 9 read, 9 accepted, 0 quarantined, 0 duplicates"),
             (140.0, "10:00:45 INFO [   40.0s] recommendations: 1 new files, 9 read, 9 accepted, 0 quarantined, 0 duplicates"),
             (141.0, "10:00:46 INFO [   41.0s] gold: full build"),
             (170.0, "10:01:15 INFO [   70.0s] gold kpi_monthly written"),
             (171.0, "10:01:16 INFO [   71.0s] run log appended")]
    stages = stage_times(lines, tmp_path / "lakehouse", started=95.0, finished=172.0)
    assert stages["spark_start"] == 5.0
    assert stages["gold"] == 30.0 and stages["ops_and_exit"] == 2.0
