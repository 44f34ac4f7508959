"""Delta Lake writes, kept readable by Power BI, Fabric/Synapse SQL endpoints and delta-rs.

Every table is created at reader version 1: no deletion vectors, no column mapping and no
`timestamp_ntz` columns. The properties are set explicitly because some runtimes (Databricks)
enable deletion vectors on new tables by default.
"""
from __future__ import annotations

import json
from typing import NamedTuple

from delta.tables import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

TABLE_PROPERTIES = {
    "delta.enableDeletionVectors": "false",
    "delta.columnMapping.mode": "none",
    "delta.minReaderVersion": "1",
    "delta.minWriterVersion": "2",
}


# Silver keeps a change feed so gold can recompute only what a run changed. The feed is a writer
# feature: readers stay at version 1.
CHANGE_FEED_PROPERTIES = {
    **TABLE_PROPERTIES,
    "delta.minWriterVersion": "4",
    "delta.enableChangeDataFeed": "true",
}

# Dropped from what `read_changes` returns; `_change_type` stays.
_COMMIT_COLUMNS = ("_commit_version", "_commit_timestamp")


class ChangeFeedUnavailable(Exception):
    """The table has no change feed over the asked versions (it was off, or the versions are gone)."""


def _writer(df: DataFrame, mode: str, properties: dict[str, str] | None = None):
    writer = df.write.format("delta").mode(mode)
    for key, value in (properties or TABLE_PROPERTIES).items():
        writer = writer.option(key, value)
    return writer


def assert_portable_schema(df: DataFrame) -> None:
    """Refuses timestamp_ntz columns, which readers at protocol version 1 cannot read."""
    ntz = [f.name for f in df.schema.fields if isinstance(f.dataType, T.TimestampNTZType)]
    if ntz:
        raise ValueError(f"timestamp_ntz columns are not portable: {ntz}")


def overwrite_table(
    df: DataFrame, path: str, partition_by: list[str] | None = None, properties: dict[str, str] | None = None
) -> None:
    """Replaces a table's content (and schema) in one Delta commit."""
    assert_portable_schema(df)
    if partition_by:
        # One file per partition value rather than one per task and value.
        df = df.repartition(*partition_by)
    writer = _writer(df, "overwrite", properties).option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)


def compact(spark: SparkSession, path: str, where: str | None = None) -> None:
    """Bin-packs small files (OPTIMIZE), in the partitions `where` selects; the content is unchanged."""
    optimizer = DeltaTable.forPath(spark, path).optimize()
    if where:
        optimizer = optimizer.where(where)
    optimizer.executeCompaction()


def append_table(
    df: DataFrame, path: str, properties: dict[str, str] | None = None, partition_by: list[str] | None = None,
    merge_schema: bool = False,
) -> None:
    """Appends `df`; `partition_by` applies when this creates the table; `merge_schema` adds `df`'s new columns."""
    assert_portable_schema(df)
    writer = _writer(df, "append", properties)
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)


def replace_rows(spark: SparkSession, df: DataFrame, path: str, condition: str) -> None:
    """Atomically replaces the rows matching `condition` (a SQL predicate every row of `df` meets)."""
    assert_portable_schema(df)
    if not table_exists(spark, path):
        append_table(df, path)  # every row meets `condition`: the same rows, in one commit
        return
    _writer(df, "overwrite").option("replaceWhere", condition).save(path)


