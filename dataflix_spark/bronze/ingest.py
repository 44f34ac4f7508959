"""Bronze: every document exactly as read, with where and when it came from."""
from __future__ import annotations

import datetime as dt
from typing import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dataflix_spark.schemas import BRONZE_SCHEMA


def to_bronze(container: str, run_id: str, ingested_at: dt.datetime) -> Callable[[DataFrame], DataFrame]:
    """Source rows (`raw`, `source_file`) → bronze rows; `id` and `_ts` are lifted out for merging."""

    def transform(source: DataFrame) -> DataFrame:
        return source.select(
            F.lit(run_id).alias("run_id"),
            F.lit(container).alias("container"),
            "source_file",
            "raw",
            F.get_json_object("raw", "$.id").alias("doc_id"),
            F.get_json_object("raw", "$._ts").try_cast("long").alias("cosmos_ts"),
            F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
        ).select([F.col(f.name).cast(f.dataType) for f in BRONZE_SCHEMA.fields])

    return transform
