"""`dataflix seed`: local JSON documents into the configured Cosmos DB account, for demos and tests.

Admin tooling with the azure-cosmos SDK (the pipeline itself reads through a Spark data source). Creates the
database and the containers with the contract's partition keys, and upserts each container's documents: the
newest version per id (greatest `_ts`, the later line on a tie), since an account holds one version of a
document; lines that are not JSON objects with a string `id` cannot be stored and are counted, not sent.
Documents are sent in transactional batches of one partition key (up to 100 each), several at once.
"""
from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dataflix_spark.lakehouse import CONTAINERS
from dataflix_spark.sources import SourceError
from dataflix_spark.sources.cosmos import PARTITION_KEYS, CosmosAccount, describe_failure, sdk_client
from dataflix_spark.sources.local_json import SOURCE_SUFFIXES

BATCH_SIZE = 100  # the service's limit of operations in one transactional batch
SYSTEM_PROPERTIES = ("_rid", "_self", "_etag", "_attachments", "_ts")  # set by the service on every write


@dataclass
class SeedCounts:
    container: str
    lines: int = 0  # non-blank lines read
    not_storable: int = 0  # not a JSON object with a string id
    superseded: int = 0  # an older (or equal) version of an id seen again
    stored: int = 0
    rejected: int = 0  # refused by the account (e.g. an id with characters it does not allow)

    def line(self) -> str:
        return (f"{self.container}: {self.stored:,} stored of {self.lines:,} lines ({self.superseded:,} older versions "
                f"or repeats, {self.not_storable:,} not storable: not JSON or no string id, "
                f"{self.rejected:,} refused by the account)")


def _lines(folder: Path) -> Iterator[str]:
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(SOURCE_SUFFIXES)):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            yield from (line for line in f if line.strip())


def _ts(doc: dict) -> float:
    value = doc.get("_ts")
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else float("-inf")


def newest_versions(lines: Iterator[str], counts: SeedCounts) -> list[dict]:
    """One document per id: the greatest `_ts` (the later line on a tie), system properties removed."""
    newest: dict[str, tuple[float, dict]] = {}
    for line in lines:
        counts.lines += 1
        try:
            doc = json.loads(line)
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("id"), str) or not doc["id"]:
            counts.not_storable += 1
            continue
        seen = newest.get(doc["id"])
        if seen is not None:
            counts.superseded += 1
            if _ts(doc) < seen[0]:
                continue
        newest[doc["id"]] = (_ts(doc), doc)
    return [{k: v for k, v in doc.items() if k not in SYSTEM_PROPERTIES} for _, doc in newest.values()]


def _batches(docs: list[dict], key_path: str) -> tuple[list[tuple[object, list[dict]]], list[dict]]:
    """Transactional batches (one partition key value each) and the documents that must go one by one
    (no usable partition key value: the service files them under the undefined key)."""
    field = key_path.lstrip("/")
    groups: dict[object, list[dict]] = {}
    singles = []
    for doc in docs:
        value = doc.get(field)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            groups.setdefault(value, []).append(doc)
        else:
            singles.append(doc)
    batches = [(pk, group[i:i + BATCH_SIZE]) for pk, group in groups.items() for i in range(0, len(group), BATCH_SIZE)]
    return batches, singles


def seed(account: CosmosAccount, input_dir: str, workers: int = 4,
         progress: Callable[[str], None] = print) -> list[SeedCounts]:
    """Creates the database and containers if missing and upserts every container's documents.

    A tool for demos, tests and benchmarks: one container's newest versions are held in memory at a time (to keep
    only the newest per id), about 1 KB per document (the 1.2M-event benchmark container peaks near 1.5 GB)."""
    from azure.cosmos import PartitionKey

    results = []
    container = "(database)"
    try:
        database = sdk_client(account, "seed").create_database_if_not_exists(account.database)
        for container in CONTAINERS:
            folder = Path(input_dir) / container
            counts = SeedCounts(container)
            docs = newest_versions(_lines(folder), counts) if folder.is_dir() else []
            target = database.create_container_if_not_exists(container, PartitionKey(path=PARTITION_KEYS[container]))
            _upsert_all(target, docs, counts, workers, progress)
            progress(f"seed {counts.line()}")
            results.append(counts)
    except SourceError:
        raise
    except Exception as error:  # noqa: BLE001 - the SDK's connection, HTTP and auth errors alike
        raise SourceError(describe_failure(error, account, container)) from None
    return results


def _upsert_all(target, docs: list[dict], counts: SeedCounts, workers: int, progress: Callable[[str], None]) -> None:
    """Upserts `docs` into `target`: transactional batches per partition key, then the rest one by one."""
    from azure.cosmos.exceptions import CosmosHttpResponseError as http_error  # the SDK is optional: imported here

    batches, singles = _batches(docs, PARTITION_KEYS[counts.container])
    lock = threading.Lock()
    last = [time.monotonic()]

    def done(stored: int, rejected: int = 0) -> None:
        with lock:
            counts.stored += stored
            counts.rejected += rejected
            if time.monotonic() - last[0] >= 5:
                last[0] = time.monotonic()
                progress(f"seed {counts.container}: {counts.stored:,} of {len(docs):,} documents stored")

    def one(doc: dict) -> None:
        try:
            target.upsert_item(doc)
        except http_error as error:
            if getattr(error, "status_code", None) not in (400, 413):
                raise
            done(0, 1)  # the account refuses this document (a bad id, too large): counted
        else:
            done(1)

    def batch(item: tuple[object, list[dict]]) -> None:
        pk, group = item
        try:
            target.execute_item_batch([("upsert", (doc,)) for doc in group], partition_key=pk)
        except http_error as error:
            if getattr(error, "status_code", None) in (401, 403, 404, 429) or getattr(error, "status_code", 0) >= 500:
                raise
            for doc in group:  # one document of the batch was refused: send them one by one
                one(doc)
        else:
            done(len(group))

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dataflix-seed") as pool:
        list(pool.map(batch, batches))
        list(pool.map(one, singles))
