"""The batch job: source → bronze → silver → gold, with run accounting. `run` wires it; no logic here."""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dataflix_spark.bronze.ingest import to_bronze
from dataflix_spark.gold import build as gold_build
from dataflix_spark.lakehouse import Lakehouse
from dataflix_spark.ops.accounting import ContainerCounts, format_summary, run_log_rows
from dataflix_spark.ops.progress import Progress
from dataflix_spark.schemas import CONTAINERS
from dataflix_spark.silver.conform import rank_versions, to_silver_rows
from dataflix_spark.silver.validate import accepted, parse_documents, quarantined
from dataflix_spark.sinks.delta import append_table, read_table, upsert_newer
from dataflix_spark.sources.local_json import list_container_files, read_json_lines

log = logging.getLogger("dataflix")


@dataclass(frozen=True)
class RunOptions:
    input_dir: str
    lakehouse: str
    as_of: dt.date
    pepper: str
    run_id: str = ""

    def with_run_id(self) -> "RunOptions":
        if self.run_id:
            return self
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        return RunOptions(self.input_dir, self.lakehouse, self.as_of, self.pepper, f"{stamp}-{uuid.uuid4().hex[:8]}")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def ingest_container(spark: SparkSession, opts: RunOptions, container: str, progress: Progress) -> ContainerCounts:
    """Reads one container's files into bronze, validates, quarantines and merges into silver."""
    lake = Lakehouse(opts.lakehouse)
    started = _now()
    files = list_container_files(spark, opts.input_dir, container)
    source = read_json_lines(spark, files)
    append_table(source.transform(to_bronze(container, opts.run_id, started)), lake.bronze(container))
    this_run = read_table(spark, lake.bronze(container)).where(F.col("run_id") == opts.run_id)

    parsed = this_run.transform(parse_documents(container, opts.as_of)).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        totals = parsed.agg(
            F.count(F.lit(1)).alias("read"), F.count(F.when(F.size("reasons") > 0, True)).alias("quarantined")
        ).head()
        append_table(quarantined(parsed), lake.ops("quarantine"))
        newest = accepted(parsed).transform(rank_versions).where(F.col("version_rank") == 1)
        silver_rows = newest.transform(to_silver_rows(container, opts.pepper))
        changed = upsert_newer(spark, silver_rows, lake.silver(container))
        unknown = _unknown_content(spark, lake, silver_rows) if container == "playback_events" else 0
    finally:
        parsed.unpersist()

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
    )
    progress.stage(
        f"{container}: {len(files)} files, {counts.read:,} read, {counts.accepted:,} accepted, "
        f"{counts.quarantined:,} quarantined, {counts.duplicates:,} duplicates"
    )
    return counts


def _unknown_content(spark: SparkSession, lake: Lakehouse, events: DataFrame) -> int:
    catalogue = read_table(spark, lake.silver("content")).select("content_id")
    return events.join(catalogue, on="content_id", how="left_anti").count()


def run(spark: SparkSession, opts: RunOptions) -> list[ContainerCounts]:
    """One pipeline run over the input folder; returns the per-container accounting."""
    opts = opts.with_run_id()
    progress = Progress()
    lake = Lakehouse(opts.lakehouse)
    log.info("run %s: input %s, lakehouse %s, as-of %s", opts.run_id, opts.input_dir, opts.lakehouse, opts.as_of)
    counts = [ingest_container(spark, opts, container, progress) for container in CONTAINERS]
    gold_build.build_all(spark, lake, opts.as_of, progress)
    append_table(run_log_rows(spark, counts), lake.ops("run_log"))
    progress.stage("run log appended")
    log.info("run %s summary:\n%s", opts.run_id, format_summary(counts))
    return counts
