"""Delta Lake writes, kept readable by Power BI, Fabric/Synapse SQL endpoints and delta-rs.

Every table is created at reader version 1: no deletion vectors, no column mapping and no
`timestamp_ntz` columns. The properties are set explicitly because some runtimes (Databricks)
enable deletion vectors on new tables by default.
"""
from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

TABLE_PROPERTIES = {
    "delta.enableDeletionVectors": "false",
    "delta.columnMapping.mode": "none",
    "delta.minReaderVersion": "1",
    "delta.minWriterVersion": "2",
}


def _writer(df: DataFrame, mode: str):
    writer = df.write.format("delta").mode(mode)
    for key, value in TABLE_PROPERTIES.items():
        writer = writer.option(key, value)
    return writer


def assert_portable_schema(df: DataFrame) -> None:
    """Refuses timestamp_ntz columns, which readers at protocol version 1 cannot read."""
    ntz = [f.name for f in df.schema.fields if isinstance(f.dataType, T.TimestampNTZType)]
    if ntz:
        raise ValueError(f"timestamp_ntz columns are not portable: {ntz}")


def overwrite_table(df: DataFrame, path: str) -> None:
    """Replaces a table's content (and schema) in one Delta commit."""
    assert_portable_schema(df)
    _writer(df, "overwrite").option("overwriteSchema", "true").save(path)


def append_table(df: DataFrame, path: str) -> None:
    assert_portable_schema(df)
    _writer(df, "append").save(path)


def replace_rows(spark: SparkSession, df: DataFrame, path: str, condition: str) -> None:
    """Atomically replaces the rows matching `condition` (a SQL predicate every row of `df` meets)."""
    assert_portable_schema(df)
    if not table_exists(spark, path):
        append_table(df.limit(0), path)
    _writer(df, "overwrite").option("replaceWhere", condition).save(path)


def table_exists(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def upsert_newer(spark: SparkSession, df: DataFrame, path: str, key: str = "doc_id") -> int:
    """MERGE rows whose key is new or whose `cosmos_ts` is greater than the stored one.

    `df` must hold one row per key. Returns how many rows were inserted or updated; the
    rest were not newer than what the table holds (duplicates or older versions).
    """
    if not table_exists(spark, path):
        append_table(df.limit(0), path)
    table = DeltaTable.forPath(spark, path)
    before = table.history(1).select("version").head()[0]
    (
        table.alias("t")
        .merge(df.alias("s"), f"t.{key} = s.{key}")
        .whenMatchedUpdateAll(condition="coalesce(s.cosmos_ts, -1) > coalesce(t.cosmos_ts, -1)")
        .whenNotMatchedInsertAll()
        .execute()
    )
    last = table.history(1).select("version", "operationMetrics").head()
    if last["version"] == before:
        return 0  # nothing to merge: Delta commits nothing
    metrics = last["operationMetrics"]
    return int(metrics.get("numTargetRowsInserted", 0)) + int(metrics.get("numTargetRowsUpdated", 0))


def read_table(spark: SparkSession, path: str) -> DataFrame:
    return spark.read.format("delta").load(path)
