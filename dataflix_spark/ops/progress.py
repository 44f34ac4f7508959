"""Progress lines a person can follow during a long run: a line per stage, with elapsed time, and a heartbeat
naming what is being worked on when no line came for a while."""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("dataflix")

HEARTBEAT_SECONDS = 10.0


class Progress:
    """Stage lines; used as a context manager, also a heartbeat line whenever `heartbeat` seconds pass
    without one (a stage of a large run can take minutes: the user sees it is still working, and on what)."""

    def __init__(self, heartbeat: float | None = HEARTBEAT_SECONDS) -> None:
        self.started = time.monotonic()
        self.heartbeat = heartbeat
        self._last_line = self.started
        self._working_on = "starting"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def stage(self, message: str) -> None:
        with self._lock:
            self._last_line = time.monotonic()
        log.info("[%7.1fs] %s", self.elapsed(), message)

    def working_on(self, what: str) -> None:
        """What the heartbeat names until the next call (e.g. "gold", "reading the source")."""
        with self._lock:
            self._working_on = what

    def __enter__(self) -> "Progress":
        if self.heartbeat:
            self._thread = threading.Thread(target=self._beat, name="dataflix-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(min(1.0, self.heartbeat)):
            with self._lock:
                quiet = time.monotonic() - self._last_line
                what = self._working_on
            if quiet >= self.heartbeat:
                self.stage(f"… still working: {what} ({quiet:.0f} s since the last line)")
