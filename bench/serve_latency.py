"""Benchmark: p50 and p95 latency of a DirectQuery report's queries through `dataflix serve`.

    python -m bench.serve_latency --lakehouse DIR [--rounds 20] [--port N] [--master local[2]] [--out FILE]

Starts `dataflix serve` on the lakehouse (a subprocess, as a user runs it), connects over HiveServer2 with
PyHive, takes the latest month with playback sessions, runs every query of
`dataflix_spark.serving.report_queries` once to warm up, then `--rounds` times in turn (each query timed from
execute to the last row fetched, one client, as one report visual after another), and prints p50/p95 per
query and over all queries. Writes the numbers as JSON with `--out`. Goal (issue 5): p95 <= 1 s.
Timings are wall-clock on whatever else the machine is doing: the report records the load average.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from dataflix_spark.serving.report_queries import report_queries

GOAL_P95_S = 1.0


def percentile(values: list[float], p: float) -> float:
    """Nearest rank, as metrics.md defines percentiles."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(lakehouse: str, port: int, master: str, timeout_s: float = 600) -> tuple[subprocess.Popen, float]:
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dataflix_spark.cli", "serve", "--lakehouse", lakehouse, "--port", str(port),
         "--master", master],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    ready = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            if line.startswith("Stop with Ctrl-C"):
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    while not ready.wait(0.5):
        if proc.poll() is not None or time.monotonic() - started > timeout_s:
            proc.kill()
            raise SystemExit(f"dataflix serve did not start (exit code {proc.poll()})")
    return proc, time.monotonic() - started


def measure(cursor, queries: dict[str, str], rounds: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in queries}
    for round_ in range(rounds + 1):
        for name, sql in queries.items():
            start = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            if round_:  # round 0 warms up (first planning, Delta log reads)
                timings[name].append(time.perf_counter() - start)
    return timings


def report(timings: dict[str, list[float]], context: dict) -> str:
    everything = [t for values in timings.values() for t in values]
    lines = [
        f"serve latency: {context['lakehouse']} ({context['fact_playback_sessions']:,} player sessions, "
        f"month {context['month']}), {context['rounds']} rounds, master {context['master']}, "
        f"load average {context['load_before']} -> {context['load_after']}",
        "",
        "| query | p50 (ms) | p95 (ms) | max (ms) |",
        "|---|---:|---:|---:|",
    ]
    for name, values in timings.items():
        lines.append(f"| {name} | {percentile(values, 0.5) * 1000:,.0f} | {percentile(values, 0.95) * 1000:,.0f} "
                     f"| {max(values) * 1000:,.0f} |")
    p95 = percentile(everything, 0.95)
    lines += [f"| **all queries** | **{percentile(everything, 0.5) * 1000:,.0f}** | **{p95 * 1000:,.0f}** "
              f"| {max(everything) * 1000:,.0f} |", "",
              f"goal p95 <= {GOAL_P95_S:.0f} s: {'met' if p95 <= GOAL_P95_S else 'NOT met'}; "
              f"server start {context['start_s']:.1f} s"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lakehouse", required=True)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--master", default=f"local[{os.cpu_count() or 2}]")
    parser.add_argument("--out", help="write the timings as JSON here")
    args = parser.parse_args(argv)

    from pyhive import hive

    load_before = os.getloadavg()[0]
    port = args.port or _free_port()
    proc, start_s = start_server(args.lakehouse, port, args.master)
    try:
        connection = hive.connect(host="127.0.0.1", port=port, username="bench", database="dataflix")
        cursor = connection.cursor()
        cursor.execute("select max(`session_date`), count(1) from `dataflix`.`fact_playback_sessions`")
        last_day, sessions = cursor.fetchall()[0]
        month = dt.date.fromisoformat(str(last_day)).replace(day=1)
        timings = measure(cursor, report_queries(month), args.rounds)
        connection.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    context = {"lakehouse": args.lakehouse, "fact_playback_sessions": sessions, "month": month.isoformat(),
               "rounds": args.rounds, "master": args.master, "start_s": start_s,
               "load_before": round(load_before, 1), "load_after": round(os.getloadavg()[0], 1)}
    print(report(timings, context))
    if args.out:
        Path(args.out).write_text(json.dumps({"context": context, "timings_s": timings}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
