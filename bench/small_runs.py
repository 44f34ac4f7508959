"""Small runs' fixed costs (issue 19's benchmark; not a test). Run it on a quiet machine.

    python bench/small_runs.py --work /tmp/small-runs

Each figure is the wall time of a new `dataflix` process, as a user meets it:
1. `dataflix demo` with its defaults (generate + first run + KPIs + dashboard);
2. `dataflix run` again over the demo's sample: nothing new;
3. a first run over the tests' typical small input (60 users x 4 days);
4. the same first run from Cosmos DB: that input seeded into cosmium (when built: scripts/cosmium.sh build),
   `dataflix run --source cosmos` (the seeding is not timed).
Goals: demo <= 60 s, no-change run <= 10 s, small first run <= 20 s (from files or Cosmos DB). Writes
<work>/small-runs.json with the stage lines' times, so the seconds can be attributed.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.incremental import STAGE  # noqa: E402
from tests.integration import cosmium  # noqa: E402

GOALS = {"demo": 60, "no_change_run": 10, "small_first_run": 20, "small_first_run_cosmos": 20}


def _timed(name: str, args: list[str], work: Path, env: dict[str, str] | None = None) -> dict:
    log = work / f"{name}.log"
    started = time.monotonic()
    with log.open("w") as out:
        result = subprocess.run([sys.executable, "-m", "dataflix_spark.cli", *args], stdout=out,
                                stderr=subprocess.STDOUT, cwd=work,
                                env={**os.environ, "DATAFLIX_PEPPER": "bench", **(env or {})})
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"dataflix {args[0]} failed ({result.returncode}); see {log}")
    stages = [(float(m.group(1)), m.group(2)) for m in map(STAGE.search, log.read_text().splitlines()) if m]
    return {"seconds": round(seconds, 1), "goal_s": GOALS[name], "stages": stages}


def _cosmos_first_run(work: Path) -> dict:
    server = cosmium.Cosmium().start()
    try:
        env = {"DATAFLIX_COSMOS_ENDPOINT": server.endpoint, "DATAFLIX_COSMOS_DATABASE": "bench",
               "DATAFLIX_COSMOS_KEY": base64.b64encode(b"bench-key-cosmium-checks-none").decode()}
        subprocess.run([sys.executable, "-m", "dataflix_spark.cli", "seed", "--input", str(work / "small"),
                        "--cosmos-emulator"], check=True, capture_output=True, env={**os.environ, **env})
        return _timed("small_first_run_cosmos", ["run", "--source", "cosmos", "--cosmos-emulator", "--lakehouse",
                                                 "cosmos-lh", "--as-of", "2026-10-31"], work, env)
    finally:
        server.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, type=Path)
    args = parser.parse_args(argv)
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results = {"demo": _timed("demo", ["demo"], work)}
    results["no_change_run"] = _timed("no_change_run", ["run", "--input", "sample_data", "--lakehouse", "lakehouse",
                                                        "--as-of", "2026-10-31"], work)
    subprocess.run([sys.executable, "-m", "dataflix_spark.cli", "generate", "--out", str(work / "small"), "--users",
                    "60", "--days", "4"], check=True, capture_output=True)
    results["small_first_run"] = _timed("small_first_run", ["run", "--input", "small", "--lakehouse", "small-lh",
                                                            "--as-of", "2026-10-31"], work)
    if cosmium.BINARY.is_file():
        results["small_first_run_cosmos"] = _cosmos_first_run(work)
    else:
        print(f"cosmium is not built ({cosmium.BINARY}): no Cosmos DB run (scripts/cosmium.sh build)")
    (work / "small-runs.json").write_text(json.dumps(results, indent=2))
    for name, result in results.items():
        verdict = "met" if result["seconds"] <= result["goal_s"] else "not met"
        print(f"{name:<16} {result['seconds']:>7.1f} s  (goal {result['goal_s']} s: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
