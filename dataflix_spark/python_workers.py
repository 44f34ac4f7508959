"""A local master's Python workers: the program they start (this interpreter, without Spark's copy of PySpark first on
its path), and workers started ahead of the tasks that use them.

Spark puts `$SPARK_HOME/python/lib/pyspark.zip`, py4j's zip and its core jar first on every Python worker's
`PYTHONPATH`. Installed from PyPI, that zip is this very PySpark as sources without bytecode, so each worker daemon
compiled PySpark again: `import pyspark` took 0.65 s from the zip against 0.2 s from the installed package. A Cosmos
DB read starts four daemons one after another (the data source's lookup, creation, planning, then the read), and
each forked worker compiles the modules it adds (docs/performance.md). The core jar holds no Python, but
`importlib.metadata` opens every zip on the path when a worker asks a distribution's version. A small shell script
drops those three entries and runs this interpreter, which then imports the installed package and its bytecode.

`start_importing` starts a local master's workers ahead of the tasks that need them (a Python data source's read).
"""
from __future__ import annotations

import hashlib
import logging
import os
import shlex
import sys
import threading
import weakref
from collections.abc import Iterator
from functools import partial
from pathlib import Path

log = logging.getLogger(__name__)

SCRIPT = """#!/bin/sh
# Written by dataflix_spark/python_workers.py: Spark's pyspark.zip, py4j zip and core jar off a worker's PYTHONPATH
# (this interpreter holds the same PySpark, with its bytecode); every other entry kept, in order.
set -f
kept=
separator=
IFS=:
for entry in $PYTHONPATH; do
  case "$entry" in
    */pyspark.zip|*/py4j-*-src.zip|*/spark-core_*.jar) ;;
    *) kept="$kept$separator$entry"; separator=: ;;
  esac
done
unset IFS
PYTHONPATH=$kept exec @PYTHON@ "$@"
"""


def worker_python(folder: Path | None, spark_home: Path) -> str | None:
    """The script in `folder` (written there first if it is not yet) when `spark_home` is this interpreter's own
    PySpark package, whose zip holds the same code. None when there is no folder, it cannot hold a program that
    runs, or Spark is another install (its zip may differ from the package here): workers then start as before."""
    import pyspark

    if folder is None or Path(spark_home).resolve() != Path(pyspark.__file__).resolve().parent:
        return None
    text = SCRIPT.replace("@PYTHON@", shlex.quote(sys.executable))
    script = folder / f"python-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    try:
        if not script.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            made = folder / f".{script.name}.{os.getpid()}"
            made.write_text(text)
            made.chmod(0o755)
            os.replace(made, script)
    except OSError:
        return None
    return str(script) if os.access(script, os.X_OK) else None  # a folder mounted noexec cannot start it


def leave_jars_off_their_path(context) -> None:
    """Takes the jars of `spark.jars.packages` off the Python path of the workers a local session starts from now on.
    Spark puts each such jar there (a package may hold Python code); ours hold none (Delta's and its parser's), and
    every worker that asks a distribution's version, as the Cosmos DB data source does on import, opens each zip on
    its path to look: about 0.1 s a worker, 0.4 s of a small Cosmos DB run's read (docs/performance.md)."""
    context._python_includes[:] = [path for path in context._python_includes if not path.endswith(".jar")]


_started: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # SparkContext -> the module tuples started for
_starting = threading.Lock()


def _import_and_pass(modules: tuple[str, ...], batches: Iterator) -> Iterator:
    import importlib

    for name in modules:
        importlib.import_module(name)
    yield from batches


def start_importing(spark, modules: tuple[str, ...], workers: int) -> threading.Thread | None:
    """Starts, in the background, up to `workers` Python workers of a local master that import `modules`, once per
    SparkContext and modules; returns the thread (None when nothing was started).

    A Python data source's read runs in Python workers that Spark starts at its first task, after the source's
    planning (its own Python processes, one after another): the worker daemon's start and each worker's imports
    then come last. Workers started meanwhile, through the same kind of task (Arrow batches in, Arrow batches out),
    go back to the daemon when done, and the read's tasks reuse them. On a cluster the executors are elsewhere, and
    which ones a read uses is not known: nothing is started."""
    context = spark.sparkContext
    if not context.master.startswith("local") or workers < 1:
        return None
    with _starting:
        started = _started.setdefault(context, set())
        if modules in started:
            return None
        started.add(modules)
    count = min(workers, context.defaultParallelism)

    def start() -> None:
        try:
            spark.range(0, count, 1, count).mapInArrow(partial(_import_and_pass, modules), "id long").collect()
        except Exception as error:  # noqa: BLE001 - only a head start: the read starts its own workers
            log.debug("Python workers not started ahead (%s)", type(error).__name__)

    from pyspark import inheritable_thread_target

    thread = threading.Thread(target=inheritable_thread_target(spark)(start), name="dataflix-python-workers",
                              daemon=True)
    thread.start()
    return thread
