"""Independent steps of a run side by side, as threads of one Spark driver.

Much of a small (incremental) run is driver time, not tasks: planning, Delta snapshots and commits,
one table after another while the cores wait. Steps that write different tables run at once, so one
step's tasks fill another's gaps; Spark schedules the jobs of all threads (FIFO: the earlier first).
"""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from pyspark import inheritable_thread_target
from pyspark.sql import SparkSession


def run_concurrently(spark: SparkSession, *steps: Callable[[], Any],
                     on_error: Callable[[Any], None] | None = None) -> list[Any]:
    """Runs `steps` at once and returns their results, in order.

    Every step runs to its end before the first error, if any, is raised: a step stopped half way
    would leave its table as a killed run does (at its previous version), but a finished step is
    simply done, and the caller's recovery (the gold build marker) covers both. Before that error is
    raised, `on_error` is given each result of the steps that did finish (to release what they hold).
    """
    if len(steps) <= 1:
        return [step() for step in steps]
    with ThreadPoolExecutor(max_workers=len(steps), thread_name_prefix="dataflix-step") as pool:
        # Each thread runs in its own JVM thread (PySpark's pinned thread mode), with the caller's local properties.
        futures = [pool.submit(inheritable_thread_target(spark)(step)) for step in steps]
        wait(futures)
    if on_error is not None and any(future.exception() is not None for future in futures):
        for future in futures:
            if future.exception() is None:
                on_error(future.result())
    return [future.result() for future in futures]


def in_order(*steps: Callable[[], Any]) -> Callable[[], None]:
    """One step that runs `steps` one after another (a chain whose tables depend on each other)."""
    def chain() -> None:
        for step in steps:
            step()
    return chain
