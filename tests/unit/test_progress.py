"""Progress lines: a stage line each, and a heartbeat naming the work when no line came for a while."""
from __future__ import annotations

import logging
import re
import time

from dataflix_spark.ops.progress import Progress


def test_a_quiet_stage_gets_a_heartbeat_naming_it_and_a_busy_one_none(caplog):
    with caplog.at_level(logging.INFO, logger="dataflix"), Progress(heartbeat=0.3) as progress:
        progress.working_on("gold")
        time.sleep(0.75)  # quiet: a heartbeat (or two)
        progress.working_on("the run log")
        for _ in range(4):  # a line every 0.1 s: no heartbeat
            progress.stage("a stage")
            time.sleep(0.1)
    messages = [r.getMessage() for r in caplog.records]
    beats = [m for m in messages if "still working" in m]
    assert beats and all(re.search(r"\] … still working: gold \(\d+ s since the last line\)$", m)
                                   for m in beats), messages
    assert messages[-4:] == [m for m in messages if m.endswith("a stage")]


def test_the_heartbeat_stops_with_the_block(caplog):
    with caplog.at_level(logging.INFO, logger="dataflix"):
        with Progress(heartbeat=0.2):
            pass
        time.sleep(0.5)
    assert not caplog.records
