"""`<lakehouse>/_dataflix_last_run.json`: what the last completed run left, so a run with nothing new can say so
without Spark reading a table (issue 19: such a run took 11-16 s in a new process, most of it a cold JVM's first
Delta queries).

The state is what the source offered before that run began (for the local source, every input file's name, size
and modification time), the run's as-of date and QoE thresholds, and every Delta table's latest version once the
run had logged. A run finding all of it equal has nothing to read, no killed run to resume (that run's bronze
commit would show) and gold current (any other write to any table would show): it appends its run-log row and
records the state again. Anything else (a new or touched file, another as-of date, a table written by anyone,
a gold build left unfinished) is a normal run. Plain files, read with the operating system: only for a local
lakehouse.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from dataflix_spark.config import QoeThresholds
from dataflix_spark.ops.lock import GOLD_MARKER_NAME, local_root

STATE_NAME = "_dataflix_last_run.json"
LAYERS = ("bronze", "silver", "gold", "ops", "work")
_COMMIT = re.compile(r"^(\d{20})\.json$")


def table_versions(lakehouse: str) -> dict[str, int]:
    """Every Delta table under the lakehouse's layers (`layer/table`) and its latest commit's version."""
    root = local_root(lakehouse)
    versions: dict[str, int] = {}
    for layer in LAYERS:
        folder = root / layer
        if not folder.is_dir():
            continue
        for table in sorted(os.scandir(folder), key=lambda entry: entry.name):
            log_dir = Path(table.path) / "_delta_log"
            if table.is_dir() and log_dir.is_dir():
                commits = [int(m.group(1)) for m in map(_COMMIT.match, os.listdir(log_dir)) if m]
                versions[f"{layer}/{table.name}"] = max(commits, default=-1)
    return versions


def run_state(offered: dict | None, as_of, qoe: QoeThresholds) -> dict | None:
    """The parts of a run's state known before it runs; None when the source cannot describe what it offers."""
    if offered is None:
        return None
    return {"offered": offered, "as_of": as_of.isoformat(), "qoe": [qoe.rebuffer_ratio, qoe.startup_p90_ms]}


def _recorded(lakehouse: str) -> dict | None:
    """The state the last completed run left; None when there is no usable one (a remote lakehouse, a gold build left
    unfinished, no or a torn file)."""
    root = local_root(lakehouse)
    if root is None or (root / GOLD_MARKER_NAME).exists():
        return None
    try:
        last = json.loads((root / STATE_NAME).read_text())
    except (OSError, ValueError):
        return None
    return last if isinstance(last, dict) else None


def _last_and_now(lakehouse: str, state: dict | None) -> tuple[dict, dict] | None:
    """The state the last completed run left and this run's, as stored; None when there is no usable one (`_recorded`,
    or a source that cannot describe itself)."""
    last = None if state is None else _recorded(lakehouse)
    return None if last is None else (last, json.loads(_stored(lakehouse, state)))


def nothing_new(lakehouse: str, state: dict | None) -> bool:
    """True when the last completed run left exactly `state` and the tables as they are now."""
    both = _last_and_now(lakehouse, state)
    return both is not None and both[0] == both[1]


def settled(lakehouse: str) -> bool:
    """True when every table is as the last completed run left it, whatever the source offers now: bronze then holds
    no row of a killed run (its append would show in bronze's version), so a run need not look for one. Ask before
    `forget`: a run that may change the tables removes the state it is judged by."""
    tables = (_recorded(lakehouse) or {}).get("tables")
    return tables is not None and tables == table_versions(lakehouse)


def last_offered(lakehouse: str, state: dict | None) -> dict | None:
    """What the source offered before the last completed run, when this run differs from it in the source's
    documents only (the same as-of date and QoE thresholds, every table as that run left it): such a run has only
    the documents offered since to process. None otherwise."""
    both = _last_and_now(lakehouse, state)
    if both is None:
        return None
    last, now = both
    return last.get("offered") if all(last.get(k) == v for k, v in now.items() if k != "offered") else None


def record(lakehouse: str, state: dict | None) -> None:
    """Writes the state of a run that has just logged (atomically: a run killed here leaves the old file or none)."""
    root = local_root(lakehouse)
    if state is None or root is None:
        return
    written = root / f".{STATE_NAME}.{os.getpid()}"
    written.write_text(_stored(lakehouse, state))
    os.replace(written, root / STATE_NAME)


def _stored(lakehouse: str, state: dict) -> str:
    return json.dumps({**state, "tables": table_versions(lakehouse)}, sort_keys=True)


def forget(lakehouse: str) -> None:
    """Removes the state: a run that may change the tables trusts only a state written after it."""
    root = local_root(lakehouse)
    if root is not None:
        (root / STATE_NAME).unlink(missing_ok=True)