def table_exists(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


class Upsert(NamedTuple):
    """What `upsert_newer` did: rows inserted or updated, and the table version it merged onto."""

    written: int
    base_version: int


def upsert_newer(
    spark: SparkSession, df: DataFrame, path: str, key: str = "doc_id", properties: dict[str, str] | None = None,
    partition_by: list[str] | None = None,
) -> Upsert:
    """MERGE rows whose key is new or whose `cosmos_ts` is greater than the stored one.

    `df` must hold one row per key. Returns how many rows were inserted or updated (the rest were
    not newer than what the table holds: duplicates or older versions) and the version before the
    MERGE, so the change feed after it holds exactly this MERGE's rows. `partition_by` applies when
    this creates the table (then every row is new: appended, version -1 before it).
    """
    if not table_exists(spark, path):
        append_table(df, path, properties, partition_by)
        return Upsert(int(last_commit(spark, path)[1].get("numOutputRows", 0)), -1)
    before = table_version(spark, path)
    (
        DeltaTable.forPath(spark, path).alias("t")
        .merge(df.alias("s"), f"t.{key} = s.{key}")
        .whenMatchedUpdateAll(condition="coalesce(s.cosmos_ts, -1) > coalesce(t.cosmos_ts, -1)")
        .whenNotMatchedInsertAll()
        .execute()
    )
    version, metrics = last_commit(spark, path)
    if version == before:
        return Upsert(0, before)  # no commit: nothing was merged
    return Upsert(int(metrics.get("numTargetRowsInserted", 0)) + int(metrics.get("numTargetRowsUpdated", 0)), before)


def read_table(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(path)


def read_pinned(spark: SparkSession, path: str, data_skipping: bool = False) -> DataFrame:
    """The table at its newest version, over a list of its files taken now. A query over `read_table`'s DataFrame
    lists the table's files itself, a Spark job over the log's state each time (about 0.1 s in a warm JVM for a small
    table); over this one it does not, so a table that several queries read is listed once. Later commits are not
    seen. Partition filters prune the list; Delta's statistics skip nothing. With `data_skipping` (a filter on a data
    column, such as bronze's `run_id`), a table whose files carry statistics is read by Delta at that version instead,
    so that they do."""
    jvm, log = spark._jvm, _delta_log(spark, path)
    snapshot = _snapshot(spark, log)
    files = _replayed_files(spark, log, snapshot)
    if data_skipping and (files is None or _any_statistics(spark, files)):
        return read_table(spark, path, int(snapshot.version()))
    if files is None:
        files = jvm.scala.jdk.javaapi.CollectionConverters.asScala(snapshot.allFiles().collectAsList()).toSeq()
    return DataFrame(log.createDataFrame(snapshot, files, False, jvm.scala.Option.empty()), spark)


def read_added(spark: SparkSession, path: str, version: int) -> DataFrame:
    """The rows commit `version` of the table added, over that commit's files as its log lists them (read on the
    driver). A run reads back what it has just appended without a Spark job choosing among every file of the table
    by their statistics (bronze at 11.5M events: 1.5-2 s of a cold JVM per container)."""
    jvm, log = spark._jvm, _delta_log(spark, path)
    snapshot = _snapshot(spark, log)
    commits = log.getChanges(version, True)  # from that version on, or an error if it is missing
    commit = commits.next() if commits.hasNext() else None
    if commit is None or commit._1() != version:
        raise ValueError(f"{path} has no commit {version}")
    replay = jvm.org.apache.spark.sql.delta.actions.InMemoryLogReplay(0, jvm.scala.Option.empty())
    replay.append(commit._1(), commit._2().iterator())
    return DataFrame(log.createDataFrame(snapshot, replay.allFiles(), False, jvm.scala.Option.empty()), spark)


def _any_statistics(spark: SparkSession, files) -> bool:
    return any(f.stats() is not None for f in spark._jvm.scala.jdk.javaapi.CollectionConverters.asJava(files))


# Up to this many commits and no checkpoint, a table's files are replayed from its commits on the driver.
_REPLAYED_COMMITS = 20


def _replayed_files(spark: SparkSession, log, snapshot):
    """The files of a table with no checkpoint and a few commits (every table of a small lakehouse), replayed from
    its commit files on the driver by Delta's own replay: about 20 ms, against 0.3-0.5 s in a warm JVM for the Spark
    job that builds the log's state. None for any other table."""
    version = snapshot.version()
    if version >= _REPLAYED_COMMITS or snapshot.logSegment().checkpointProvider().version() >= 0:
        return None
    jvm = spark._jvm
    replay = jvm.org.apache.spark.sql.delta.actions.InMemoryLogReplay(0, jvm.scala.Option.empty())
    commits = log.getChanges(0, version, True)  # every commit up to this version, or an error if one is missing
    while commits.hasNext():
        commit = commits.next()
        replay.append(commit._1(), commit._2().iterator())
    return replay.allFiles()


# A table's version, properties and last commit's metrics are read from its log on the driver. DeltaTable.history()
# and detail() build a DataFrame of every field and run Spark for it: about 150 ms a call in a warm JVM against 7 ms,
# and a run asked a dozen times (docs/performance.md). These are Delta's own classes, of the pinned delta-spark 4.0.


def _delta_log(spark: SparkSession, path: str):
    return spark._jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path)


def _snapshot(spark: SparkSession, log):
    """The table's newest snapshot (its log listed now, as a read would)."""
    none = spark._jvm.scala.Option.empty()
    return log.update(False, none, none)


def _as_dict(spark: SparkSession, scala_map) -> dict[str, str]:
    # As JSON, in one call: a py4j map is read an entry at a time (20 metrics took 40 ms).
    return json.loads(spark._jvm.org.apache.spark.sql.delta.util.JsonUtils.mapper().writeValueAsString(scala_map))


def table_version(spark: SparkSession, path: str) -> int:
    return int(_snapshot(spark, _delta_log(spark, path)).version())


def table_properties(spark: SparkSession, path: str) -> dict[str, str]:
    """The table's properties (`TBLPROPERTIES`) at its newest version."""
    return _as_dict(spark, _snapshot(spark, _delta_log(spark, path)).metadata().configuration())


def last_commit(spark: SparkSession, path: str) -> tuple[int, dict[str, str]]:
    """The table's newest version and the operation metrics its commit recorded (as `history(1)` gives them)."""
    jvm, log = spark._jvm, _delta_log(spark, path)
    version = int(_snapshot(spark, log).version())
    commit = jvm.org.apache.spark.sql.delta.util.FileNames.unsafeDeltaFile(log.logPath(), version)
    # The session's Hadoop settings (a table of ours has no options of its own): a copy per call took 40 ms.
    info = jvm.org.apache.spark.sql.delta.DeltaHistoryManager.getCommitInfoOpt(log.store(), commit,
                                                                               spark._jsc.hadoopConfiguration())
    metrics = info.get().operationMetrics() if info.isDefined() else None
    if metrics is None or metrics.isEmpty():
        return version, {}
    return version, _as_dict(spark, metrics.get())


def enable_change_feed(spark: SparkSession, path: str) -> None:
    """Turns the change feed on for a table created before silver kept one (no-op when on)."""
    if table_properties(spark, path).get("delta.enableChangeDataFeed") != "true":
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true')")


def read_changes(
    spark: SparkSession, path: str, since_version: int, change_types: tuple[str, ...] | None = None
) -> DataFrame | None:
    """Rows written after `since_version`, old and new images alike, or only the `change_types` asked
    (`insert`, `update_preimage`, `update_postimage`, `delete`), each with its `_change_type`. None when
    nothing was written.

    Raises ChangeFeedUnavailable when the table's change feed does not cover those versions.
    """
    if table_version(spark, path) <= since_version:
        return None
    try:
        changes = (
            spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", since_version + 1)
            .load(path)
        )
        changes.schema  # resolves the feed now, so a missing one fails here, not mid-build
    except AnalysisException as error:
        raise ChangeFeedUnavailable(f"{path}: {error}") from error
    if change_types is not None:
        changes = changes.where(F.col("_change_type").isin(*change_types))
    return changes.drop(*_COMMIT_COLUMNS)


def replace_scope(
    spark: SparkSession, fresh: DataFrame, path: str, scope: DataFrame, key: list[str], prune: str | None = None
) -> None:
    """Makes the rows of the table that fall in `scope` equal `fresh`, in one MERGE (so one commit).

    `scope` holds the values of the columns that define it (e.g. the affected `user_key`s); `fresh`
    holds every row the scope should now contain, one per `key`. Rows of the scope missing from
    `fresh` are deleted. `prune` is an optional SQL predicate on the target (`t.`) that every
    affected row meets, so Delta can skip files.
    """
    assert_portable_schema(fresh)
    target = read_table(spark, path)
    stale = target.join(scope, on=scope.columns, how="left_semi").join(fresh.select(*key), on=key, how="left_anti")
    source = fresh.withColumn("_delete", F.lit(False)).unionByName(
        stale.select(*key).withColumn("_delete", F.lit(True)), allowMissingColumns=True
    )
    condition = " AND ".join(f"t.`{k}` = s.`{k}`" for k in key) + (f" AND ({prune})" if prune else "")
    values = {f"`{c}`": f"s.`{c}`" for c in fresh.columns}
    (
        DeltaTable.forPath(spark, path).alias("t")
        .merge(source.alias("s"), condition)
        .whenMatchedDelete(condition="s._delete")
        .whenMatchedUpdate(set=values)
        .whenNotMatchedInsert(condition="NOT s._delete", values=values)
        .execute()
    )
