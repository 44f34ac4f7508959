"""Where one `dataflix run` spends its seconds (issue 19's attribution; not a test). Run it on a quiet machine.

    python -m bench.profile_run --input small --as-of 2026-10-31 --work /tmp/profile

A new `dataflix run` process into a fresh lakehouse, with Spark's event log on and a Java Flight Recorder profile of
the driver JVM (dumped with `jcmd` once the run logs its last stage: the gateway JVM is killed, not exited, so a
dump at exit never happens). Prints and writes <work>/profile.json:
- the event log: Spark jobs, SQL executions, tasks; task run, CPU and deserialisation seconds; the seconds in which
  no job and no task was running (the driver alone: planning, Delta commits, Python);
- the JVM's CPU seconds per kind of thread (from /proc, sampled every 0.5 s);
- the share of the driver's samples (py4j threads) inside each of a few Spark and Delta phases (a sample may be
  in several: the shares are not additive).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.run_bench import children, cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
JVM = "org.apache.spark.deploy.SparkSubmit"
LAST_STAGE = "run log appended"

# Appends the profiler's options to the driver JVM's own (the class cache and the short-run JIT stay as in a run).
RUN = """
import sys
from dataflix_spark import cli, session
extra, own = sys.argv.pop(1), session.driver_java_options
session.driver_java_options = lambda *args, **kwargs: own(*args, **kwargs) + " " + extra
sys.exit(cli.main(sys.argv[1:]))
"""

# Frames (class.method substrings) whose presence in a driver sample puts it in a phase.
PHASES = {
    "analysis": "catalyst.analysis.Analyzer",
    "optimisation": "QueryExecution.optimizedPlan",
    "physical planning": "QueryExecution.executedPlan",
    "Delta: files for a scan": "filesForScan",
    "Delta: transaction commit": "OptimisticTransactionImpl.commit",
    "Delta: snapshot update": "SnapshotManagement",
    "closure cleaning and its serialisation check": "ClosureCleaner",
    "class loading": "ClassLoader.loadClass",
    "job submission and wait": "SparkContext.runJob",
}


def summarise_event_log(lines) -> dict:
    """Counts and seconds from the JSON lines of a Spark event log."""
    jobs, tasks, executions = [], [], 0
    starts = {}
    for line in lines:
        event = json.loads(line)
        kind = event["Event"]
        if kind == "SparkListenerJobStart":
            starts[event["Job ID"]] = event["Submission Time"]
        elif kind == "SparkListenerJobEnd" and event["Job ID"] in starts:
            jobs.append((starts.pop(event["Job ID"]), event["Completion Time"]))
        elif kind.endswith("SparkListenerSQLExecutionStart"):
            executions += 1
        elif kind == "SparkListenerTaskEnd":
            info, metrics = event["Task Info"], event.get("Task Metrics") or {}
            tasks.append((info["Launch Time"], info["Finish Time"], metrics.get("Executor Run Time", 0),
                          metrics.get("Executor CPU Time", 0) / 1e6, metrics.get("Executor Deserialize Time", 0)))
    span = (min(s for s, _ in jobs), max(e for _, e in jobs)) if jobs else (0, 0)
    return {
        "jobs": len(jobs), "sql_executions": executions, "tasks": len(tasks),
        "task_run_s": round(sum(t[2] for t in tasks) / 1000, 1),
        "task_cpu_s": round(sum(t[3] for t in tasks) / 1000, 1),
        "task_deserialise_s": round(sum(t[4] for t in tasks) / 1000, 1),
        "jobs_span_s": round((span[1] - span[0]) / 1000, 1),
        "no_job_running_s": round((span[1] - span[0] - _covered(jobs)) / 1000, 1),
        "no_task_running_s": round((span[1] - span[0] - _covered([t[:2] for t in tasks])) / 1000, 1),
    }


def _covered(intervals) -> int:
    """Milliseconds covered by the union of (start, end) intervals."""
    total, end = 0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total


# Linux keeps 15 characters of a thread's name.
THREAD_KINDS = {"Thread-N": "driver (py4j calls: planning, Delta)", "Executor task l": "tasks",
                "CN CompilerThre": "JIT compiler", "GC Thread#N": "GC", "GN Conc#N": "GC (concurrent)"}


def thread_kind(name: str) -> str:
    """What a JVM thread is, from its name without numbers ("Thread-12" and "Thread-3" are both py4j threads)."""
    kind = re.sub(r"[0-9]+", "N", name).strip()
    return THREAD_KINDS.get(kind, kind)


def driver_phases(samples: list[list[str]]) -> dict[str, float]:
    """Per phase, the percentage of driver samples (each a list of "class.method" frames) inside it."""
    counts = collections.Counter()
    for frames in samples:
        stack = " ".join(frames)
        counts.update(phase for phase, frame in PHASES.items() if frame in stack)
    return {phase: round(100 * counts[phase] / len(samples), 1) if samples else 0.0 for phase in PHASES}


def _thread_cpu(pids: list[int], seen: dict) -> None:
    """Each thread's name and CPU seconds so far into `seen`, keeping the last reading of a thread that has ended."""
    for pid in pids:
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # the process ended meanwhile
        for tid in threads:
            try:
                name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
            except OSError:
                continue
            seen[(pid, tid)] = (name, max(seen.get((pid, tid), ("", 0.0))[1], cpu_seconds(pid, tid)))


