"""Silver rows: pseudonymised, personal and payment data dropped, one row per document id."""
from __future__ import annotations

from typing import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from dataflix_spark.schemas import ITEM_TYPE, SILVER_SCHEMAS, conform_to
from dataflix_spark.silver.readers import read_double, read_int


def user_key(user_id: Column, pepper: str) -> Column:
    """Lower-case hex SHA-256 of `<pepper>:<userId>` — the only form in which users leave bronze."""
    return F.sha2(F.concat(F.lit(f"{pepper}:"), user_id), 256)


def with_user_key(pepper: str) -> Callable[[DataFrame], DataFrame]:
    def transform(df: DataFrame) -> DataFrame:
        return df.withColumn("user_key", user_key(F.col("user_id"), pepper)).drop("user_id")

    return transform


def _typed_items() -> Column:
    return F.transform(
        "items_raw",
        lambda i: F.struct(
            i["contentId"].alias("content_id"),
            read_int(i["rank"]).alias("rank"),
            read_double(i["score"]).alias("score"),
        ).cast(ITEM_TYPE),
    )


def derived_columns(container: str) -> dict[str, Column]:
    """The container's silver columns that are not read straight from the document (built on call:
    Columns need a running session)."""
    return {
        # `country` is the one part of `customer` that may be kept.
        "subscriptions": {"country": F.get_json_object("customer", "$.country")},
        "playback_events": {"event_date": F.to_date("event_ts")},
        "recommendations": {"items": _typed_items(), "shown_date": F.to_date("shown_at")},
    }.get(container, {})


def to_silver_rows(container: str, pepper: str) -> Callable[[DataFrame], DataFrame]:
    """Accepted, typed documents → the container's silver columns (`SILVER_SCHEMAS`, with `cosmos_ts`, `run_id`)."""

    def transform(accepted: DataFrame) -> DataFrame:
        if "user_id" in accepted.columns:
            accepted = accepted.transform(with_user_key(pepper))
        return accepted.withColumns(derived_columns(container)).transform(conform_to, SILVER_SCHEMAS[container])

    return transform


def rank_versions(df: DataFrame) -> DataFrame:
    """Adds `version_rank`: 1 for the version of each id with the greatest `_ts`.

    documents.md lets any version win a tie on `_ts`; the smaller `raw_hash` (xxhash64 of the text) does,
    so runs are repeatable without carrying every document's text through the shuffle.
    """
    newest_first = Window.partitionBy("doc_id").orderBy(F.col("cosmos_ts").desc_nulls_last(), F.col("raw_hash"))
    return df.withColumn("version_rank", F.row_number().over(newest_first))


def newer_than(existing: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Keeps the rows whose id is new to `existing` or whose `_ts` is greater than the stored one."""

    def transform(candidates: DataFrame) -> DataFrame:
        stored = existing.select("doc_id", F.coalesce("cosmos_ts", F.lit(-1)).alias("stored_ts"))
        joined = candidates.join(stored, on="doc_id", how="left")
        return joined.where(
            F.col("stored_ts").isNull()
            | (F.coalesce(F.col("cosmos_ts"), F.lit(-1)) > F.col("stored_ts"))
        ).drop("stored_ts")

    return transform
