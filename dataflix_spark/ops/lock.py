"""One run at a time per lakehouse: an exclusive lock file, taken over only when its owner is dead."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from pathlib import Path
from typing import Iterator

log = logging.getLogger("dataflix")

LOCK_NAME = "_dataflix_run.lock"


class RunLockedError(Exception):
    """Another run holds the lakehouse."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _try_create(path: Path, owner: dict) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        json.dump(owner, handle)
    return True


def _stale(path: Path) -> bool:
    try:
        owner = json.loads(path.read_text())
    except (OSError, ValueError):
        return False  # being written right now, or unreadable: not ours to break
    return owner.get("host") == socket.gethostname() and not _alive(int(owner.get("pid", 0)))


@contextlib.contextmanager
def run_lock(lakehouse: str, run_id: str) -> Iterator[None]:
    """Holds `<lakehouse>/_dataflix_run.lock` for the run. A lock left by a killed run on this host
    is taken over; a live one stops this run with RunLockedError. Remote lakehouses (abfss://,
    s3a://) rely on the scheduler running one job at a time and on Delta's optimistic concurrency."""
    root = local_root(lakehouse)
    if root is None:
        yield
        return
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    owner = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname()}
    if not _try_create(path, owner):
        if _stale(path):
            log.warning("taking over the lock of a run that is no longer alive: %s", path.read_text())
            path.unlink(missing_ok=True)
        if not _try_create(path, owner):
            holder = path.read_text() if path.exists() else "?"
            raise RunLockedError(
                f"another dataflix run is using lakehouse {lakehouse} ({holder}); wait for it to finish"
            )
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def check_unlocked(lakehouse: str) -> None:
    """Raises RunLockedError when a live run holds the lakehouse now: checked before Spark starts, so a second
    run stops at once. (The lock itself is taken by `run_lock`, which checks again.)"""
    root = local_root(lakehouse)
    path = root / LOCK_NAME if root is not None else None
    if path is not None and path.exists() and not _stale(path):
        holder = path.read_text() if path.exists() else "?"
        raise RunLockedError(f"another dataflix run is using lakehouse {lakehouse} ({holder}); wait for it to finish")


GOLD_MARKER_NAME = "_dataflix_gold_in_progress"


def local_root(lakehouse: str) -> Path | None:
    """The lakehouse's folder when it is on this machine's file system (None for abfss://, s3a://, ...)."""
    if "://" in lakehouse and not lakehouse.startswith("file:"):
        return None
    return Path(lakehouse.removeprefix("file:"))


def gold_build_interrupted(lakehouse: str) -> bool:
    """True when a gold build started and did not finish (or the lakehouse is remote: unknown)."""
    root = local_root(lakehouse)
    return root is None or (root / GOLD_MARKER_NAME).exists()


@contextlib.contextmanager
def gold_build_marker(lakehouse: str) -> Iterator[None]:
    """Marks the lakehouse while gold is rebuilt; the mark is removed only when the block completes."""
    root = local_root(lakehouse)
    if root is not None:
        (root / GOLD_MARKER_NAME).write_text("")
    yield
    if root is not None:
        (root / GOLD_MARKER_NAME).unlink(missing_ok=True)
