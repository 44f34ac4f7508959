"""A run killed with SIGKILL leaves every table readable, and the next run produces exactly what an
uninterrupted run would have. A second run started while one is running stops with a clear message and
changes nothing (tested during a run that is then killed: the same cold start serves both)."""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
from deltalake import DeltaTable

from dataflix_spark.bronze.ingest import to_bronze
from dataflix_spark.gold.build import GOLD_TABLES
from dataflix_spark.ops.lock import LOCK_NAME
from dataflix_spark.pipeline import RunOptions, run
from dataflix_spark.sinks.delta import append_table
from dataflix_spark.sources.local_json import file_key, read_json_lines
from tests.integration.rounds import AS_OF, PEPPER
from tests.integration.tables import assert_same_gold

@pytest.fixture(scope="module")
def source(local_rounds):
    """Every file (tests/integration/rounds.py: two rounds of generated documents)."""
    return local_rounds / "landing"


@pytest.fixture(scope="module")
def reference(local_rounds):
    """The lakehouse of one uninterrupted run over every file."""
    return local_rounds / "all"


@pytest.fixture(scope="module")
def prebuilt(local_rounds):
    """A lakehouse holding round one, and the landing folder that has since received round two (the last day's
    events and lists, newer versions of earlier documents): the next run over it is incremental."""
    return local_rounds / "landing", local_rounds / "round1"


def _start_run(source: Path, lakehouse: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dataflix_spark.cli", "run", "--input", str(source), "--lakehouse", str(lakehouse),
         "--as-of", AS_OF, "--master", "local[2]"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True,
        env={**os.environ, "DATAFLIX_PEPPER": PEPPER},
    )


# A run's first line of its own ("run <id> (incremental): …"), logged once it holds the lakehouse's lock.
RUN_STARTED = r"run \S+ \((first run|incremental)\): "


def _kill_when(process: subprocess.Popen, marker: str, timeout: float = 600, meanwhile=None) -> list[str]:
    """Reads the run's log until a line matches the regex `marker`, then SIGKILLs its whole process group
    (Python and JVM). `meanwhile` (if given) is called once the run holds the lock (RUN_STARTED)."""
    seen, deadline = [], time.monotonic() + timeout
    for line in process.stderr:
        seen.append(line)
        if meanwhile is not None and re.search(RUN_STARTED, line):
            meanwhile()
            meanwhile = None
        if re.search(marker, line) or time.monotonic() > deadline:
            break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert any(re.search(marker, line) for line in seen), "".join(seen)[-2000:]
    return seen


def _every_table_is_readable(lakehouse: Path) -> None:
    for layer in ("bronze", "silver", "gold", "ops"):
        folder = lakehouse / layer
        for table in sorted(folder.iterdir()) if folder.exists() else []:
            # A table whose first commit the kill came before is a folder without a commit file: no table yet, to
            # Delta (Spark's isDeltaTable says False, and the next run creates it) as to delta-rs, which refuses it.
            if any((table / "_delta_log").glob("*.json")):
                DeltaTable(str(table)).to_pyarrow_table()  # raises on a torn table


def _refused_while_running(source: Path, lakehouse: Path) -> None:
    """A second `dataflix run` on a lakehouse a live run holds: a clear message, exit 3, the lock left as it was."""
    held = (lakehouse / LOCK_NAME).read_text()
    second = subprocess.run(
        [sys.executable, "-m", "dataflix_spark.cli", "run", "--input", str(source), "--lakehouse",
         str(lakehouse), "--as-of", AS_OF, "--master", "local[1]"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "DATAFLIX_PEPPER": PEPPER},
    )
    assert second.returncode == 3, second.stderr[-2000:]
    assert "another dataflix run is using lakehouse" in second.stderr
    assert "Traceback" not in second.stderr and "starting Spark" not in second.stderr
    assert (lakehouse / LOCK_NAME).read_text() == held


