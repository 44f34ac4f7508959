"""Two Delta tables compared as delta-rs reads them: the same columns and the same rows, in any order.

As chispa's `assert_df_equality(..., ignore_row_order=True, ignore_nullable=True)` compares two Spark reads, without
a Spark job: the suite compares about 160 gold tables, which cost about 0.4 s each through Spark and a few
milliseconds here (docs/performance.md). Values compare exactly (floats included)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from deltalake import DeltaTable

from dataflix_spark.gold.build import GOLD_TABLES


def _columns(table) -> list[tuple[str, str]]:
    return [(field.name, str(field.type)) for field in table.schema]


def _rows(table) -> Counter:
    # repr keeps every value exact and comparable (None, floats, dates, decimals, nested values alike).
    return Counter(repr(tuple(row.values())) for row in table.to_pylist())


def assert_same_table(actual: Path, expected: Path) -> None:
    """The Delta tables at `actual` and `expected` hold the same columns (names, order and types; nullability
    aside) and the same rows, each as many times, in any order."""
    left, right = DeltaTable(str(actual)).to_pyarrow_table(), DeltaTable(str(expected)).to_pyarrow_table()
    assert _columns(left) == _columns(right), (actual, _columns(left), _columns(right))
    rows, wanted = _rows(left), _rows(right)
    if rows != wanted:
        extra, missing = list((rows - wanted).elements()), list((wanted - rows).elements())
        raise AssertionError(f"{actual} against {expected}: {len(left)} rows against {len(right)}; "
                             f"{len(extra)} not expected, e.g. {extra[:3]}; {len(missing)} missing, e.g. {missing[:3]}")


def assert_same_gold(lakehouse: Path, reference: Path, names=GOLD_TABLES) -> None:
    """`assert_same_table` for each gold table `names` of two lakehouses."""
    for name in names:
        assert_same_table(lakehouse / "gold" / name, reference / "gold" / name)
