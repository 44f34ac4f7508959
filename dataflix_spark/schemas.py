"""Explicit schemas: how each source container is parsed, and the silver tables' types.

Source documents are parsed with every scalar field read as *text* (Spark renders a JSON
number or boolean as its text), so that a value of the wrong type is seen and quarantined
by ``silver.validate`` instead of silently becoming null. Objects and arrays are also read
as their JSON text and parsed again with the nested schemas below.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import types as T

CONTAINERS = ("content", "subscriptions", "playback_events", "recommendations")

EVENT_TYPES = ("start", "play", "pause", "buffer", "error", "stop")
DEVICE_TYPES = ("mobile", "tv", "web", "tablet", "console")
PLANS = ("Basic", "Standard", "Premium")
SUBSCRIPTION_STATUSES = ("active", "cancelled")
CONTENT_TYPES = ("movie", "episode")


@dataclass(frozen=True)
class Field:
    """One contract field: its JSON name, silver column, contract type and whether it is required."""

    name: str
    column: str
    kind: str  # string | int | long | double | money | boolean | timestamp | date | object | array
    required: bool = True


FIELDS: dict[str, tuple[Field, ...]] = {
    "content": (
        Field("id", "doc_id", "string"),
        Field("contentId", "content_id", "string"),
        Field("title", "title", "string"),
        Field("contentType", "content_type", "string"),
        Field("seriesId", "series_id", "string", required=False),
        Field("genres", "genres", "array"),
        Field("language", "language", "string"),
        Field("maturityRating", "maturity_rating", "string"),
        Field("releaseYear", "release_year", "int"),
        Field("durationSec", "duration_sec", "int"),
    ),
    "subscriptions": (
        Field("id", "doc_id", "string"),
        Field("userId", "user_id", "string"),
        Field("plan", "plan", "string"),
        Field("priceMonthly", "price_monthly", "money"),
        Field("status", "status", "string"),
        Field("startDate", "start_date", "date"),
        Field("endDate", "end_date", "date", required=False),
        Field("cancelledAt", "cancelled_at", "timestamp", required=False),
        Field("autoRenew", "auto_renew", "boolean"),
        Field("customer", "customer", "object"),
        Field("payment", "payment", "object"),
    ),
    "playback_events": (
        Field("id", "doc_id", "string"),
        Field("userId", "user_id", "string"),
        Field("sessionId", "session_id", "string"),
        Field("contentId", "content_id", "string"),
        Field("deviceType", "device_type", "string"),
        Field("eventType", "event_type", "string"),
        Field("timestamp", "event_ts", "timestamp"),
        Field("positionSec", "position_sec", "double"),
        # Required only for some event types; checked in silver.validate.
        Field("bufferTimeMs", "buffer_time_ms", "long", required=False),
        Field("errorCode", "error_code", "string", required=False),
        Field("fatal", "fatal", "boolean", required=False),
        Field("country", "country", "string", required=False),
        Field("appVersion", "app_version", "string", required=False),
    ),
    "recommendations": (
        Field("id", "doc_id", "string"),
        Field("userId", "user_id", "string"),
        Field("timestamp", "shown_at", "timestamp"),
        Field("algorithm", "algorithm", "string"),
        Field("surface", "surface", "string"),
        Field("items", "items", "array"),
    ),
}


def parse_schema(container: str) -> T.StructType:
    """The text-typed schema a container's raw JSON is first parsed with."""
    return T.StructType(
        [T.StructField(f.name, T.StringType()) for f in FIELDS[container]]
        + [T.StructField("_ts", T.StringType())]
    )


GENRES_SCHEMA = T.ArrayType(T.StringType())
RAW_ITEMS_SCHEMA = T.ArrayType(
    T.StructType(
        [
            T.StructField("contentId", T.StringType()),
            T.StructField("rank", T.StringType()),
            T.StructField("score", T.StringType()),
        ]
    )
)
ITEM_TYPE = T.StructType(
    [
        T.StructField("content_id", T.StringType()),
        T.StructField("rank", T.IntegerType()),
        T.StructField("score", T.DoubleType()),
    ]
)

MONEY = T.DecimalType(12, 2)
MONEY_SUM = T.DecimalType(18, 2)

# Bronze: every document exactly as read, so silver and gold can be rebuilt without the source.
BRONZE_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("container", T.StringType(), False),
        T.StructField("source_file", T.StringType(), True),
        T.StructField("raw", T.StringType(), True),
        T.StructField("doc_id", T.StringType(), True),
        T.StructField("cosmos_ts", T.LongType(), True),
        T.StructField("ingested_at", T.TimestampType(), False),
    ]
)

QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("container", T.StringType(), False),
        T.StructField("id", T.StringType(), True),
        T.StructField("raw", T.StringType(), True),
        T.StructField("reason", T.StringType(), False),
        T.StructField("source_file", T.StringType(), True),
    ]
)

RUN_LOG_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("container", T.StringType(), False),
        T.StructField("read", T.LongType(), False),
        T.StructField("accepted", T.LongType(), False),
        T.StructField("quarantined", T.LongType(), False),
        T.StructField("duplicates", T.LongType(), False),
        T.StructField("unknown_content", T.LongType(), False),
        T.StructField("started_at", T.TimestampType(), False),
        T.StructField("finished_at", T.TimestampType(), False),
        T.StructField("as_of", T.DateType(), False),
    ]
)
