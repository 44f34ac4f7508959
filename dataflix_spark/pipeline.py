"""The batch job: source → bronze → silver → gold, with run accounting. `run` wires it; no logic here.

Runs are incremental: the source gives only what bronze does not hold yet (sources/), every container's
before anything is written, and bronze rows of a run that never logged (it was killed) are processed by the
next run. Silver is merged (newest `_ts` per id wins) with a change feed; gold applies the silver
changes since its last build (gold/build.py says which rows they reach), so gold after any sequence of
runs equals one run over every document received so far. Gold is rebuilt in full on the first run, with `full_refresh`,
after a changed catalogue, or when a killed run left a gold build unfinished.
`full_refresh` rebuilds silver from all of bronze.
A run that finds the source and every table as the last completed run left them only logs itself (ops/last_run.py).
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial, reduce

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dataflix_spark.bronze.ingest import to_bronze
from dataflix_spark.config import QoeThresholds
from dataflix_spark.gold import build as gold_build
from dataflix_spark.lakehouse import CONTAINERS, Lakehouse
from dataflix_spark.ops import last_run
from dataflix_spark.ops.accounting import ContainerCounts, format_summary, run_log_rows
from dataflix_spark.ops.concurrent import run_concurrently
from dataflix_spark.ops.gold_state import last_gold_state, record_gold_state, silver_versions
from dataflix_spark.ops.lock import gold_build_interrupted, gold_build_marker, run_lock
from dataflix_spark.ops.progress import Progress
from dataflix_spark.silver.conform import rank_versions, to_silver_rows
from dataflix_spark.silver.validate import accepted, keep_text_of_quarantined, parse_documents, quarantined
from dataflix_spark.sinks.delta import (
    CHANGE_FEED_PROPERTIES,
    ChangeFeedUnavailable,
    append_table,
    enable_change_feed,
    overwrite_table,
    read_added,
    read_changes,
    read_pinned,
    read_table,
    replace_rows,
    table_exists,
    table_version,
    upsert_newer,
)
from dataflix_spark.sources import NewRows, Source
from dataflix_spark.sources.local_json import LocalJsonSource

log = logging.getLogger("dataflix")

# Silver events and lists by day: an incremental run reads only the days a change reaches (a late event's session,
# the days of the daily aggregates, the lists a session may convert), not all history.
SILVER_PARTITIONS = {"playback_events": ["event_date"], "recommendations": ["shown_date"]}


@dataclass(frozen=True)
class RunOptions:
    """One run's settings. `source` is where documents come from; without it, the JSON Lines under `input_dir`."""

    input_dir: str
    lakehouse: str
    as_of: dt.date
    pepper: str
    run_id: str = ""
    full_refresh: bool = False
    qoe: QoeThresholds = QoeThresholds()
    source: Source | None = None

    def document_source(self) -> Source:
        return self.source if self.source is not None else LocalJsonSource(self.input_dir)

    def with_run_id(self) -> "RunOptions":
        if self.run_id:
            return self
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        return replace(self, run_id=f"{stamp}-{uuid.uuid4().hex[:8]}")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _sql_list(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def unlogged_runs(spark: SparkSession, lake: Lakehouse, container: str, bronze_runs: frozenset[str]) -> list[str]:
    """Runs with rows in bronze but no run-log row for this container: runs that were killed."""
    logged: set[str] = set()
    if bronze_runs and table_exists(spark, lake.ops("run_log")):
        rows = read_pinned(spark, lake.ops("run_log")).where(F.col("container") == container).select("run_id")
        logged = {row[0] for row in rows.distinct().collect()}
    return sorted(bronze_runs - logged)


def _ready() -> None:
    return None


@dataclass(frozen=True)
class Ingested:
    """One container's accounting, and its quarantined rows not written yet: they replace the rows of `scope` (a SQL
    predicate on ops/quarantine; None: nothing to replace). `release` frees what they are read from."""

    counts: ContainerCounts
    quarantine: DataFrame | None = None
    scope: str | None = None
    release: Callable[[], None] = _ready


def ingest_container(spark: SparkSession, opts: RunOptions, container: str, taken: NewRows,
                     progress: Progress, catalogue_ready: Callable[[], object] = _ready) -> Ingested:
    """The source's new rows → bronze; then this run's (and any killed run's) bronze rows are validated and merged
    into silver, and their quarantined rows returned for `write_quarantine`. With `full_refresh`, all of bronze
    rebuilds silver. `catalogue_ready` returns once this run's catalogue is in silver (the events' unknown-content
    count reads it)."""
    lake = Lakehouse(opts.lakehouse)
    started = _now()
    pending = unlogged_runs(spark, lake, container, taken.bronze_runs)
    appended = None
    if taken.rows is not None:
        append_table(taken.rows.transform(to_bronze(container, opts.run_id, started)), lake.bronze(container))
        appended = table_version(spark, lake.bronze(container))  # this run's commit: one writer per container
        progress.stage(f"{container}: bronze appended ({taken.label})")
    if appended is None and not (pending or opts.full_refresh) or not table_exists(spark, lake.bronze(container)):
        progress.stage(f"{container}: nothing new")
        return Ingested(ContainerCounts(opts.run_id, container, 0, 0, 0, 0, 0, started, _now()))
    runs = sorted(set(pending) | {opts.run_id})
    if appended is not None and not (pending or opts.full_refresh):
        batch = read_added(spark, lake.bronze(container), appended)  # only this run's rows: its append's files
    else:
        bronze = read_pinned(spark, lake.bronze(container), data_skipping=True)
        batch = bronze if opts.full_refresh else bronze.where(F.col("run_id").isin(runs))
    scope = f"container = '{container}'" + ("" if opts.full_refresh else f" AND run_id IN ({_sql_list(runs)})")

    # Read three times (counts, silver, then the quarantine), parsed once. On disk: a batch of 10M events with their
    # raw text overflowed a 4 GiB driver heap when Spark built the cache in memory (OutOfMemoryError).
    parsed = (
        batch.transform(parse_documents(container, opts.as_of)).transform(keep_text_of_quarantined)
        .persist(StorageLevel.DISK_ONLY)
    )
    try:
        totals = parsed.agg(
            F.count(F.lit(1)).alias("read"), F.count(F.when(F.size("reasons") > 0, True)).alias("quarantined")
        ).head()
        newest = accepted(parsed).transform(rank_versions).where(F.col("version_rank") == 1)
        silver_rows = newest.transform(to_silver_rows(container, opts.pepper))
        if opts.full_refresh:
            overwrite_table(silver_rows, lake.silver(container), SILVER_PARTITIONS.get(container),
                            properties=CHANGE_FEED_PROPERTIES)
            changed, before = read_table(spark, lake.silver(container)).count(), None
        else:
            if table_exists(spark, lake.silver(container)):
                enable_change_feed(spark, lake.silver(container))
            changed, before = upsert_newer(spark, silver_rows, lake.silver(container), properties=CHANGE_FEED_PROPERTIES,
                                           partition_by=SILVER_PARTITIONS.get(container))
        unknown = 0
        if container == "playback_events" and changed:
            catalogue_ready()
            unknown = _unknown_content(spark, lake, before)
    except BaseException:
        parsed.unpersist()
        raise

    valid = totals["read"] - totals["quarantined"]
    counts = ContainerCounts(
        run_id=opts.run_id,
        container=container,
        read=totals["read"],
        accepted=changed,
        quarantined=totals["quarantined"],
        duplicates=valid - changed,
        unknown_content=unknown,
        started_at=started,
        finished_at=_now(),
        resumed=tuple(pending),
    )
    resumed = f" (+ rows of {len(pending)} unfinished earlier run(s))" if pending else ""
    taken_label = taken.label if taken.rows is not None else "nothing new"
    progress.stage(
        f"{container}: {taken_label}{resumed}, {counts.read:,} read, {counts.accepted:,} accepted, "
        f"{counts.quarantined:,} quarantined, {counts.duplicates:,} duplicates"
    )
    return Ingested(counts, quarantined(parsed), scope, parsed.unpersist)


def write_quarantine(spark: SparkSession, lake: Lakehouse, ingested: list[Ingested], progress: Progress) -> None:
    """Every container's quarantined rows in one commit. Replaced, not appended, so that re-processing a killed
    run's rows never doubles them. One commit, not one per container: the containers run at once, and two
    replaceWhere commits on one table at the same time conflict (Delta's optimistic concurrency)."""
    pending = [i for i in ingested if i.scope is not None]
    if not pending:
        return
    rows = reduce(DataFrame.unionByName, [i.quarantine for i in pending])
    replace_rows(spark, rows, lake.ops("quarantine"), " OR ".join(f"({i.scope})" for i in pending))
    total = sum(i.counts.quarantined for i in pending)
    progress.stage(f"quarantine: {total:,} rows of {', '.join(i.counts.container for i in pending)}")


def _unknown_content(spark: SparkSession, lake: Lakehouse, before: int | None) -> int:
    """The events this run accepted (wrote to silver after version `before`; all of silver when None or -1) whose
    content is not in the catalogue. Read back from silver: recomputing them would redo the de-duplication."""
    path = lake.silver("playback_events")
    written = read_pinned(spark, path) if before is None or before < 0 else read_changes(
        spark, path, before, change_types=("insert", "update_postimage")
    )
    if written is None:
        return 0
    catalogue = read_pinned(spark, lake.silver("content")).select("content_id")
    return written.select("content_id").join(catalogue, on="content_id", how="left_anti").count()


def _gold_is_current(spark: SparkSession, lake: Lakehouse, opts: RunOptions, counts: list[ContainerCounts]) -> bool:
    """True when silver did not change and the last logged run built gold for the same as-of date
    (and no killed run left a gold build half done)."""
    if opts.full_refresh or any(c.read for c in counts) or not table_exists(spark, lake.ops("run_log")):
        return False
    if gold_build_interrupted(opts.lakehouse):
        return False
    if not all(table_exists(spark, lake.gold(name)) for name in gold_build.GOLD_TABLES):
        return False
    last = read_pinned(spark, lake.ops("run_log")).agg(F.max_by("as_of", "finished_at")).head()[0]
    state = last_gold_state(spark, lake)
    return last == opts.as_of and state is not None and state.thresholds == opts.qoe


def _silver_changes(spark: SparkSession, lake: Lakehouse, opts: RunOptions,
                    current: dict[str, int]) -> gold_build.SilverChanges | None:
    """The silver changes gold has not applied yet (silver is at the `current` versions), or None when gold must be
    rebuilt in full."""
    state = last_gold_state(spark, lake)
    if opts.full_refresh or state is None or gold_build_interrupted(opts.lakehouse):
        return None
    if not all(table_exists(spark, lake.gold(name)) for name in gold_build.GOLD_TABLES):
        return None
    if not all(table_exists(spark, lake.work(name)) for name in gold_build.WORK_TABLES):
        return None  # a lakehouse from before a work table existed
    if current["content"] != state.silver_versions.get("content"):
        return None  # the catalogue reaches every session (durations): rebuild
    changes = {}
    for container in ("playback_events", "recommendations", "subscriptions"):
        since = state.silver_versions.get(container, -1)
        if since < 0 or current[container] < since:
            return None
        try:
            changes[container] = read_changes(spark, lake.silver(container), since)
        except ChangeFeedUnavailable as error:
            log.info("gold rebuilt in full: %s", str(error).splitlines()[0])
            return None
    return gold_build.SilverChanges(**changes, as_of_changed=state.as_of != opts.as_of)


def ingest_all(spark: SparkSession, opts: RunOptions, source: Source, taken: dict[str, NewRows],
               progress: Progress) -> list[ContainerCounts]:
    """Every container's bronze and silver at once, then their quarantine and the source's record of what was taken
    (side by side: one commit each); the counts in CONTAINERS order. Only the events' unknown-content count waits for
    the catalogue's silver: a small run's catalogue alone took 6-9 s of a cold JVM, with the cores idle, before the
    other containers began."""
    catalogue_done = threading.Event()

    def catalogue() -> Ingested:
        try:
            return ingest_container(spark, opts, "content", taken["content"], progress)
        finally:
            catalogue_done.set()  # also when it failed: the run then raises once every container has ended

    steps = {c: partial(ingest_container, spark, opts, c, taken[c], progress, catalogue_done.wait) for c in CONTAINERS}
    steps["content"] = catalogue  # in its place: the counts come back in CONTAINERS order
    ingested = run_concurrently(spark, *steps.values(), on_error=lambda done: done.release())
    lake = Lakehouse(opts.lakehouse)
    try:
        # Only now, and in either order: a run that ends before both leaves its bronze rows unrecorded or its
        # quarantine unwritten, and the next run processes those rows again as a killed run's (replacing their
        # quarantine rows, recording them).
        run_concurrently(spark, partial(write_quarantine, spark, lake, ingested, progress),
                         partial(source.record, spark, lake, list(taken.values())))
    finally:
        for done in ingested:
            done.release()
    return [done.counts for done in ingested]


def take_all(spark: SparkSession, lake: Lakehouse, source: Source, run_id: str, progress: Progress,
             settled: bool = False) -> dict[str, NewRows]:
    """Every container's new rows, asked of the source before anything is written: a source that fails for one
    container (an account gone mid-read) leaves every table as it was. `settled`: see `Source.take`."""
    taken = run_concurrently(spark, *(partial(source.take, spark, lake, c, run_id, settled=settled)
                                      for c in CONTAINERS),
                             on_error=lambda result: result.release())
    progress.stage("source: " + ", ".join(f"{c} {t.label}" for c, t in zip(CONTAINERS, taken)))
    return dict(zip(CONTAINERS, taken))


def _log_nothing_new(spark: SparkSession, opts: RunOptions, source: Source, progress: Progress) -> list[ContainerCounts]:
    """A run that found the source and every table as the last completed run left them: its run-log rows only."""
    started = _now()
    log.info("run %s (nothing new): %s, lakehouse %s, as-of %s", opts.run_id, source.describe(), opts.lakehouse,
             opts.as_of)
    progress.stage("nothing new: the source offers what the last run read and no table changed since; gold is current")
    counts = [ContainerCounts(opts.run_id, c, 0, 0, 0, 0, 0, started, _now()) for c in CONTAINERS]
    append_table(run_log_rows(spark, counts, opts.as_of), Lakehouse(opts.lakehouse).ops("run_log"))
    return counts


def _run_stages(spark: SparkSession, opts: RunOptions, source: Source, progress: Progress,
                settled: bool = False) -> tuple[list[ContainerCounts], bool]:
    """Source → bronze → silver → gold → run log; returns the counts and whether the source warned. `settled`: every
    table is as the last completed run left it (`last_run.settled`)."""
    lake = Lakehouse(opts.lakehouse)
    first = not table_exists(spark, lake.ops("run_log"))
    mode = "full refresh" if opts.full_refresh else "first run" if first else "incremental"
    log.info("run %s (%s): %s, lakehouse %s, as-of %s", opts.run_id, mode, source.describe(),
             opts.lakehouse, opts.as_of)
    progress.working_on(f"reading new documents from {source.describe()}")
    taken = take_all(spark, lake, source, opts.run_id, progress, settled)
    progress.working_on("bronze and silver (validating, de-duplicating, pseudonymising)")
    try:
        counts = ingest_all(spark, opts, source, taken, progress)
    finally:
        for rows in taken.values():
            rows.release()
    if _gold_is_current(spark, lake, opts, counts):
        progress.stage("gold is current: no new documents and the same as-of date as the last run")
        append_table(run_log_rows(spark, counts, opts.as_of), lake.ops("run_log"))
    else:
        # The marker outlives a killed gold build, so the next run rebuilds gold whatever it reads.
        versions = silver_versions(spark, lake, CONTAINERS)
        changes = _silver_changes(spark, lake, opts, versions)
        progress.working_on("gold")
        with gold_build_marker(opts.lakehouse):
            if changes is None:
                progress.stage("gold: full build")
                gold_build.build_all(spark, lake, opts.as_of, progress, opts.qoe)
            else:
                progress.stage("gold: applying the silver changes since the last build")
                gold_build.build_changes(spark, lake, opts.as_of, changes, progress, opts.qoe)
            # Side by side, in either order: until the marker goes, a run that ends between the two commits leaves
            # gold to be rebuilt in full by the next run, which then records the state again.
            run_concurrently(
                spark,
                partial(record_gold_state, spark, lake, opts.run_id, opts.as_of,
                        "full" if changes is None else "incremental", versions, opts.qoe),
                partial(append_table, run_log_rows(spark, counts, opts.as_of), lake.ops("run_log")),
            )
    return counts, any(t.warned for t in taken.values())


def _last_run_state(opts: RunOptions, source: Source) -> tuple[dict | None, bool]:
    """This run's state as ops/last_run records it, and whether the last completed run left exactly it (then the run
    has nothing to do but log itself)."""
    state = last_run.run_state(source.offered(), opts.as_of, opts.qoe)
    return state, not opts.full_refresh and last_run.nothing_new(opts.lakehouse, state)


def nothing_new(opts: RunOptions) -> bool:
    """True when a run with these options would only log itself now (`run` checks again under its lock)."""
    return _last_run_state(opts, opts.document_source())[1]


def run(spark: SparkSession, opts: RunOptions) -> list[ContainerCounts]:
    """One pipeline run over the options' source; returns the per-container accounting. A run that finds the
    source and the lakehouse as the last completed run left them only logs itself (ops/last_run.py)."""
    opts = opts.with_run_id()
    source = opts.document_source()
    with run_lock(opts.lakehouse, opts.run_id), Progress() as progress:
        # Described before anything is read: a file that arrives during the run differs from it, so the next run
        # does not skip it.
        state, skip = _last_run_state(opts, source)
        if skip:
            counts = _log_nothing_new(spark, opts, source, progress)
        else:
            settled = not opts.full_refresh and last_run.settled(opts.lakehouse)
            last_run.forget(opts.lakehouse)
            counts, warned = _run_stages(spark, opts, source, progress, settled)
            state = None if warned else state  # the next run warns again
        progress.stage("run log appended")
        last_run.record(opts.lakehouse, state)
    log.info("run %s summary:\n%s", opts.run_id, format_summary(counts))
    return counts