def _jvms(root: int) -> list[int]:
    """The JVMs in a process's tree (a local run's: its driver)."""
    found, tree = [], [root]
    while tree:
        pid = tree.pop()
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "java":
                found.append(pid)
        except OSError:
            continue
        tree += children(pid)
    return found


def _other_spark_jvms() -> bool:
    return bool(subprocess.run(["pgrep", "-f", JVM], capture_output=True, text=True).stdout.split())


def _driver_samples(recording: Path) -> list[list[str]]:
    printed = subprocess.run(["jfr", "print", "--json", "--stack-depth", "2048", "--events", "jdk.ExecutionSample",
                              str(recording)], capture_output=True, text=True, check=True).stdout
    samples = []
    for event in json.loads(printed)["recording"]["events"]:
        if (event["values"]["sampledThread"]["javaName"] or "").startswith("Thread-"):  # py4j: the driver's calls
            samples.append([f"{f['method']['type']['name'].replace('/', '.')}.{f['method']['name']}"
                            for f in event["values"]["stackTrace"]["frames"]])
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, type=Path)
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--work", required=True, type=Path)
    args = parser.parse_args(argv)
    if not (shutil.which("jcmd") and shutil.which("jfr")):
        raise SystemExit("profile_run needs the JDK's jcmd and jfr on PATH (a JRE has neither)")
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    (work / "eventlog").mkdir(parents=True)
    conf = work / "profile.yaml"
    conf.write_text(json.dumps({"spark": {"conf": {"spark.eventLog.enabled": "true", "spark.eventLog.compress": "false",
                                                   "spark.eventLog.dir": str(work / "eventlog")}}}))
    recording, log = work / "driver.jfr", work / "run.log"
    jfr = f"-XX:FlightRecorderOptions:stackdepth=2048 -XX:StartFlightRecording=filename={recording},settings=profile"
    if _other_spark_jvms():
        raise SystemExit("another Spark JVM is running: profile on a quiet machine")
    started = time.monotonic()
    with log.open("w") as out:
        run = subprocess.Popen([sys.executable, "-c", RUN, jfr, "run", "--input", str(args.input.resolve()),
                                "--lakehouse", str(work / "lakehouse"), "--as-of", args.as_of, "--conf", str(conf)],
                               stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                               env={**os.environ, "DATAFLIX_PEPPER": os.environ.get("DATAFLIX_PEPPER", "bench")})
        threads, dumped = {}, False
        while run.poll() is None:
            pids = _jvms(run.pid)
            _thread_cpu(pids, threads)
            if not dumped and pids and LAST_STAGE in log.read_text():
                dump = subprocess.run(["jcmd", str(pids[0]), "JFR.dump", f"filename={recording}"], capture_output=True)
                dumped = dump.returncode == 0
            time.sleep(0.5)
    wall = time.monotonic() - started
    if run.returncode != 0 or not dumped:
        raise SystemExit(f"the run failed, or its profile was not dumped before the JVM ended; see {log}")
    cpu = collections.Counter()
    for name, seconds in threads.values():
        cpu[thread_kind(name)] += seconds
    files = sorted((work / "eventlog").rglob("events_*"),
                   key=lambda p: int(m[1]) if (m := re.match(r"events_(\d+)_", p.name)) else 0)  # rolled files in order
    result = {
        "wall_s": round(wall, 1),
        "event_log": summarise_event_log(line for path in files for line in path.open()),
        "jvm_cpu_s": {kind: round(seconds, 1) for kind, seconds in cpu.most_common(8)},
        "jvm_cpu_total_s": round(sum(cpu.values()), 1),
        "driver_phases_pct": driver_phases(_driver_samples(recording)),
    }
    (work / "profile.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
