"""tests/integration/tables.py, which the integration tests compare gold with, tells tables apart."""
from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from tests.integration.tables import assert_same_table


def _table(folder, rows: list[dict], schema: pa.Schema):
    write_deltalake(str(folder), pa.Table.from_pylist(rows, schema=schema))
    return folder


SCHEMA = pa.schema([("day", pa.string()), ("sessions", pa.int64()), ("rate", pa.float64())])


def test_the_same_rows_in_another_order_are_the_same_table(tmp_path):
    rows = [{"day": "a", "sessions": 1, "rate": 0.1}, {"day": "b", "sessions": None, "rate": None}]
    assert_same_table(_table(tmp_path / "x", rows, SCHEMA), _table(tmp_path / "y", rows[::-1], SCHEMA))


@pytest.mark.parametrize("other", [
    [{"day": "a", "sessions": 1, "rate": 0.1 + 1e-15}, {"day": "b", "sessions": None, "rate": None}],  # exact floats
    [{"day": "a", "sessions": 1, "rate": 0.1}, {"day": "b", "sessions": 0, "rate": None}],  # null is not 0
    [{"day": "a", "sessions": 1, "rate": 0.1}, {"day": "a", "sessions": 1, "rate": 0.1}],  # as many times
    [{"day": "a", "sessions": 1, "rate": 0.1}],
])
def test_a_row_changed_missing_or_doubled_is_another_table(tmp_path, other):
    rows = [{"day": "a", "sessions": 1, "rate": 0.1}, {"day": "b", "sessions": None, "rate": None}]
    with pytest.raises(AssertionError):
        assert_same_table(_table(tmp_path / "x", rows, SCHEMA), _table(tmp_path / "y", other, SCHEMA))


def test_another_column_type_or_order_is_another_table(tmp_path):
    rows = [{"day": "a", "sessions": 1, "rate": 0.5}]
    wider = pa.schema([("day", pa.string()), ("sessions", pa.int32()), ("rate", pa.float64())])
    reordered = pa.schema([("sessions", pa.int64()), ("day", pa.string()), ("rate", pa.float64())])
    for n, schema in enumerate((wider, reordered)):
        with pytest.raises(AssertionError):
            assert_same_table(_table(tmp_path / f"x{n}", rows, SCHEMA), _table(tmp_path / f"y{n}", rows, schema))
