"""The local source: JSON Lines files in a folder per container (`*.json`, `*.jsonl`, `*.gz`)."""
from __future__ import annotations

import re
from urllib.parse import unquote

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

SOURCE_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")


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
