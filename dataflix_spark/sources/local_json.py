"""The local source: JSON Lines files in a folder per container (`*.json`, `*.jsonl`, `*.gz`).

A file is new when `ops/source_files` does not list it (files are identified by path, as Auto Loader does);
the files a run read are recorded there after its bronze append.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import partial
from urllib.parse import unquote

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dataflix_spark.lakehouse import Lakehouse
from dataflix_spark.schemas import SOURCE_FILES_SCHEMA
from dataflix_spark.sinks.delta import append_table, read_table, table_exists
from dataflix_spark.sources import NewRows

SOURCE_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")

# The containers are taken at once but share ops/source_files: two first appends that both create it would
# conflict (Delta's optimistic concurrency), so they take turns.
_SOURCE_FILES_WRITES = threading.Lock()


def file_key(location: str) -> str:
    """One spelling per file, whether Spark percent-encoded it (`_metadata.file_path`, kept in
    bronze's `source_file`) or Hadoop listed it: decoded, `file:///x` as `file:/x`."""
    return re.sub(r"^file:/+", "file:/", unquote(location))


def list_container_files(spark: SparkSession, input_dir: str, container: str) -> list[str]:
    """The container's source files, sorted (any Hadoop file system)."""
    jvm = spark.sparkContext._jvm
    folder = jvm.org.apache.hadoop.fs.Path(f"{input_dir.rstrip('/')}/{container}")
    fs = folder.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(folder):
        return []
    paths = [status.getPath() for status in fs.listStatus(folder) if status.isFile()]
    return sorted(p.toString() for p in paths if p.getName().endswith(SOURCE_SUFFIXES))


def read_json_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    """One row per non-blank line: `raw` (the line's text) and `source_file`.

    Blank lines separate nothing in JSON Lines and are not documents, so they are not counted.
    Gzip files are decompressed by their `.gz` suffix.
    """
    if not files:
        return spark.createDataFrame([], "raw string, source_file string")
    lines = spark.read.format("text").load(files).select(
        F.col("value").alias("raw"), F.col("_metadata.file_path").alias("source_file")
    )
    return lines.where(F.trim("raw") != "")


@dataclass(frozen=True)
class BronzeInventory:
    """What bronze holds for a container: its source files (normalised) and the runs that wrote them;
    `unrecorded`: the (run, file) pairs of bronze missing from ops/source_files."""

    files: frozenset[str] = frozenset()
    runs: frozenset[str] = frozenset()
    unrecorded: frozenset[tuple[str, str]] = frozenset()


def bronze_inventory(spark: SparkSession, lake: Lakehouse, container: str) -> BronzeInventory:
    """The files recorded in ops/source_files, plus a pass over the bronze rows of any run not recorded there
    (killed between its bronze append and its record, or from before the record existed). Every bronze file
    holds one run's rows, so Delta skips the recorded runs' files by their `run_id` statistics.
    Collects one row per *file* ingested, not per document."""
    if not table_exists(spark, lake.bronze(container)):
        return BronzeInventory()
    recorded: list = []
    if table_exists(spark, lake.ops("source_files")):
        recorded = (read_table(spark, lake.ops("source_files")).where(F.col("container") == container)
                    .select("run_id", "source_file").distinct().collect())
    runs = sorted({r["run_id"] for r in recorded})
    bronze = read_table(spark, lake.bronze(container))
    others = bronze.where(~F.col("run_id").isin(runs)) if runs else bronze
    unrecorded = {(p["run_id"], file_key(p["source_file"]))
                  for p in others.select("run_id", "source_file").distinct().collect()}
    pairs = {(r["run_id"], r["source_file"]) for r in recorded} | unrecorded
    return BronzeInventory(files=frozenset(f for _, f in pairs), runs=frozenset(r for r, _ in pairs),
                           unrecorded=frozenset(unrecorded))


def record_source_files(spark: SparkSession, lake: Lakehouse, container: str, pairs: list[tuple[str, str]]) -> None:
    """Appends (run, normalised file) pairs to ops/source_files."""
    if pairs:
        rows = spark.createDataFrame([(run_id, container, f) for run_id, f in sorted(pairs)], SOURCE_FILES_SCHEMA)
        with _SOURCE_FILES_WRITES:
            append_table(rows, lake.ops("source_files"))


@dataclass(frozen=True)
class LocalJsonSource:
    """`<input_dir>/<container>/*.jsonl[.gz]`: every file not read by an earlier run is new."""

    input_dir: str

    def describe(self) -> str:
        return f"input {self.input_dir}"

    def take(self, spark: SparkSession, lake: Lakehouse, container: str, run_id: str) -> NewRows:
        inventory = bronze_inventory(spark, lake, container)
        listed = list_container_files(spark, self.input_dir, container)
        files = [f for f in listed if file_key(f) not in inventory.files]
        # Recorded after the bronze append: a run killed in between leaves its files unrecorded, and the next
        # run's inventory finds them in bronze (and records them then).
        pairs = sorted(inventory.unrecorded) + [(run_id, file_key(f)) for f in files]
        return NewRows(
            rows=read_json_lines(spark, files) if files else None,
            label=f"{len(files)} new files",
            bronze_runs=inventory.runs,
            commit=partial(record_source_files, spark, lake, container, pairs),
        )
