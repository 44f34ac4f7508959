"""Cross-check: the DuckDB reference (bench/duckdb_reference.py), computed straight from the raw input
folder, agrees row by row with every gold table the Spark pipeline wrote for the shared built lakehouse."""
from __future__ import annotations

import datetime as dt

import pyarrow.parquet as pq
import pytest

from bench.compare import diff_table, read_delta
from bench.duckdb_reference import GOLD_KEYS, GOLD_TABLES, build_reference, main
from tests.integration.built import HAND_USER, sha

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reference(built_lakehouse):
    as_of = dt.date.fromisoformat(built_lakehouse["as_of"])
    return build_reference(built_lakehouse["input"], built_lakehouse["pepper"], as_of, threads=2)


@pytest.mark.parametrize("table", GOLD_TABLES)
def test_spark_gold_matches_duckdb_reference(built_lakehouse, reference, table):
    expected = reference[table]
    assert expected.num_rows > 0
    assert diff_table(expected, read_delta(built_lakehouse["path"] / "gold" / table), GOLD_KEYS[table]) == []


def test_reference_hand_made_session(reference):
    """The reference itself on the hand-made session (tests/integration/built.py), computed by hand."""
    rows = {r["session_id"]: r for r in reference["fact_playback_sessions"].to_pylist()}
    row = rows["hand-session"]
    assert row["user_key"] == sha(HAND_USER)
    assert (row["startup_time_ms"], row["rebuffer_count"], row["rebuffer_ms"]) == (1500, 1, 3000)
    assert row["watch_time_ms"] == 600_000 + 300_000 + 600_000 - 3000
    assert (row["pause_count"], row["ended_by"], row["max_position_sec"]) == (1, "stop", 1500)


def test_reference_cli_writes_parquet(built_lakehouse, reference, tmp_path, monkeypatch):
    monkeypatch.setenv("DATAFLIX_PEPPER", built_lakehouse["pepper"])
    code = main(["--input", str(built_lakehouse["input"]), "--out", str(tmp_path), "--as-of", built_lakehouse["as_of"],
                 "--threads", "2"])
    assert code == 0
    assert sorted(p.stem for p in tmp_path.glob("*.parquet")) == sorted(GOLD_TABLES)
    written = pq.read_table(tmp_path / "kpi_monthly.parquet")
    assert diff_table(reference["kpi_monthly"], written, GOLD_KEYS["kpi_monthly"]) == []
