"""sinks.delta: a table's version, properties and last commit's metrics, read from the log on the driver, are what
`DeltaTable.history(1)` and `detail()` say; `upsert_newer` counts the rows its MERGE wrote; `read_pinned` reads what
`read_table` reads at that version, partition values and pruning included."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable
from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataflix_spark.sinks.delta import (
    TABLE_PROPERTIES,
    append_table,
    enable_change_feed,
    last_commit,
    overwrite_table,
    read_added,
    read_pinned,
    read_table,
    replace_rows,
    table_properties,
    table_version,
    upsert_newer,
)

SCHEMA = T.StructType([T.StructField("doc_id", T.StringType()), T.StructField("cosmos_ts", T.LongType()),
                       T.StructField("value", T.StringType())])


def _history(spark, path) -> tuple[int, dict[str, str]]:
    row = DeltaTable.forPath(spark, path).history(1).select("version", "operationMetrics").head()
    return row["version"], dict(row["operationMetrics"] or {})


def test_version_and_metrics_are_historys_after_a_create_an_append_and_a_merge(spark, tmp_path):
    path = str(tmp_path / "t")
    rows = [("a", 1, "x"), ("b", 1, "y")]
    for step in range(2):
        append_table(spark.createDataFrame(rows[step:], SCHEMA), path)
        assert table_version(spark, path) == step
        assert last_commit(spark, path) == _history(spark, path)
        assert last_commit(spark, path)[1]["numOutputRows"] == str(2 - step)
    upsert_newer(spark, spark.createDataFrame([("a", 2, "x2"), ("c", 1, "z")], SCHEMA).dropDuplicates(["doc_id"]),
                 path)
    version, metrics = last_commit(spark, path)
    assert (version, metrics) == _history(spark, path) and version == table_version(spark, path) == 2
    assert metrics["numTargetRowsInserted"] == "1" and metrics["numTargetRowsUpdated"] == "1"


def test_upsert_counts_inserted_and_newer_rows_and_none_when_nothing_is_newer(spark, tmp_path):
    path = str(tmp_path / "t")
    first = upsert_newer(spark, spark.createDataFrame([("a", 5, "x"), ("b", 5, "y")], SCHEMA), path)
    assert first == (2, -1)  # created: every row new, no version before it
    second = upsert_newer(spark, spark.createDataFrame([("a", 6, "x2"), ("b", 4, "old"), ("c", 1, "z")], SCHEMA),
                          path)
    assert second == (2, 0)  # "a" newer, "c" new; "b" older than the stored version
    stale = upsert_newer(spark, spark.createDataFrame([("a", 6, "same"), ("b", 5, "same")], SCHEMA), path)
    assert stale == (0, 1)  # nothing newer: nothing written, onto the same version
    stored = {r["doc_id"]: r["value"] for r in spark.read.format("delta").load(path).collect()}
    assert stored == {"a": "x2", "b": "y", "c": "z"}


def test_properties_are_details_and_the_change_feed_is_turned_on_once(spark, tmp_path):
    path = str(tmp_path / "t")
    append_table(spark.createDataFrame([("a", 1, "x")], SCHEMA), path)
    detail = lambda: dict(DeltaTable.forPath(spark, path).detail().select("properties").head()[0])  # noqa: E731
    assert table_properties(spark, path) == detail() and "delta.enableChangeDataFeed" not in detail()
    assert set(TABLE_PROPERTIES) - {"delta.minReaderVersion", "delta.minWriterVersion"} <= set(detail())
    enable_change_feed(spark, path)
    assert table_properties(spark, path) == detail() and detail()["delta.enableChangeDataFeed"] == "true"
    enable_change_feed(spark, path)  # already on: no commit
    assert table_version(spark, path) == 1


@pytest.mark.parametrize("checkpointed", [False, True], ids=["replayed-on-the-driver", "listed-by-spark"])
def test_a_pinned_read_is_the_table_at_its_version_partitions_pruned_and_later_commits_unseen(spark, tmp_path,
                                                                                            checkpointed):
    """Its files come from the commits replayed on the driver (a table without a checkpoint) or from Spark's state
    of the log (after a checkpoint): the same rows either way."""
    path = str(tmp_path / "t")
    day = lambda d: dt.date(2026, 10, d)  # noqa: E731
    rows = [("a", 1, day(1)), ("b", 2, day(1)), ("c", 3, day(2)), ("d", None, day(3))]
    schema = "doc_id string, n long, day date"
    properties = {**TABLE_PROPERTIES, "delta.checkpointInterval": "1"} if checkpointed else None
    overwrite_table(spark.createDataFrame(rows[:1], schema), path, partition_by=["day"], properties=properties)
    replace_rows(spark, spark.createDataFrame(rows[2:], schema), path, "day > DATE'2026-10-01'")
    replace_rows(spark, spark.createDataFrame(rows[1:2], schema), path, "day = DATE'2026-10-01'")
    assert (Path(path) / "_delta_log" / "_last_checkpoint").exists() == checkpointed

    pinned = read_pinned(spark, path)
    assert pinned.schema == read_table(spark, path).schema
    assert_df_equality(pinned, read_table(spark, path), ignore_row_order=True)
    assert sorted(pinned.collect()) == sorted(rows[1:])
    on_day_two = pinned.where(F.col("day") == day(2))
    assert on_day_two.collect() == [("c", 3, day(2))]
    scanned = on_day_two.groupBy().count()._jdf.queryExecution().executedPlan().toString()
    assert "PartitionFilters: [isnotnull(day" in scanned and "= 2026-10-02" in scanned

    replace_rows(spark, spark.createDataFrame([("e", 5, day(2))], schema), path, "day = DATE'2026-10-02'")
    assert sorted(r.doc_id for r in pinned.collect()) == ["b", "c", "d"]  # still the version it was read at
    assert sorted(r.doc_id for r in read_pinned(spark, path).collect()) == ["b", "d", "e"]


@pytest.mark.parametrize("statistics", [True, False], ids=["with-statistics", "without"])
def test_a_pinned_read_for_a_data_filter_keeps_deltas_skipping_when_the_files_have_statistics(spark, tmp_path,
                                                                                           statistics):
    """Bronze is read by `run_id`: files with statistics are skipped by Delta (one of three read); files without
    any give Delta nothing to skip, so the pinned list is read whole (all three)."""
    path = str(tmp_path / "t")
    before = spark.conf.get("spark.databricks.delta.stats.collect")
    spark.conf.set("spark.databricks.delta.stats.collect", str(statistics).lower())
    try:
        for run in ("a", "b", "c"):
            append_table(spark.createDataFrame([(run, i) for i in range(3)], "run_id string, n int").coalesce(1), path)
    finally:
        spark.conf.set("spark.databricks.delta.stats.collect", before)
    query = read_pinned(spark, path, data_skipping=True).where(F.col("run_id") == "b")
    assert sorted(query.collect()) == [("b", 0), ("b", 1), ("b", 2)]
    scan = query._jdf.queryExecution().executedPlan().collectLeaves().apply(0)
    assert scan.metrics().apply("numFiles").value() == (1 if statistics else 3)
    assert ("TahoeBatchFileIndex" in scan.toString()) != statistics


def test_an_appends_own_rows_are_read_over_its_commits_files(spark, tmp_path):
    """`read_added` reads exactly the rows one commit added, at a later version too; a missing commit is an error."""
    path = str(tmp_path / "t")
    schema = "run_id string, n int, day date"
    day = dt.date(2026, 10, 1)
    append_table(spark.createDataFrame([("a", 1, day)], schema), path, partition_by=["day"])
    append_table(spark.createDataFrame([("b", 2, day), ("b", 3, day + dt.timedelta(1))], schema).repartition(2), path)
    append_table(spark.createDataFrame([("c", 4, day)], schema), path)
    added = read_added(spark, path, 1)
    assert added.schema == read_table(spark, path).schema
    assert_df_equality(added, read_table(spark, path).where("run_id = 'b'"), ignore_row_order=True)
    assert sorted(read_added(spark, path, 0).collect()) == [("a", 1, day)]  # the commit that created the table
    with pytest.raises(ValueError, match="has no commit 3"):
        read_added(spark, path, 3)
