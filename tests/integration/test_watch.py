"""`dataflix run --watch`: one process keeps running, and each run picks up the files that arrived since."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from deltalake import DeltaTable

from dataflix_spark.generate import generate

PEPPER = "watch-pepper"


def _wait_for(log: Path, text: str, times: int, process: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while log.read_text().count(text) < times:
        assert process.poll() is None, f"dataflix exited ({process.returncode}):\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {times}× {text!r} within {timeout} s:\n{log.read_text()[-3000:]}"
        time.sleep(0.5)


def test_watch_runs_again_over_files_that_arrive_later(tmp_path):
    data, later, lake = tmp_path / "input", tmp_path / "later", tmp_path / "lakehouse"
    generate(str(data), users=20, days=2, seed=11, titles=10, end_date=dt.date(2026, 10, 30))
    generate(str(later), users=8, days=1, seed=12, titles=10, end_date=dt.date(2026, 10, 31))
    log = tmp_path / "watch.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "dataflix_spark.cli", "run", "--input", str(data), "--lakehouse", str(lake),
             "--as-of", "2026-10-31", "--master", "local[2]", "--watch", "1"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "DATAFLIX_PEPPER": PEPPER},
        )
    try:
        _wait_for(log, "run log appended", 1, process)
        # At least one poll finds nothing new, and changes nothing.
        _wait_for(log, "gold is current", 1, process)
        first_lines = sum(len(f.read_text().splitlines()) for f in (data / "playback_events").iterdir())
        (new_file,) = (later / "playback_events").iterdir()
        shutil.copy(new_file, data / "playback_events" / f"hour-2-{new_file.name}")
        # A file already read is rewritten in place: not read again (files are identified by path), but said.
        (changed,) = (data / "content").iterdir()
        content_lines = sum(1 for line in changed.read_text().splitlines() if line.strip())
        changed.write_text(changed.read_text() + changed.read_text().splitlines()[0] + "\n")
        _wait_for(log, "playback_events: 1 new files", 1, process)
        _wait_for(log, "gold: applying the silver changes", 1, process)
        runs = log.read_text().count("run log appended")
        _wait_for(log, "run log appended", runs + 1, process)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=120)
    assert code == 130, log.read_text()[-3000:]

    run_log = DeltaTable(str(lake / "ops" / "run_log")).to_pandas()
    events = run_log[(run_log["container"] == "playback_events") & (run_log["read"] > 0)].sort_values("started_at")
    new_lines = len(new_file.read_text().splitlines())
    warnings = [line for line in log.read_text().splitlines() if "changed after it was read" in line]
    assert warnings and all(" WARNING content: " in w and f"{changed}" in w and "not read again" in w
                            for w in warnings), warnings
    assert run_log[run_log["container"] == "content"]["read"].sum() == content_lines
    # The first run read the first files; a later run of the same process read only the new file.
    assert events["read"].tolist() == [first_lines, new_lines]
    assert run_log["run_id"].nunique() >= 3  # the first run, an idle poll, the run that found the file
    sessions = DeltaTable(str(lake / "gold" / "fact_playback_sessions")).to_pandas()
    assert sessions["session_date"].astype(str).max() == "2026-10-31"  # the later file's day reached gold
