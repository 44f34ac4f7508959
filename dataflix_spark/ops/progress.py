"""Progress lines a person can follow during a long run: a line per stage, with elapsed time."""
from __future__ import annotations

import logging
import time

log = logging.getLogger("dataflix")


class Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def stage(self, message: str) -> None:
        log.info("[%7.1fs] %s", self.elapsed(), message)
