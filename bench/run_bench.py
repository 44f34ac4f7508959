"""Benchmark: generate N playback events, run `dataflix run` on them, time the DuckDB reference.

    python -m bench.run_bench --events 1000000 [--events 10000000] [--days 30] [--work DIR]

For each size: generates the documents (or reuses `<work>/input-<N>` when its manifest matches),
runs `dataflix run --master local[<cores>]` into a fresh lakehouse, and reports

- wall time and the time of each stage — Spark start, read+bronze and silver per container, gold
  (read and bronze are one Spark job: the JSON is scanned while bronze is written), from the
  run's progress lines and the Delta commit times of bronze and silver;
- events/s overall and per core, and for the playback_events ingest alone;
- peak memory (VmHWM, sampled from /proc) of the driver JVM and of the Python driver;
- bytes on disk per layer (input, bronze, silver, gold, ops);
- the DuckDB reference (bench/duckdb_reference.py) over the same input: wall time and peak memory;
- optionally (`--check`) whether the DuckDB and Spark gold tables agree row by row.

Writes `<work>/bench-<N>.json` and prints a markdown summary, with the issue's goals checked.
Timings are wall-clock on whatever else the machine is doing: note its load when quoting them.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EVENTS_PER_USER_DAY = 3.8  # what `dataflix generate` makes, bad and duplicate lines included
BENCH_PEPPER = "bench-pepper"  # the benchmark's data is synthetic: a fixed pepper is fine
CONTAINERS = ("content", "subscriptions", "playback_events", "recommendations")
LAYERS = ("bronze", "silver", "gold", "ops")
GOAL_RATIO_TO_DUCKDB = 5.0
GOAL_EVENTS_PER_CORE = 60_000
GOAL_DRIVER_BYTES = 4 * 1024**3
GOAL_SCALING = 11.0  # 10× the events in at most 11× the time

_STAGE_LINE = re.compile(r"\[\s*([0-9.]+)s\] (.*)$")


# --- process monitoring -------------------------------------------------------------------------

def children(pid: int) -> list[int]:
    """The direct children of a process (of any of its threads); none once it has ended."""
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return found


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, thread: str | None = None) -> float:
    """User + system CPU time so far of a process, or of one of its threads (fields 14 and 15 of its stat file);
    0 once it has ended."""
    try:
        with open(f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def _status(pid: int) -> dict[str, int]:
    values = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    values[key] = int(rest.split()[0]) * 1024
        with open(f"/proc/{pid}/comm") as f:
            name = f.read().strip()
        values["java"] = int(name == "java")
        values["python"] = int(name.startswith("python"))
    except OSError:
        pass
    return values


class MemorySampler:
    """Samples a process tree every `interval` s: peak RSS (VmHWM) of the JVMs and of the Python processes.

    Other processes are left out of the peaks: a child the JVM forks (Hadoop's shell commands) starts
    with a copy of the JVM's VmHWM. The tree's total RSS is sampled as well.
    """

    def __init__(self, pid: int, interval: float = 0.25):
        self.pid, self.interval = pid, interval
        self.peak: dict[int, tuple[str, int]] = {}
        self.cpu: dict[int, float] = {}
        self.peak_total_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            tree, total = [self.pid], 0
            while tree:
                pid = tree.pop()
                status = _status(pid)
                if "VmHWM" in status:
                    # The kind is kept once known: a process on its way out may no longer show its name.
                    # A JVM is first seen as the Python child that will exec it: "java" overrides what was known.
                    known, peak = self.peak.get(pid, ("other", 0))
                    kind = "java" if status.get("java") else known if known != "other" else (
                        "python" if status.get("python") else "other")
                    self.peak[pid] = (kind, max(status["VmHWM"], peak))
                    self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu_seconds(pid))
                    total += status.get("VmRSS", 0)
                tree += children(pid)
            self.peak_total_rss = max(self.peak_total_rss, total)
            self._stop.wait(self.interval)

    def summary(self) -> dict[str, int]:
        java = [peak for kind, peak in self.peak.values() if kind == "java"]
        python = [peak for kind, peak in self.peak.values() if kind == "python"]
        return {"jvm_peak_rss_bytes": max(java, default=0), "python_peak_rss_bytes": max(python, default=0),
                "tree_peak_rss_bytes": self.peak_total_rss, "cpu_s": round(sum(self.cpu.values()), 1)}


# --- helpers ------------------------------------------------------------------------------------

def dir_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def delta_commit_times(table: Path) -> list[float]:
    """Epoch seconds of each commit of a Delta table (from commitInfo in _delta_log)."""
    times = []
    for log in sorted((table / "_delta_log").glob("*.json")):
        for line in log.read_text().splitlines():
            info = json.loads(line).get("commitInfo")
            if info and "timestamp" in info:
                times.append(info["timestamp"] / 1000)
    return times


def machine_load() -> dict:
    load1, load5, _ = os.getloadavg()
    return {"cores": os.cpu_count(), "load_1m": round(load1, 2), "load_5m": round(load5, 2),
            "python": platform.python_version()}


# --- the steps ----------------------------------------------------------------------------------

def generate_input(work: Path, events: int, days: int, seed: int, gzip_files: bool) -> dict:
    users = max(1, round(events / (EVENTS_PER_USER_DAY * days)))
    folder = work / f"input-{events}"
    wanted = {"users": users, "days": days, "seed": seed, "gzip": gzip_files}
    stamp = folder / "_bench.json"
    if stamp.exists() and json.loads(stamp.read_text()).get("params") == wanted:
        print(f"reusing {folder}", file=sys.stderr)
        return json.loads(stamp.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    sys.path.insert(0, str(REPO))
    from dataflix_spark.generate import generate

    started = time.monotonic()
    summary = generate(str(folder), users=users, days=days, seed=seed, gzip_files=gzip_files)
    info = {"params": wanted, "dir": str(folder), "generate_s": round(time.monotonic() - started, 1),
            "counts": summary.counts, "end_date": summary.end_date.isoformat()}
    stamp.write_text(json.dumps(info, indent=2))
    return info


def existing_input(folder: Path) -> dict:
    """A folder written by `dataflix generate` (its `_manifest.json`), used as it is."""
    manifest = json.loads((folder / "_manifest.json").read_text())
    return {"params": manifest["parameters"], "dir": str(folder.resolve()), "generate_s": None,
            "counts": manifest["counts"], "end_date": manifest["end_date"]}


def run_spark(input_dir: str, lakehouse: Path, as_of: str, cores: int, conf: str | None = None) -> dict:
    """`dataflix run` in a subprocess, as a user runs it; stage times from its progress lines."""
    shutil.rmtree(lakehouse, ignore_errors=True)
    env = {**os.environ, "DATAFLIX_PEPPER": BENCH_PEPPER}
    cmd = [sys.executable, "-m", "dataflix_spark.cli", "run", "--input", input_dir, "--lakehouse", str(lakehouse),
           "--as-of", as_of, "--master", f"local[{cores}]"] + (["--conf", conf] if conf else [])
    lines: list[tuple[float, str]] = []
    started = time.time()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with MemorySampler(proc.pid) as sampler:
        for line in proc.stdout:
            lines.append((time.time(), line.rstrip("\n")))
        proc.wait()
    finished = time.time()
    log = [text for _, text in lines]
    log_file = lakehouse.parent / f"{lakehouse.name}.log"
    log_file.write_text("\n".join(log) + "\n")
    if proc.returncode != 0:
        raise RuntimeError(f"dataflix run failed ({proc.returncode}); the whole log is in {log_file}:\n"
                           + "\n".join(log[-30:]))
    return {"wall_s": finished - started, "started": started, "lines": lines, "memory": sampler.summary(),
            "stages": stage_times(lines, lakehouse, started, finished)}


def stage_times(lines: list[tuple[float, str]], lakehouse: Path, started: float, finished: float) -> dict:
    """Spark start, read+bronze and silver per container, gold, ops — in seconds of wall time."""
    at: dict[str, float] = {}
    for when, text in lines:
        if " INFO run " in text and any(f"({mode})" in text for mode in ("first run", "incremental", "full refresh")):
            at.setdefault("run_start", when)
        match = _STAGE_LINE.search(text)
        if not match:
            continue
        message = match.group(2)
        for container in CONTAINERS:
            if message.startswith(f"{container}:"):
                at[container] = when
        if message.startswith("gold:"):
            at["gold_start"] = when
        if message.startswith("gold ") and message.endswith("written"):
            at["gold_end"] = when
        if message.startswith("run log appended"):
            at["run_end"] = when
    stages = {"spark_start": at["run_start"] - started}
    previous = at["run_start"]
    for container in CONTAINERS:
        bronze = delta_commit_times(lakehouse / "bronze" / container)
        bronze_done = min(max(bronze[-1], previous), at[container]) if bronze else previous
        stages[f"{container}.read_bronze"] = bronze_done - previous
        stages[f"{container}.silver"] = at[container] - bronze_done
        previous = at[container]
    stages["read_bronze"] = sum(v for k, v in stages.items() if k.endswith(".read_bronze"))
    stages["silver"] = sum(v for k, v in stages.items() if k.endswith(".silver"))
    stages["gold"] = at["gold_end"] - previous
    stages["ops_and_exit"] = finished - at["gold_end"]
    return {k: round(v, 1) for k, v in stages.items()}


def run_duckdb(input_dir: str, out: Path, as_of: str, cores: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "DATAFLIX_PEPPER": BENCH_PEPPER}
    cmd = [sys.executable, "-m", "bench.duckdb_reference", "--input", input_dir, "--out", str(out),
           "--as-of", as_of, "--threads", str(cores)]
    started = time.time()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with MemorySampler(proc.pid) as sampler:
        output = proc.communicate()[0]
    wall = time.time() - started
    if proc.returncode != 0:
        raise RuntimeError(f"duckdb reference failed ({proc.returncode}):\n{output[-3000:]}")
    return {"wall_s": round(wall, 1), "memory": sampler.summary(), "output": output.strip().splitlines()[-1]}


def check_gold(lakehouse: Path, as_of: str, input_dir: str) -> dict[str, list[str]]:
    """Row-by-row differences between the DuckDB reference and the Spark gold ({} when all agree)."""
    sys.path.insert(0, str(REPO))
    from bench.compare import diff_table, read_delta
    from bench.duckdb_reference import GOLD_KEYS, build_reference

    reference = build_reference(input_dir, BENCH_PEPPER, dt.date.fromisoformat(as_of))
    problems = {}
    for name, table in reference.items():
        diff = diff_table(table, read_delta(lakehouse / "gold" / name), GOLD_KEYS[name])
        if diff:
            problems[name] = diff
    return problems


def bench_one(args: argparse.Namespace, events: int | None, work: Path) -> dict:
    if args.input:
        data = existing_input(Path(args.input))
        events = data["counts"]["playback_events"]
    else:
        data = generate_input(work, events, args.days, args.seed, args.gzip)
    as_of = args.as_of or data["end_date"]
    event_lines = data["counts"]["playback_events"]
    documents = sum(data["counts"].values())
    lakehouse = work / f"lakehouse-{events}"
    load_before = machine_load()
    spark = run_spark(data["dir"], lakehouse, as_of, args.cores, args.conf)
    result = {
        "events": event_lines, "documents": documents, "users": data["params"]["users"],
        "days": data["params"]["days"], "as_of": as_of, "input": data["dir"], "lakehouse": str(lakehouse),
        "conf": args.conf,
        "cores": args.cores, "machine_before": load_before, "machine_after": machine_load(),
        "generate_s": data["generate_s"],
        "spark": {
            "wall_s": round(spark["wall_s"], 1), "stages_s": spark["stages"], "memory": spark["memory"],
            "events_per_s": round(event_lines / spark["wall_s"]),
            "events_per_s_per_core": round(event_lines / spark["wall_s"] / args.cores),
            "events_ingest_per_s_per_core": round(
                event_lines / (spark["stages"]["playback_events.read_bronze"] + spark["stages"]["playback_events.silver"])
                / args.cores),
        },
        "bytes": {"input": dir_bytes(Path(data["dir"])), **{layer: dir_bytes(lakehouse / layer) for layer in LAYERS}},
        "progress": [text for _, text in spark["lines"] if _STAGE_LINE.search(text)],
    }
    if not args.skip_duckdb:
        result["duckdb"] = run_duckdb(data["dir"], work / f"duckdb-{events}", as_of, args.cores)
        result["spark_over_duckdb"] = round(result["spark"]["wall_s"] / result["duckdb"]["wall_s"], 2)
    if args.check:
        result["check"] = check_gold(lakehouse, as_of, data["dir"]) or "all 14 gold tables agree"
    if not args.keep:
        shutil.rmtree(lakehouse, ignore_errors=True)
    return result


def _cpu(r: dict, engine: str) -> float | None:
    return r.get(engine, {}).get("memory", {}).get("cpu_s") or None


def goals(results: list[dict]) -> list[tuple[str, str, str]]:
    """(goal, measured, met?) for the issue's goals, over the sizes measured.

    Wall-clock figures assume the machine's cores are free; on a shared machine the CPU-time
    figures (CPU seconds the engine's processes used) are the fairer measure, so both are given.
    """
    rows = []
    for r in results:
        n = f"{r['events']:,} events"
        spark_cpu, duck_cpu = _cpu(r, "spark"), _cpu(r, "duckdb")
        if "duckdb" in r:
            rows.append((f"Spark within {GOAL_RATIO_TO_DUCKDB:g}× DuckDB, wall time ({n})", f"{r['spark_over_duckdb']}×",
                         "yes" if r["spark_over_duckdb"] <= GOAL_RATIO_TO_DUCKDB else "no"))
            if spark_cpu and duck_cpu:
                ratio = spark_cpu / duck_cpu
                rows.append((f"Spark within {GOAL_RATIO_TO_DUCKDB:g}× DuckDB, CPU time ({n})", f"{ratio:.1f}×",
                             "yes" if ratio <= GOAL_RATIO_TO_DUCKDB else "no"))
        per_core = r["spark"]["events_per_s_per_core"]
        rows.append((f"≥ {GOAL_EVENTS_PER_CORE:,} events/s per core, wall time ({n})", f"{per_core:,}",
                     "yes" if per_core >= GOAL_EVENTS_PER_CORE else "no"))
        if spark_cpu:
            per_cpu = r["events"] / spark_cpu
            rows.append((f"≥ {GOAL_EVENTS_PER_CORE:,} events per CPU second ({n})", f"{per_cpu:,.0f}",
                         "yes" if per_cpu >= GOAL_EVENTS_PER_CORE else "no"))
        jvm = r["spark"]["memory"]["jvm_peak_rss_bytes"]
        rows.append((f"driver ≤ 4 GiB ({n})", f"{jvm / 1024**3:.2f} GiB JVM peak RSS",
                     "yes" if jvm <= GOAL_DRIVER_BYTES else "no"))
    by_size = sorted(results, key=lambda r: r["events"])
    for small, large in zip(by_size, by_size[1:]):
        size_ratio = large["events"] / small["events"]
        limit = GOAL_SCALING * size_ratio / 10
        time_ratio = large["spark"]["wall_s"] / small["spark"]["wall_s"]
        rows.append((f"time linear: {large['events']:,} in ≤ {limit:.1f}× the wall time of {small['events']:,}",
                     f"{time_ratio:.2f}×", "yes" if time_ratio <= limit else "no"))
        if _cpu(small, "spark") and _cpu(large, "spark"):
            cpu_ratio = _cpu(large, "spark") / _cpu(small, "spark")
            rows.append((f"CPU time linear: {large['events']:,} in ≤ {limit:.1f}× the CPU time of {small['events']:,}",
                         f"{cpu_ratio:.2f}×", "yes" if cpu_ratio <= limit else "no"))
    return rows


def markdown(results: list[dict]) -> str:
    out = []
    for r in results:
        s, b = r["spark"], r["bytes"]
        out.append(f"### {r['events']:,} playback events ({r['documents']:,} documents; "
                   f"{r['users']:,} users × {r['days']} days), local[{r['cores']}]\n")
        out.append(f"Load average before / after: {r['machine_before']['load_1m']} / {r['machine_after']['load_1m']} "
                   f"on {r['machine_before']['cores']} cores.\n")
        out.append("| stage | seconds |\n|---|---:|")
        for name, seconds in s["stages_s"].items():
            out.append(f"| {name} | {seconds} |")
        out.append(f"| **dataflix run, total** | **{s['wall_s']}** |")
        if "duckdb" in r:
            out.append(f"| DuckDB reference, total | {r['duckdb']['wall_s']} |")
        out.append("")
        out.append(f"- events/s (wall): {s['events_per_s']:,} overall, {s['events_per_s_per_core']:,} per core; "
                   f"playback_events ingest {s['events_ingest_per_s_per_core']:,} per core")
        m = s["memory"]
        if m.get("cpu_s"):
            out.append(f"- CPU time: dataflix run {m['cpu_s']:,} s ({r['events'] / m['cpu_s']:,.0f} events per CPU second)"
                       + (f", DuckDB {r['duckdb']['memory']['cpu_s']:,} s" if _cpu(r, "duckdb") else ""))
        out.append(f"- peak RSS: driver JVM {m['jvm_peak_rss_bytes'] / 1024**3:.2f} GiB, Python driver "
                   f"{m['python_peak_rss_bytes'] / 1024**2:.0f} MiB")
        if "duckdb" in r:
            out.append(f"- DuckDB: {r['duckdb']['wall_s']} s, peak RSS "
                       f"{r['duckdb']['memory']['tree_peak_rss_bytes'] / 1024**3:.2f} GiB; Spark / DuckDB = "
                       f"{r['spark_over_duckdb']}× (wall); {r['duckdb']['output']}")
        out.append("- on disk (MiB): " + ", ".join(f"{k} {v / 1024**2:.1f}" for k, v in b.items()))
        if "check" in r:
            out.append(f"- DuckDB vs Spark gold: {r['check'] if isinstance(r['check'], str) else 'DIFFERENCES'}")
        out.append("")
    out.append("| goal | measured | met |\n|---|---|---|")
    out += [f"| {g} | {m} | {ok} |" for g, m, ok in goals(results)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, action="append", help="playback events to generate (repeatable)")
    parser.add_argument("--days", type=int, default=30, help="days of activity; users = events / (3.8 × days)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--input", help="use this `dataflix generate` folder instead of generating (one size)")
    parser.add_argument("--as-of", help="the runs' as-of date (default: the input's last day)")
    parser.add_argument("--conf", help="a YAML settings file for `dataflix run` (e.g. another driver memory)")
    parser.add_argument("--gzip", action="store_true", help="write the input as .jsonl.gz")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2, help="Spark local[N] and DuckDB threads")
    parser.add_argument("--work", default="bench-work", help="where inputs, lakehouses and results go")
    parser.add_argument("--skip-duckdb", action="store_true")
    parser.add_argument("--check", action="store_true", help="compare the DuckDB and Spark gold row by row")
    parser.add_argument("--keep", action="store_true", help="keep the lakehouses")
    parser.add_argument("--baseline", help="an earlier bench-<N>.json to include in the linearity check")
    parser.add_argument("--report", nargs="+", metavar="JSON", help="only print the summary of saved bench-<N>.json")
    args = parser.parse_args(argv)
    if args.report:
        print(markdown([json.loads(Path(f).read_text()) for f in args.report]))
        return 0
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    results = [json.loads(Path(args.baseline).read_text())] if args.baseline else []
    for events in [None] if args.input else args.events or [1_000_000]:
        result = bench_one(args, events, work)
        (work / f"bench-{result['events']}.json").write_text(json.dumps(result, indent=2))
        results.append(result)
    report = markdown(results)
    (work / "bench.md").write_text(report + "\n")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
