"""Parse bronze documents with the explicit schemas, type them, and give every bad one its reasons.

`parse_documents(container, as_of)` turns bronze rows into typed rows with a `reasons`
array: empty for an accepted document, else every rule of the contract it breaks.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataflix_spark.schemas import (
    CONTENT_TYPES,
    DEVICE_TYPES,
    EVENT_TYPES,
    FIELDS,
    GENRES_SCHEMA,
    PLANS,
    RAW_ITEMS_SCHEMA,
    SUBSCRIPTION_STATUSES,
    parse_schema,
)
from dataflix_spark.silver.readers import READERS, read_double, read_int

# Time-zone aware: a naive datetime literal would be read in the driver process' local zone.
EARLIEST_EVENT = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)

# Spark's JSON functions read the first value of a text, ignore whatever follows it and accept
# single quotes and NaN. Read strictly, a line holding exactly one JSON object is an array of one
# value when wrapped as `[line]`, and an array of two whose first is an object as `[line, {}]`:
# anything after the object breaks one of them. The second wrapping is also the document's parse,
# so a line is tokenised twice in all.
_STRICT_JSON = {"allowSingleQuotes": "false", "allowNonNumericNumbers": "false"}


def _with_strict_document(schema: T.StructType) -> Callable[[DataFrame], DataFrame]:
    """Adds `doc`: the `raw` line parsed with `schema` when it holds exactly one JSON object, else null."""

    def transform(df: DataFrame) -> DataFrame:
        values = F.from_json(F.concat(F.lit("["), F.col("raw"), F.lit(", {}]")), T.ArrayType(schema), _STRICT_JSON)
        one_value = F.json_array_length(F.concat(F.lit("["), F.col("raw"), F.lit("]"))) == 1
        # Two steps, so that the parse is evaluated once: Spark does not inline a costly column used twice.
        return df.withColumn("_values", values).withColumn(
            "doc", F.when((F.size("_values") == 2) & one_value, F.col("_values")[0])
        ).drop("_values")

    return transform


def _read_array(text: Column, schema: T.DataType) -> Column:
    """The JSON array parsed with `schema`; null when the text is no array (from_json reads an object as one)."""
    return F.when(F.json_array_length(text).isNotNull(), F.from_json(text, schema))


def _field_reasons(container: str) -> list[Column]:
    """Missing/null required fields and values that cannot be read as their type."""
    reasons = []
    for field in FIELDS[container]:
        text = F.col(f"doc.{field.name}")
        if field.required:
            reasons.append(F.when(text.isNull(), F.lit(f"missing required field {field.name}")))
        if field.kind != "array":
            typed = F.col(field.column)
            reasons.append(
                F.when(text.isNotNull() & typed.isNull(), F.lit(f"{field.name} is not a valid {field.kind}"))
            )
    return reasons


def _enum_reason(column: str, name: str, values: tuple[str, ...]) -> Column:
    return F.when(~F.col(column).isin(*values), F.lit(f"{name} outside its values"))


def _event_time_reasons(column: str, name: str, as_of: dt.date) -> list[Column]:
    # "More than one day after the as-of date": the event's UTC date is later than as_of + 1.
    latest = as_of + dt.timedelta(days=1)
    return [
        F.when(F.col(column) < F.lit(EARLIEST_EVENT), F.lit(f"{name} before 2000-01-01")),
        F.when(F.to_date(F.col(column)) > F.lit(latest), F.lit(f"{name} more than one day after the as-of date")),
    ]


def _content_rules(as_of: dt.date) -> list[Column]:
    genres = F.col("genres")
    return [
        F.when(F.col("doc.genres").isNotNull() & genres.isNull(), F.lit("genres is not an array of strings")),
        F.when(genres.isNotNull() & (F.size(F.filter(genres, lambda g: g.isNotNull())) == 0), F.lit("genres is empty")),
        _enum_reason("content_type", "contentType", CONTENT_TYPES),
        F.when(F.col("duration_sec") <= 0, F.lit("durationSec <= 0")),
    ]


def _subscription_rules(as_of: dt.date) -> list[Column]:
    return [
        _enum_reason("plan", "plan", PLANS),
        _enum_reason("status", "status", SUBSCRIPTION_STATUSES),
        F.when(F.col("price_monthly") < 0, F.lit("negative priceMonthly")),
        F.when(F.col("end_date") < F.col("start_date"), F.lit("endDate before startDate")),
    ]


def _playback_rules(as_of: dt.date) -> list[Column]:
    event_type = F.col("event_type")
    return [
        _enum_reason("event_type", "eventType", EVENT_TYPES),
        _enum_reason("device_type", "deviceType", DEVICE_TYPES),
        F.when(F.col("position_sec") < 0, F.lit("negative positionSec")),
        F.when((event_type == "buffer") & F.col("doc.bufferTimeMs").isNull(), F.lit("buffer event without bufferTimeMs")),
        F.when((event_type == "buffer") & (F.col("buffer_time_ms") < 0), F.lit("negative bufferTimeMs")),
        F.when((event_type == "error") & F.col("doc.errorCode").isNull(), F.lit("error event without errorCode")),
        F.when((event_type == "error") & F.col("doc.fatal").isNull(), F.lit("error event without fatal")),
        *_event_time_reasons("event_ts", "timestamp", as_of),
    ]


def _recommendation_rules(as_of: dt.date) -> list[Column]:
    items = F.col("items_raw")
    bad_item = F.exists(
        items,
        lambda i: i.isNull()
        | i["contentId"].isNull()
        | read_int(i["rank"]).isNull()
        | (read_int(i["rank"]) < 1)
        | (i["score"].isNotNull() & read_double(i["score"]).isNull()),
    )
    return [
        F.when(F.col("doc.items").isNotNull() & items.isNull(), F.lit("items is not an array of objects")),
        F.when(bad_item, F.lit("an item lacks contentId or a rank >= 1, or has a non-numeric score")),
        *_event_time_reasons("shown_at", "timestamp", as_of),
    ]


_RULES: dict[str, Callable[[dt.date], list[Column]]] = {
    "content": _content_rules,
    "subscriptions": _subscription_rules,
    "playback_events": _playback_rules,
    "recommendations": _recommendation_rules,
}


def _typed_columns(container: str) -> list[Column]:
    columns = []
    for field in FIELDS[container]:
        text = F.col(f"doc.{field.name}")
        if field.kind == "array":
            continue
        columns.append(READERS[field.kind](text).alias(field.column))
    if container == "content":
        columns.append(_read_array(F.col("doc.genres"), GENRES_SCHEMA).alias("genres"))
    if container == "recommendations":
        columns.append(_read_array(F.col("doc.items"), RAW_ITEMS_SCHEMA).alias("items_raw"))
    return columns


def parse_documents(container: str, as_of: dt.date) -> Callable[[DataFrame], DataFrame]:
    """Bronze rows → typed rows plus `reasons` (array of strings, empty when the document is good)
    and `raw_hash`, which orders versions with the same `_ts` (silver.conform.rank_versions)."""

    def transform(bronze: DataFrame) -> DataFrame:
        # Bronze's doc_id is re-read here with the other fields, from the same raw text.
        parsed = bronze.drop("doc_id").transform(_with_strict_document(parse_schema(container)))
        typed = parsed.select("*", *_typed_columns(container))
        checks = _field_reasons(container) + _RULES[container](as_of)
        reasons = F.when(F.col("doc").isNull(), F.array(F.lit("not a valid JSON object"))).otherwise(
            F.array_compact(F.array(*checks))
        )
        return typed.withColumns({"reasons": reasons, "raw_hash": F.xxhash64("raw")}).drop("doc")

    return transform


def keep_text_of_quarantined(parsed: DataFrame) -> DataFrame:
    """Blanks `raw` and `source_file` of accepted documents: downstream only quarantine rows need them,
    and without them a persisted batch is a fraction of the size."""
    bad = F.size("reasons") > 0
    return parsed.withColumns({"raw": F.when(bad, F.col("raw")), "source_file": F.when(bad, F.col("source_file"))})


def quarantined(parsed: DataFrame) -> DataFrame:
    """Documents that break a rule, with their reasons joined into one string."""
    return parsed.where(F.size("reasons") > 0).select(
        "run_id",
        "container",
        # A line that is not one JSON object has no parsed fields: its id is read leniently, to find it by.
        F.coalesce(F.col("doc_id"), F.get_json_object("raw", "$.id")).alias("id"),
        "raw",
        F.concat_ws("; ", "reasons").alias("reason"),
        "source_file",
    )


def accepted(parsed: DataFrame) -> DataFrame:
    return parsed.where(F.size("reasons") == 0)
