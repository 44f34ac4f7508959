"""ops/last_run: a run trusts the last run's state only when the source's description, the as-of date, the QoE
thresholds and every table's version are all as that run left them."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from dataflix_spark.config import QoeThresholds
from dataflix_spark.ops import last_run
from dataflix_spark.ops.lock import GOLD_MARKER_NAME
from dataflix_spark.sources.local_json import LocalJsonSource

AS_OF = dt.date(2026, 10, 31)
OFFERED = {"folder": "/in", "files": {"content": [["content.jsonl", 10, 123]]}}


def _commit(lake: Path, table: str, version: int) -> None:
    log_dir = lake / table / "_delta_log"
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / f"{version:020d}.json").write_text("{}")


@pytest.fixture
def lake(tmp_path) -> Path:
    root = tmp_path / "lake"
    for version in range(3):
        _commit(root, "gold/kpi_monthly", version)
    _commit(root, "ops/run_log", 0)
    return root


def _state(offered=OFFERED, as_of=AS_OF, qoe=QoeThresholds()):
    return last_run.run_state(offered, as_of, qoe)


def test_every_table_and_its_latest_commit_is_listed(lake):
    log_dir = lake / "gold" / "kpi_monthly" / "_delta_log"
    (log_dir / "00000000000000000002.crc").write_text("")
    (log_dir / "00000000000000000010.checkpoint.parquet").write_text("")  # not a commit
    (log_dir / "_last_checkpoint").write_text("")
    (lake / "gold" / "not_a_table").mkdir()
    (lake / "silver" / "content" / "_delta_log").mkdir(parents=True)  # a table being created: no commit yet
    assert last_run.table_versions(str(lake)) == {"gold/kpi_monthly": 2, "ops/run_log": 0, "silver/content": -1}


def test_the_state_a_run_recorded_is_trusted_as_it_stands(lake):
    last_run.record(str(lake), _state())
    assert last_run.nothing_new(str(lake), _state())
    assert last_run.nothing_new(str(lake), _state(qoe=QoeThresholds(0.02, 4000)))  # the defaults, spelt out
    assert not [p for p in lake.iterdir() if p.name.startswith(".")]  # no temporary file left beside it


@pytest.mark.parametrize("change", [
    "a commit to any table", "a new table", "a table removed", "another as-of date", "other QoE thresholds",
    "another file offered", "a gold build left unfinished", "a state file that cannot be read",
])
def test_anything_changed_since_means_a_normal_run(lake, change):
    last_run.record(str(lake), _state())
    state = _state()
    if change == "a commit to any table":
        _commit(lake, "ops/run_log", 1)
    elif change == "a new table":
        _commit(lake, "bronze/content", 0)
    elif change == "a table removed":
        for path in sorted((lake / "gold" / "kpi_monthly").rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        (lake / "gold" / "kpi_monthly").rmdir()
    elif change == "another as-of date":
        state = _state(as_of=dt.date(2026, 11, 1))
    elif change == "other QoE thresholds":
        state = _state(qoe=QoeThresholds(0.05, 4000))
    elif change == "another file offered":
        state = _state({"folder": "/in", "files": {"content": [["content.jsonl", 11, 123]]}})
    elif change == "a gold build left unfinished":
        (lake / GOLD_MARKER_NAME).write_text("")
    else:
        (lake / last_run.STATE_NAME).write_text("{not json")
    assert not last_run.nothing_new(str(lake), state)


def test_tables_as_the_last_run_left_them_are_settled_whatever_the_source_and_the_as_of_date(lake):
    """`settled` asks only about the tables: new files and another as-of date leave bronze without a killed run."""
    assert not last_run.settled(str(lake))  # nothing recorded yet
    last_run.record(str(lake), _state({"folder": "/in", "files": {}}, as_of=dt.date(2026, 10, 1)))
    assert last_run.settled(str(lake))
    _commit(lake, "bronze/playback_events", 0)  # a run's bronze append, the run then killed
    assert not last_run.settled(str(lake))
    last_run.record(str(lake), _state())
    assert last_run.settled(str(lake))
    (lake / GOLD_MARKER_NAME).write_text("")
    assert not last_run.settled(str(lake))
    (lake / GOLD_MARKER_NAME).unlink()
    for torn in ("{not json", "[]", '{"as_of": "2026-10-31"}'):
        (lake / last_run.STATE_NAME).write_text(torn)
        assert not last_run.settled(str(lake))
    last_run.record(str(lake), _state())
    last_run.forget(str(lake))  # what a run does before it may write: a run killed after it is never trusted
    assert not last_run.settled(str(lake))
    assert not last_run.settled("abfss://lake@account.dfs.core.windows.net/dataflix")


def test_no_state_no_description_or_a_remote_lakehouse_is_never_nothing_new(lake):
    assert not last_run.nothing_new(str(lake), _state())  # nothing recorded yet
    last_run.record(str(lake), None)  # a source that cannot describe itself records nothing
    assert not (lake / last_run.STATE_NAME).exists()
    last_run.record(str(lake), _state())
    assert not last_run.nothing_new(str(lake), None)
    last_run.forget(str(lake))
    assert not last_run.nothing_new(str(lake), _state())
    remote = "abfss://lake@account.dfs.core.windows.net/dataflix"
    last_run.record(remote, _state())
    last_run.forget(remote)
    assert not last_run.nothing_new(remote, _state())


def test_the_local_source_describes_its_folder_and_each_file_by_name_size_and_time(tmp_path):
    folder = tmp_path / "input"
    (folder / "content").mkdir(parents=True)
    (folder / "playback_events").mkdir()
    for name in ("b.jsonl", "a.json.gz", "notes.txt"):
        (folder / "playback_events" / name).write_text("x")
    (folder / "playback_events" / "day.jsonl").mkdir()  # a folder, whatever its name: not a source file
    os.utime(folder / "playback_events" / "b.jsonl", ns=(1, 5_000))
    source = LocalJsonSource(str(folder))
    described = source.offered()
    assert described["folder"] == str(folder)
    assert described["files"]["content"] == [] and described["files"]["recommendations"] == []
    assert [f[0] for f in described["files"]["playback_events"]] == ["a.json.gz", "b.jsonl"]
    assert described["files"]["playback_events"][1] == ["b.jsonl", 1, 5_000]

    (folder / "playback_events" / "b.jsonl").write_text("y")  # same size, rewritten: a later time
    assert source.offered() != described
    assert LocalJsonSource(str(folder / ".." / "input")).offered()["folder"] == str(folder)
    assert LocalJsonSource("abfss://in@account.dfs.core.windows.net/x").offered() is None