@pytest.mark.parametrize(
    ("start", "marker", "second_run"),
    [
        # The container's last line, written once its silver MERGE is committed ("…: 3 new files, 1,234 read, …").
        ("empty", r"playback_events: .* read, ", False),
        ("prebuilt", r"playback_events: .* read, ", False),
        # Late in gold: there is time first for a second run to be refused while this one runs (should the kill
        # come some seconds after the marker, it is still mid-gold).
        ("prebuilt", "gold fact_playback_sessions: affected rows recomputed", True),
    ],
    ids=["first-run-killed-after-silver-merge", "incremental-killed-after-silver-merge",
         "incremental-killed-mid-gold-a-second-run-refused-meanwhile"],
)
def test_killed_run_recovers_exactly(spark, source, reference, prebuilt, tmp_path, start, marker, second_run):
    lakehouse = tmp_path / "lakehouse"
    if start == "prebuilt":
        source = prebuilt[0]
        shutil.copytree(prebuilt[1], lakehouse)
    victim = _start_run(source, lakehouse)
    meanwhile = partial(_refused_while_running, source, lakehouse) if second_run else None
    said = _kill_when(victim, marker, meanwhile=meanwhile)
    assert victim.returncode == -signal.SIGKILL
    # A run after a completed one knows how much of its input it has not read (round two's files).
    new = r", [\d.]+ MB new" if start == "prebuilt" else ""
    assert any(re.search(rf"MB of documents and bronze{new}: a small run\) …$", line) for line in said), "".join(said)
    assert (lakehouse / LOCK_NAME).exists()  # left behind by the killed run
    _every_table_is_readable(lakehouse)

    counts = run(spark, RunOptions(str(source), str(lakehouse), dt.date.fromisoformat(AS_OF), PEPPER))
    assert not (lakehouse / LOCK_NAME).exists()
    assert all(c.read == c.accepted + c.quarantined + c.duplicates for c in counts)
    assert_same_gold(lakehouse, reference)
    quarantine = DeltaTable(str(lakehouse / "ops" / "quarantine")).to_pandas()
    expected = DeltaTable(str(reference / "ops" / "quarantine")).to_pandas()
    assert sorted(quarantine["raw"]) == sorted(expected["raw"])  # not doubled by the re-processing
    silver = spark.read.format("delta").load(str(lakehouse / "silver" / "playback_events"))
    assert silver.count() == silver.select("doc_id").distinct().count()

    # The killed run is logged by the run that resumed it: the next run has nothing to read.
    gold_versions = {name: DeltaTable(str(lakehouse / "gold" / name)).version() for name in GOLD_TABLES}
    again = run(spark, RunOptions(str(source), str(lakehouse), dt.date.fromisoformat(AS_OF), PEPPER))
    assert [c.read for c in again] == [0, 0, 0, 0]
    assert {name: DeltaTable(str(lakehouse / "gold" / name)).version() for name in GOLD_TABLES} == gold_versions


def test_run_killed_between_its_bronze_append_and_its_file_record(spark, two_rounds, reference, prebuilt, tmp_path):
    """Bronze holds round two's events of a run that recorded neither their files (ops/source_files) nor its
    counts: the next run reads none of those files again, processes those rows, and records both."""
    landing, lakehouse = prebuilt[0], tmp_path / "lakehouse"
    shutil.copytree(prebuilt[1], lakehouse)
    new_events = [landing / "playback_events" / p.name for p in sorted((two_rounds / "round2" / "playback_events").iterdir())]
    killed = "20261127T000000Z-killed00"
    append_table(
        read_json_lines(spark, [p.as_uri() for p in new_events])
        .transform(to_bronze("playback_events", killed, dt.datetime.now())),
        str(lakehouse / "bronze" / "playback_events"),
    )
    lines = sum(1 for path in new_events for line in path.open() if line.strip())

    counts = {c.container: c for c in run(spark, RunOptions(str(landing), str(lakehouse), dt.date.fromisoformat(AS_OF), PEPPER))}
    assert len(new_events) == 2 and counts["playback_events"].read == lines
    assert counts["playback_events"].balanced()
    recorded = DeltaTable(str(lakehouse / "ops" / "source_files")).to_pandas()
    assert sorted(recorded[recorded["run_id"] == killed]["source_file"]) == sorted(file_key(p.as_uri()) for p in new_events)
    assert_same_gold(lakehouse, reference)
    again = run(spark, RunOptions(str(landing), str(lakehouse), dt.date.fromisoformat(AS_OF), PEPPER))
    assert [c.read for c in again] == [0, 0, 0, 0]
