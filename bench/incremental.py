"""Incremental vs. full run (issue 3's benchmark; not a test).

Builds a lakehouse with one full `dataflix run` over a generated base (default ≈ 10 million events),
then drops one more day of events and lists from a subset of the same users (≈ 1 % more events) into
the input folder and times the incremental run that picks them up.

    python bench/incremental.py --work /tmp/dataflix-bench            # ≈ 10M events; ~1 h on 2 cores
    python bench/incremental.py --work /tmp/b --users 4500 --days 65 --increment-users 2600   # ≈ 1M

Prints and writes <work>/incremental.json. Generated folders are reused when their manifest exists.

To reuse the full run of `bench/run_bench.py --input DIR --as-of 2026-10-31 --keep` (one 10M run for
both benchmarks), pass its result: `--from-bench WORK/bench-N.json`. The kept lakehouse is copied and
left as it was; the increment's files are added to the bench's input folder for the run and removed
afterwards (bronze knows files by path, so the folder must be the same).

With `--watch --base DIR`, both runs happen in one `dataflix run --watch` process (a service that stays
up): the full run over DIR, then, once it is logged, the increment is added to DIR and the next run
picks it up with a warm JVM. Writes <work>/incremental-watch.json.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = re.compile(r"\[\s*([0-9.]+)s\] (.*)")


def _generate(out: Path, users: int, days: int, seed: int, end_date: str) -> dict:
    manifest = out / "_manifest.json"
    if not manifest.exists():
        subprocess.run([sys.executable, "-m", "dataflix_spark.cli", "generate", "--out", str(out), "--users", str(users),
                        "--days", str(days), "--seed", str(seed), "--end-date", end_date], check=True)
    return json.loads(manifest.read_text())


def _run(input_dir: Path, lakehouse: Path, as_of: str, log: Path) -> dict:
    """One `dataflix run` in a subprocess: wall time, the stage lines it printed, its exit code."""
    env = {**os.environ, "DATAFLIX_PEPPER": "bench-pepper"}
    started = time.monotonic()
    with log.open("w") as out:
        result = subprocess.run([sys.executable, "-m", "dataflix_spark.cli", "run", "--input", str(input_dir),
                                 "--lakehouse", str(lakehouse), "--as-of", as_of], stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=ROOT)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"dataflix run failed ({result.returncode}); see {log}")
    stages = [(float(m.group(1)), m.group(2)) for m in map(STAGE.search, log.read_text().splitlines()) if m]
    return {"seconds": round(seconds, 1), "stages": stages}


def _events(manifest: dict) -> int:
    return int(manifest["counts"]["playback_events"])


def _increment(work: Path, users: int) -> dict:
    """The extra day (2026-10-31) of events and lists from `users` of the base's users; its manifest."""
    return _generate(work / "increment", users, 1, seed=2, end_date="2026-10-31")


def _add_increment(increment: Path, landing: Path, added: list[Path]) -> None:
    """Copies the increment's event and list files into the landing folder, each new path into `added`
    as soon as it is written (so a caller can remove a partial copy)."""
    for container in ("playback_events", "recommendations"):
        for f in (increment / container).iterdir():
            added.append(landing / container / f"increment-{f.name}")
            shutil.copy(f, added[-1])


def _report(work: Path, base_events: int, new_events: int, full_seconds: float, full_stages: list,
            incremental: dict, name: str = "incremental.json") -> None:
    result = {
        "base_events": base_events,
        "new_events": new_events,
        "new_share": round(new_events / base_events, 4),
        "full_seconds": full_seconds,
        "incremental_seconds": incremental["seconds"],
        "incremental_over_full": round(incremental["seconds"] / full_seconds, 3),
        "full_stages": full_stages,
        "incremental_stages": incremental["stages"],
        "cores": os.cpu_count(),
    }
    (work / name).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("stages")}, indent=2))


def _from_bench(args: argparse.Namespace) -> None:
    bench = json.loads(args.from_bench.read_text())
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    increment_manifest = _increment(work, args.increment_users)
    landing, lakehouse = Path(bench["input"]), work / "lakehouse"
    shutil.rmtree(lakehouse, ignore_errors=True)
    subprocess.run(["cp", "-a", bench["lakehouse"], str(lakehouse)], check=True)
    added: list[Path] = []
    try:
        _add_increment(work / "increment", landing, added)
        incremental = _run(landing, lakehouse, bench["as_of"], work / "incremental.log")
    finally:
        for f in added:
            f.unlink(missing_ok=True)
    _report(work, bench["events"], _events(increment_manifest), bench["spark"]["wall_s"], bench["progress"],
            incremental)


