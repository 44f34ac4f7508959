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
