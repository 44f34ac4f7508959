"""A run that finds the input and every table as the last completed run left them only logs itself (ops/last_run);
anything else since (a table written, a file arriving even while a run runs, a file rewritten) is a normal run."""
from __future__ import annotations

import datetime as dt
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from deltalake import DeltaTable

from dataflix_spark.generate import generate
from dataflix_spark.ops.last_run import STATE_NAME
from dataflix_spark.pipeline import RunOptions, run
from dataflix_spark.sources.local_json import LocalJsonSource

AS_OF = dt.date(2026, 10, 31)
SKIPPED = "nothing new: the source offers what the last run read"
NORMAL = "source: content 0 new files"  # the line of a run that asked the source


def _run(spark, data: Path, lake: Path, caplog, source=None) -> tuple[list, str]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dataflix"):
        counts = run(spark, RunOptions(str(data), str(lake), AS_OF, "nothing-new", source=source))
    return counts, caplog.text


def _versions(lake: Path) -> dict[str, int]:
    return {f"{t.parent.name}/{t.name}": DeltaTable(str(t)).version() for t in sorted(lake.glob("*/*"))
            if (t / "_delta_log").is_dir()}


@dataclass(frozen=True)
class _Told:
    """The local source, noting what each take was told (`settled`)."""

    inner: LocalJsonSource
    settled: list = field(default_factory=list)

    def describe(self) -> str:
        return self.inner.describe()

    def offered(self) -> dict | None:
        return self.inner.offered()

    def take(self, spark, lake, container, run_id, settled=False):
        self.settled.append(settled)
        return self.inner.take(spark, lake, container, run_id, settled)

    def record(self, spark, lake, taken):
        self.inner.record(spark, lake, taken)


@dataclass(frozen=True)
class _FileLandsDuringTheRun(_Told):
    """The local source, and a new events file that lands once the run has listed the folder."""

    arriving: Path | None = None
    landing: Path | None = None

    def take(self, spark, lake, container, run_id, settled=False):
        taken = super().take(spark, lake, container, run_id, settled)
        if container == "playback_events":
            shutil.copy(self.arriving, self.landing)
        return taken


def test_nothing_new_is_logged_alone_and_any_change_since_means_a_normal_run(spark, tmp_path, caplog):
    """One lakehouse through the cases in turn (each pipeline run costs seconds of the suite)."""
    data, later, lake = tmp_path / "input", tmp_path / "later", tmp_path / "lake"
    generate(str(data), users=4, days=1, seed=21, titles=4, end_date=dt.date(2026, 10, 30))
    _run(spark, data, lake, caplog)
    before = _versions(lake)

    for _ in range(2):  # and again: the skipped run recorded the state it left
        counts, text = _run(spark, data, lake, caplog)
        assert SKIPPED in text and NORMAL not in text, text
        assert [(c.read, c.accepted, c.quarantined, c.duplicates) for c in counts] == [(0, 0, 0, 0)] * 4
    after = _versions(lake)
    assert after.pop("ops/run_log") == before.pop("ops/run_log") + 2
    assert after == before
    logged = DeltaTable(str(lake / "ops" / "run_log")).to_pandas()
    assert sorted(logged[logged["run_id"] == counts[0].run_id]["container"]) == sorted(c.container for c in counts)

    # Someone else's commit (here on a gold table): the next run asks the source and checks gold. During that
    # run, once it has listed the folder, a new file lands: the run after it reads the file.
    spark.sql(f"ALTER TABLE delta.`{lake / 'gold' / 'kpi_monthly'}` SET TBLPROPERTIES ('touched' = 'yes')")
    generate(str(later), users=3, days=1, seed=22, titles=4, end_date=AS_OF)
    (arriving,) = (later / "playback_events").iterdir()
    landing = data / "playback_events" / f"late-{arriving.name}"
    landed = _FileLandsDuringTheRun(LocalJsonSource(str(data)), arriving=arriving, landing=landing)
    counts, text = _run(spark, data, lake, caplog, landed)
    assert NORMAL in text and "gold is current" in text and SKIPPED not in text, text
    assert landing.exists() and [c.read for c in counts] == [0, 0, 0, 0]
    assert landed.settled == [False] * 4  # a table changed since the last run: bronze is searched for a killed run
    told = _Told(LocalJsonSource(str(data)))
    counts, text = _run(spark, data, lake, caplog, told)
    assert SKIPPED not in text, text
    assert told.settled == [True] * 4  # only a file arrived since a completed run: nothing to search for
    assert {c.container: c.read for c in counts}["playback_events"] == sum(1 for line in arriving.open() if line.strip())
    assert SKIPPED in _run(spark, data, lake, caplog)[1]

    # A file rewritten after it was read is not read again but said, by every run while it stays so.
    (content,) = (data / "content").iterdir()
    content.write_text(content.read_text() + content.read_text().splitlines()[0] + "\n")
    for _ in range(2):
        counts, text = _run(spark, data, lake, caplog)
        assert "changed after it was read" in text and SKIPPED not in text, text
        assert [c.read for c in counts] == [0, 0, 0, 0]
    assert not (lake / STATE_NAME).exists()  # a run that warned leaves no state to trust
