"""Documents that arrive in two rounds, shared by the Cosmos DB and crash-safety tests (with the local runs over
them in tests/integration/conftest.py: each such run costs seconds of the suite, so they are made once)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from dataflix_spark.generate import generate
from tests.integration.built import cancellation_of_an_open_subscription, read_documents

AS_OF = "2026-10-31"
PEPPER = "rounds-pepper"


def _later_versions(folder: Path, all_docs: Path) -> None:
    """Round two's extra files: a cancellation (a newer version of an open subscription) and a newer version of
    a round-one event (moved later in its session)."""
    sub = cancellation_of_an_open_subscription(all_docs)
    events = read_documents(sorted((all_docs / "playback_events").iterdir())[0])
    event = next(e for e in events if e.get("eventType") == "pause" and not str(e.get("id")).startswith("e-bad"))
    moved = {**event, "positionSec": event["positionSec"] + 30, "_ts": event["_ts"] + 10_000_000}
    (folder / "subscriptions").mkdir(parents=True, exist_ok=True)
    (folder / "playback_events").mkdir(parents=True, exist_ok=True)
    (folder / "subscriptions" / "zz-later.jsonl").write_text(json.dumps(sub) + "\n")
    (folder / "playback_events" / "zz-later.jsonl").write_text(json.dumps(moved) + "\n")


def write_two_rounds(root: Path) -> None:
    """Generated documents in `round1` (all but the last day's events and lists) and `round2` (that day, and newer
    versions of round-one documents); `all` holds both."""
    generate(str(root / "all"), users=30, days=4, seed=17, titles=15, bad_rate=0.03, duplicate_rate=0.05)
    _later_versions(root / "round2", root / "all")
    for path in sorted((root / "all").rglob("*.jsonl")):
        last_day = path.name.endswith(f"{AS_OF}.jsonl")
        target = root / ("round2" if last_day else "round1") / path.relative_to(root / "all")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    for path in (root / "round2").rglob("zz-later.jsonl"):
        shutil.copy(path, root / "all" / path.relative_to(root / "round2"))
