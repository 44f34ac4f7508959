"""sinks.delta: a table's version, properties and last commit's metrics, read from the log on the driver, are what
`DeltaTable.history(1)` and `detail()` say; `upsert_newer` counts the rows its MERGE wrote."""
from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import types as T

from dataflix_spark.sinks.delta import (
    TABLE_PROPERTIES,
    append_table,
    enable_change_feed,
    last_commit,
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
