"""The Cosmos DB source against cosmium (issue 17's benchmark; not a test). Run it on a quiet machine.

    python bench/cosmos_read.py --work /tmp/cosmos-bench                       # ≈ 1M events (8,700 users, 30 days)
    python bench/cosmos_read.py --work /tmp/b --users 900 --days 30            # ≈ 100k events

In one session, on the same generated documents:
1. `dataflix seed` into a new cosmium (scripts/cosmium.sh build first), timed;
2. a plain azure-cosmos SDK query loop (`SELECT * FROM c`, one thread, every page) over each container: the
   server's limit here, in documents/s;
3. `dataflix run --source cosmos` into a new lakehouse: the read stage (up to the `source:` line, after which
   every container has been read) in documents/s, and the rest of the run;
4. `dataflix run --input` (the local source) over the same documents: the same split.
Goals: read stage >= 0.8x the SDK loop's documents/s; the Cosmos run's rest within 1.2x of the local run's.
Writes <work>/cosmos-bench.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.incremental import STAGE  # noqa: E402
from dataflix_spark.config import CosmosConfig  # noqa: E402
from dataflix_spark.lakehouse import CONTAINERS  # noqa: E402
from dataflix_spark.sources.cosmos import resolve_account, sdk_client  # noqa: E402
from tests.integration.cosmium import Cosmium  # noqa: E402

PEPPER = "bench-pepper"


def _dataflix(args: list[str], log: Path, env: dict[str, str]) -> dict:
    started = time.monotonic()
    with log.open("w") as out:
        result = subprocess.run([sys.executable, "-m", "dataflix_spark.cli", *args], stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"dataflix {args[0]} failed ({result.returncode}); see {log}")
    stages = [(float(m.group(1)), m.group(2)) for m in map(STAGE.search, log.read_text().splitlines()) if m]
    return {"seconds": round(seconds, 1), "stages": stages}


def _split(run: dict, marker: str) -> dict:
    """Seconds up to the stage line starting with `marker` (in-run clock), and the rest of the wall time."""
    at = next(when for when, text in run["stages"] if text.startswith(marker))
    start_up = run["seconds"] - run["stages"][-1][0]  # process start, Spark start: before the run's clock
    return {"start_s": round(start_up, 1), "read_s": round(at, 1), "rest_s": round(run["seconds"] - start_up - at, 1)}


def sdk_loop(account, containers=CONTAINERS) -> dict:
    """Every document of each container through the SDK's query iterator, one thread."""
    database = sdk_client(account, "bench").get_database_client(account.database)
    counts, started = {}, time.monotonic()
    for container in containers:
        items = database.get_container_client(container).query_items("SELECT * FROM c", enable_cross_partition_query=True,
                                                                      max_item_count=5000)
        counts[container] = sum(1 for _ in items)
    seconds = time.monotonic() - started
    return {"documents": sum(counts.values()), "seconds": round(seconds, 1), "docs_per_s": round(sum(counts.values()) / seconds)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--users", type=int, default=8700)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--as-of", default="2026-10-31")
    parser.add_argument("--local-from", type=Path,
                        help="an earlier cosmos-bench.json of this session: reuse its local run instead of timing it again")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    docs = work / f"docs-{args.users}x{args.days}"
    if not (docs / "_manifest.json").exists():
        subprocess.run([sys.executable, "-m", "dataflix_spark.cli", "generate", "--out", str(docs), "--users",
                        str(args.users), "--days", str(args.days), "--end-date", args.as_of], check=True, cwd=ROOT)
    manifest = json.loads((docs / "_manifest.json").read_text())
    server = Cosmium().start()
    try:
        env = {**os.environ, "DATAFLIX_PEPPER": PEPPER, "DATAFLIX_COSMOS_ENDPOINT": server.endpoint,
               "DATAFLIX_COSMOS_DATABASE": "bench", "DATAFLIX_COSMOS_EMULATOR": "1"}
        account = resolve_account(CosmosConfig(), env)
        seeded = _dataflix(["seed", "--input", str(docs)], work / "seed.log", env)
        loop = sdk_loop(account)
        cosmos = _dataflix(["run", "--source", "cosmos", "--lakehouse", str(work / "lake-cosmos"), "--as-of", args.as_of],
                           work / "run-cosmos.log", env)
    finally:
        server.kill()
    cosmos_split = _split(cosmos, "source:")
    if args.local_from:
        local = json.loads(args.local_from.read_text())["local_run"]
        local_split = {k: local[k] for k in ("start_s", "read_s", "rest_s")}
    else:
        run = _dataflix(["run", "--input", str(docs), "--lakehouse", str(work / "lake-local"), "--as-of", args.as_of],
                        work / "run-local.log", env)
        local, local_split = {"wall_s": run["seconds"]}, _split(run, "source:")
    read_rate = loop["documents"] / cosmos_split["read_s"]
    result = {
        "documents": loop["documents"], "events_in_files": manifest.get("counts", {}).get("playback_events"),
        "seed_s": seeded["seconds"], "sdk_loop": loop,
        "cosmos_run": {"wall_s": cosmos["seconds"], **cosmos_split, "read_docs_per_s": round(read_rate)},
        "local_run": {"wall_s": local["wall_s"], **local_split},
        "read_vs_sdk": round(read_rate / loop["docs_per_s"], 2),
        "rest_vs_local": round(cosmos_split["rest_s"] / local_split["rest_s"], 2),
    }
    (work / "cosmos-bench.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
