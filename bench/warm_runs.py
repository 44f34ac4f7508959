"""A run's cost in a cold JVM against the same run in a warm one (issue 19's attribution; not a test). Quiet machine.

    python -m bench.warm_runs --input small --as-of 2026-10-31 --work /tmp/warm-runs [--runs 4]

One process starts Spark as `dataflix run` without --conf does for the input (its default settings, the short-run
JIT and the small-run SQL settings by the input's size), then runs the pipeline `--runs` times over the same input,
each into a fresh lakehouse (every run is a first run). The first run pays the JVM's warm-up (class loading, JIT),
the later ones only the run's own work: their difference is what a new `dataflix run` process pays on top of its
queries. Per run: wall seconds, the JVM's CPU seconds (from /proc) and Spark's SQL executions. Prints a table and
writes <work>/warm-runs.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run_bench import cpu_seconds  # noqa: E402


def summary(runs: list[dict]) -> dict:
    """The first (cold) run, the median of the later (warm) ones, and the cold JVM's extra cost."""
    cold, warm = runs[0], runs[1:]
    result = {"cold_s": cold["seconds"], "cold_cpu_s": cold["jvm_cpu_s"]}
    if warm:
        result["warm_s"] = statistics.median(r["seconds"] for r in warm)
        result["warm_cpu_s"] = statistics.median(r["jvm_cpu_s"] for r in warm)
        result["cold_extra_s"] = round(result["cold_s"] - result["warm_s"], 1)
    return result


def _sql_executions(spark) -> int:
    """SQL executions Spark has started so far in this application: the newest one's id + 1 (ids count from 0). Not
    the status store's count, which stops at the executions it keeps (spark.sql.ui.retainedExecutions, 1,000)."""
    store = spark._jsparkSession.sharedState().statusStore()
    kept = store.executionsCount()
    return store.executionsList(kept - 1, 1).head().executionId() + 1 if kept else 0


def start_as_a_first_run(input_dir: Path):
    """Spark started as `dataflix run` without --conf starts it for a first run over `input_dir` (its default
    settings, the short-run JIT and the small-run SQL settings by the input's size); returns (spark, size,
    short_run)."""
    from dataflix_spark import cli
    from dataflix_spark.config import load_settings
    from dataflix_spark.session import get_spark
    from dataflix_spark.sources.local_json import folder_bytes

    settings = load_settings()
    size = folder_bytes(str(input_dir))  # a first run: no bronze yet
    short_run = cli.is_short_run(size)
    spark = get_spark(settings.spark, short_run=short_run)
    cli._size_settings(spark, settings, size)
    return spark, size, short_run


def measured_run(spark, input_dir: Path, lakehouse: Path, as_of: dt.date, digits: int = 1) -> dict:
    """One pipeline run into `lakehouse`: its wall seconds, the JVM's CPU seconds and Spark's SQL executions."""
    from dataflix_spark.pipeline import RunOptions, run

    jvm = spark._jvm.java.lang.ProcessHandle.current().pid()
    before = (time.monotonic(), cpu_seconds(jvm), _sql_executions(spark))
    run(spark, RunOptions(str(input_dir.resolve()), str(lakehouse), as_of, "bench"))
    return {"seconds": round(time.monotonic() - before[0], digits),
            "jvm_cpu_s": round(cpu_seconds(jvm) - before[1], digits),
            "sql_executions": _sql_executions(spark) - before[2]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, type=Path)
    parser.add_argument("--as-of", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs takes a whole number from 1")
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    started = time.monotonic()
    spark, size, short_run = start_as_a_first_run(args.input)
    spark_start = time.monotonic() - started
    runs = [measured_run(spark, args.input, work / f"lakehouse-{index}", args.as_of) for index in range(args.runs)]
    spark.stop()
    result = {"input": str(args.input), "bytes": size, "spark_start_s": round(spark_start, 1), "runs": runs,
              **summary(runs), "cpus": os.cpu_count()}
    (work / "warm-runs.json").write_text(json.dumps(result, indent=2))
    print(f"Spark start {result['spark_start_s']} s ({size:,} bytes of input: "
          f"{'short-run JIT' if short_run else 'default JIT'})")
    for index, r in enumerate(runs):
        kind = "cold JVM" if index == 0 else "warm JVM"
        print(f"run {index + 1} ({kind}): {r['seconds']:6.1f} s wall, {r['jvm_cpu_s']:6.1f} JVM CPU-s, "
              f"{r['sql_executions']} SQL executions")
    if "warm_s" in result:
        print(f"cold JVM's extra: {result['cold_extra_s']} s "
              f"(cold {result['cold_s']} s, warm median {result['warm_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
