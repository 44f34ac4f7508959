"""Compare gold tables row by row: the DuckDB reference against the Spark pipeline's Delta tables.

Rows are matched on the table's key columns; timestamps are compared in UTC, floats with a
relative tolerance, decimals, dates, strings, booleans and integers exactly.
"""
from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path

import pyarrow as pa


def read_delta(path: str | Path) -> pa.Table:
    """A Delta table read without Spark (delta-rs), as Power BI or Fabric would."""
    from deltalake import DeltaTable

    return DeltaTable(str(path)).to_pyarrow_table()


def _normalise(value):
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _same(a, b, rel_tol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (bool, Decimal)) or isinstance(b, (bool, Decimal)):
            return False
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-12)
    return a == b


def diff_table(expected: pa.Table, actual: pa.Table, keys: tuple[str, ...], rel_tol: float = 1e-9,
               limit: int = 20) -> list[str]:
    """Differences of `actual` from `expected` over `expected`'s columns; [] when they agree."""
    missing = [c for c in expected.column_names if c not in actual.column_names]
    if missing:
        return [f"columns missing: {missing}"]
    columns = expected.column_names

    def by_key(table: pa.Table) -> dict[tuple, dict]:
        rows = {}
        for row in table.select(columns).to_pylist():
            row = {k: _normalise(v) for k, v in row.items()}
            rows.setdefault(tuple(row[k] for k in keys), []).append(row)
        return rows

    want, got = by_key(expected), by_key(actual)
    problems = [f"key {k} appears {len(v)} times in actual" for k, v in got.items() if len(v) > 1]
    problems += [f"key {k} appears {len(v)} times in expected" for k, v in want.items() if len(v) > 1]
    problems += [f"row missing from actual: {want[k][0]}" for k in sorted(want.keys() - got.keys(), key=str)]
    problems += [f"unexpected row in actual: {got[k][0]}" for k in sorted(got.keys() - want.keys(), key=str)]
    for k in sorted(want.keys() & got.keys(), key=str):
        w, g = want[k][0], got[k][0]
        for c in columns:
            if not _same(w[c], g[c], rel_tol):
                problems.append(f"key {k}: {c} expected {w[c]!r}, actual {g[c]!r}")
    if len(problems) > limit:
        problems = problems[:limit] + [f"... and {len(problems) - limit} more"]
    return problems