def _inputs(args: argparse.Namespace) -> tuple[Path, dict, dict]:
    """The base folder (generated unless it exists) and the manifests of the base and the increment."""
    args.work.mkdir(parents=True, exist_ok=True)
    base = args.base or args.work / "base"
    return (base, _generate(base, args.users, args.days, seed=1, end_date="2026-10-30"),
            _increment(args.work, args.increment_users))


def _watched(args: argparse.Namespace) -> None:
    """Full and incremental runs in one `dataflix run --watch` process, as a service runs them: the first run
    builds the lakehouse from the base folder; the increment is dropped in once it is logged, and the next
    run that finds it is timed. Both times are the runs' own (from their progress lines), so neither
    includes the JVM start."""
    work = args.work
    landing, base_manifest, increment_manifest = _inputs(args)
    lakehouse, log = work / "lakehouse-watch", work / "watch.log"
    shutil.rmtree(lakehouse, ignore_errors=True)
    env = {**os.environ, "DATAFLIX_PEPPER": "bench-pepper"}
    added: list[Path] = []
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "dataflix_spark.cli", "run", "--input", str(landing), "--lakehouse", str(lakehouse),
             "--as-of", "2026-10-31", "--watch", "5"], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        full = _next_run(log, process, after=0)
        _add_increment(work / "increment", landing, added)
        incremental = _next_run(log, process, after=1, reading="1 new files")
    finally:
        process.terminate()
        process.wait()
        for f in added:
            f.unlink(missing_ok=True)
    _report(work, _events(base_manifest), _events(increment_manifest), full["seconds"], full["stages"], incremental,
            name="incremental-watch.json")


def _next_run(log: Path, process: subprocess.Popen, after: int, reading: str = "") -> dict:
    """The first run logged after the `after`-th whose progress lines contain `reading`: its seconds and stages."""
    while True:
        runs = _logged_runs(log.read_text())
        for stages in runs[after:]:
            if any(reading in text for _, text in stages):
                return {"seconds": stages[-1][0], "stages": stages}
        if process.poll() is not None:
            raise SystemExit(f"dataflix run --watch exited ({process.returncode}); see {log}")
        time.sleep(1)


def _logged_runs(text: str) -> list[list[tuple[float, str]]]:
    """The progress lines of each finished run (the elapsed times restart at every run)."""
    runs, current = [], []
    for m in filter(None, map(STAGE.search, text.splitlines())):
        current.append((float(m.group(1)), m.group(2)))
        if m.group(2).startswith("run log appended"):
            runs.append(current)
            current = []
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--users", type=int, default=45000)
    parser.add_argument("--days", type=int, default=65)
    parser.add_argument("--increment-users", type=int, default=26000)
    parser.add_argument("--base", type=Path, help="an already generated base folder (default <work>/base)")
    parser.add_argument("--from-bench", type=Path, help="a bench-N.json of run_bench.py --keep: reuse its full run")
    parser.add_argument("--watch", action="store_true",
                        help="both runs in one `dataflix run --watch` process over the --base folder")
    args = parser.parse_args()
    if args.from_bench:
        return _from_bench(args)
    if args.watch:
        return _watched(args)

    work = args.work
    base, base_manifest, increment_manifest = _inputs(args)
    landing, lakehouse = work / "landing", work / "lakehouse"
    shutil.rmtree(landing, ignore_errors=True)
    shutil.rmtree(lakehouse, ignore_errors=True)
    shutil.copytree(base, landing, ignore=shutil.ignore_patterns("_manifest.json"))

    full = _run(landing, lakehouse, "2026-10-31", work / "full.log")
    _add_increment(work / "increment", landing, [])
    incremental = _run(landing, lakehouse, "2026-10-31", work / "incremental.log")
    _report(work, _events(base_manifest), _events(increment_manifest), full["seconds"], full["stages"], incremental)


if __name__ == "__main__":
    main()
