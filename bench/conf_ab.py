"""Spark settings compared on the same runs in one warm JVM, alternated (issue 19's attribution; not a test).

    python -m bench.conf_ab --input small --as-of 2026-10-31 --work /tmp/conf-ab --rounds 6 \
        "no-stats=spark.databricks.delta.stats.collect:false" \
        "one-task=spark.databricks.delta.snapshotPartitions:1,spark.databricks.delta.stats.collect:false"

Starts Spark as `dataflix run` does for the input (`bench/warm_runs.py`), runs the pipeline twice to warm the JVM,
then per round once with the session's settings ("base") and once with each variant's (SQL settings set at run
time; the order reversed every other round), each a first run into a fresh lakehouse. A whole run in a new process
moves by ±10 % from one minute to the next on this machine, more than a setting's effect; runs in one JVM that
alternate see the same moments of it. Prints per variant the median wall and JVM CPU seconds and Spark's SQL
executions per run, and writes <work>/conf-ab.json. Quiet machine.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.warm_runs import measured_run, start_as_a_first_run  # noqa: E402


def variant(text: str) -> tuple[str, dict[str, str]]:
    """`name=key:value,key:value` -> (name, settings)."""
    name, _, pairs = text.partition("=")
    if not name or not pairs or any(":" not in pair for pair in pairs.split(",")):
        raise argparse.ArgumentTypeError(f"expected name=key:value[,key:value...], got {text!r}")
    return name, dict(pair.split(":", 1) for pair in pairs.split(","))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, type=Path)
    parser.add_argument("--as-of", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("variants", nargs="+", type=variant)
    args = parser.parse_args(argv)
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    spark, size, _ = start_as_a_first_run(args.input)
    variants = {"base": {}, **dict(args.variants)}
    keys = {key for conf in variants.values() for key in conf}
    session_values = {key: spark.conf.get(key, None) for key in keys}

    def one_run() -> dict:
        lakehouse = work / "lakehouse"
        measured = measured_run(spark, args.input, lakehouse, args.as_of, digits=2)
        shutil.rmtree(lakehouse)
        return measured

    warm_up = [one_run() for _ in range(2)]
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    for index in range(args.rounds):
        for name in (list(variants) if index % 2 == 0 else list(reversed(variants))):
            for key in keys:
                value = variants[name].get(key, session_values[key])
                spark.conf.unset(key) if value is None else spark.conf.set(key, value)
            runs[name].append(one_run())
    spark.stop()
    result = {"input": str(args.input), "bytes": size, "warm_up": warm_up, "variants": variants, "runs": runs}
    (work / "conf-ab.json").write_text(json.dumps(result, indent=2))
    for name, measured in runs.items():
        print(f"{name:12s} wall median {statistics.median(r['seconds'] for r in measured):6.2f} s, JVM CPU median "
              f"{statistics.median(r['jvm_cpu_s'] for r in measured):6.1f} s, {measured[0]['sql_executions']} SQL "
              f"executions; walls {[round(r['seconds'], 1) for r in measured]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
