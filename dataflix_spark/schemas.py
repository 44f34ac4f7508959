"""Explicit schemas: how each source container is parsed, and the bronze, silver and gold tables' types.

Source documents are parsed with every scalar field read as *text* (Spark renders a JSON
number or boolean as its text), so that a value of the wrong type is seen and quarantined
by ``silver.validate`` instead of silently becoming null. Objects and arrays are also read
as their JSON text and parsed again with the nested schemas below.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

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

STRING = T.StringType()
INT = T.IntegerType()
LONG = T.LongType()
DOUBLE = T.DoubleType()
BOOLEAN = T.BooleanType()
DATE = T.DateType()
TIMESTAMP = T.TimestampType()  # never timestamp_ntz: see sinks.delta


def table_schema(*columns: tuple[str, T.DataType]) -> T.StructType:
    """A table's columns in order, each declared nullable (nullability is left to the builders)."""
    return T.StructType([T.StructField(name, kind, True) for name, kind in columns])


# Silver: one table per container, as `silver.conform.to_silver_rows` writes it.
_LINEAGE = (("cosmos_ts", LONG), ("run_id", STRING))
SILVER_SCHEMAS: dict[str, T.StructType] = {
    "content": table_schema(
        ("doc_id", STRING), ("content_id", STRING), ("title", STRING), ("content_type", STRING),
        ("series_id", STRING), ("genres", GENRES_SCHEMA), ("language", STRING), ("maturity_rating", STRING),
        ("release_year", INT), ("duration_sec", INT), *_LINEAGE,
    ),
    "subscriptions": table_schema(
        ("doc_id", STRING), ("user_key", STRING), ("plan", STRING), ("price_monthly", MONEY), ("status", STRING),
        ("start_date", DATE), ("end_date", DATE), ("cancelled_at", TIMESTAMP), ("auto_renew", BOOLEAN),
        ("country", STRING), *_LINEAGE,
    ),
    "playback_events": table_schema(
        ("doc_id", STRING), ("user_key", STRING), ("session_id", STRING), ("content_id", STRING),
        ("device_type", STRING), ("event_type", STRING), ("event_ts", TIMESTAMP), ("event_date", DATE),
        ("position_sec", DOUBLE), ("buffer_time_ms", LONG), ("error_code", STRING), ("fatal", BOOLEAN),
        ("country", STRING), ("app_version", STRING), *_LINEAGE,
    ),
    "recommendations": table_schema(
        ("doc_id", STRING), ("user_key", STRING), ("shown_at", TIMESTAMP), ("shown_date", DATE),
        ("algorithm", STRING), ("surface", STRING), ("items", T.ArrayType(ITEM_TYPE, containsNull=False)), *_LINEAGE,
    ),
}

# Gold: one table per name in `gold.build.GOLD_TABLES`, scalar columns only (metrics.md).
GOLD_SCHEMAS: dict[str, T.StructType] = {
    "dim_content": table_schema(
        ("content_id", STRING), ("title", STRING), ("content_type", STRING), ("series_id", STRING),
        ("primary_genre", STRING), ("genres", STRING), ("language", STRING), ("maturity_rating", STRING),
        ("release_year", INT), ("duration_sec", INT),
    ),
    "fact_playback_sessions": table_schema(
        ("session_id", STRING), ("user_key", STRING), ("content_id", STRING), ("device_type", STRING),
        ("session_date", DATE), ("session_start", TIMESTAMP), ("session_end", TIMESTAMP),
        ("startup_time_ms", LONG), ("rebuffer_count", LONG), ("rebuffer_ms", LONG), ("watch_time_ms", LONG),
        ("pause_count", LONG), ("error_count", LONG), ("fatal_error", BOOLEAN), ("exited_before_start", BOOLEAN),
        ("max_position_sec", DOUBLE), ("completed", BOOLEAN), ("ended_by", STRING), ("has_start", BOOLEAN),
    ),
    "fact_engagement_sessions": table_schema(
        ("engagement_session_id", STRING), ("user_key", STRING), ("engagement_date", DATE),
        ("engagement_start", TIMESTAMP), ("engagement_end", TIMESTAMP), ("duration_ms", LONG),
        ("player_sessions", LONG), ("titles", LONG), ("devices", LONG), ("watch_time_ms", LONG),
    ),
    "agg_qoe_daily": table_schema(
        ("date", DATE), ("device_type", STRING), ("sessions", LONG), ("sessions_with_start", LONG),
        ("exits_before_start", LONG), ("ebvs_rate", DOUBLE), ("failures", LONG), ("failure_rate", DOUBLE),
        ("startup_p50_ms", LONG), ("startup_p90_ms", LONG), ("startup_p95_ms", LONG), ("watch_time_ms", LONG),
        ("rebuffer_ms", LONG), ("rebuffer_count", LONG), ("rebuffer_ratio", DOUBLE), ("rebuffers_per_hour", DOUBLE),
    ),
    "agg_buffering_daily": table_schema(
        ("date", DATE), ("device_type", STRING), ("buffer_events", LONG), ("total_buffer_ms", LONG),
        ("p50_buffer_ms", LONG), ("p90_buffer_ms", LONG), ("p95_buffer_ms", LONG), ("p99_buffer_ms", LONG),
        ("max_buffer_ms", LONG),
    ),
    "agg_errors_daily": table_schema(
        ("date", DATE), ("device_type", STRING), ("error_code", STRING), ("error_events", LONG),
        ("fatal_events", LONG), ("affected_sessions", LONG), ("affected_users", LONG),
    ),
    "agg_content_daily": table_schema(
        ("date", DATE), ("content_id", STRING), ("sessions", LONG), ("viewers", LONG), ("watch_time_ms", LONG),
        ("completions", LONG), ("completion_rate", DOUBLE),
    ),
    "fact_subscriptions": table_schema(
        ("subscription_id", STRING), ("user_key", STRING), ("plan", STRING), ("price_monthly", MONEY),
        ("status", STRING), ("start_date", DATE), ("end_date", DATE), ("cancelled_at", TIMESTAMP),
        ("auto_renew", BOOLEAN), ("country", STRING),
    ),
    "agg_subscriptions_monthly": table_schema(
        ("month", DATE), ("plan", STRING), ("subscribers_start", LONG), ("subscribers_end", LONG),
        ("new_subscribers", LONG), ("cancellations", LONG), ("churned", LONG), ("churn_rate", DOUBLE),
        ("revenue", MONEY_SUM), ("mrr", MONEY_SUM),
    ),
    "agg_recommendations_daily": table_schema(
        ("date", DATE), ("algorithm", STRING), ("surface", STRING), ("impressions", LONG), ("conversions", LONG),
        ("conversion_rate", DOUBLE),
    ),
    "agg_recommendation_rank": table_schema(
        ("algorithm", STRING), ("rank", INT), ("impressions", LONG), ("conversions", LONG),
        ("conversion_rate", DOUBLE),
    ),
    # Quality of experience joined to billing and recommendations (docs/metrics-extra.md).
    "agg_qoe_churn_monthly": table_schema(
        ("month", DATE), ("plan", STRING), ("qoe_bucket", STRING), ("subscribers", LONG), ("churned", LONG),
        ("churn_rate", DOUBLE),
    ),
    "revenue_at_risk_daily": table_schema(
        ("date", DATE), ("plan", STRING), ("device_type", STRING), ("subscribers_at_risk", LONG),
        ("mrr_at_risk", MONEY_SUM), ("attributed_subscribers_at_risk", LONG), ("attributed_mrr_at_risk", MONEY_SUM),
    ),
    "agg_recommendation_qoe": table_schema(
        ("date", DATE), ("device_type", STRING), ("play_source", STRING), ("sessions", LONG),
        ("sessions_with_startup", LONG), ("total_startup_ms", LONG), ("startup_avg_ms", LONG), ("startup_p90_ms", LONG),
        ("watch_time_ms", LONG), ("rebuffer_ms", LONG), ("rebuffer_ratio", DOUBLE), ("avg_watch_time_ms", LONG),
        ("completions", LONG), ("completion_rate", DOUBLE),
    ),
    "kpi_monthly": table_schema(
        ("month", DATE), ("revenue", MONEY_SUM), ("subscribers", LONG), ("new_subscribers", LONG),
        ("cancellations", LONG), ("content_count", LONG), ("player_sessions", LONG), ("buffer_events", LONG),
        ("playback_errors", LONG),
    ),
    "dim_user": table_schema(
        ("user_key", STRING), ("country", STRING), ("first_subscription_date", DATE), ("current_plan", STRING),
        ("is_subscriber", BOOLEAN),
    ),
    "dim_date": table_schema(
        ("date", DATE), ("year", INT), ("month", DATE), ("month_name", STRING), ("day_of_week", INT),
        ("is_weekend", BOOLEAN),
    ),
}


def conform_to(df: DataFrame, schema: T.StructType) -> DataFrame:
    """Exactly `schema`'s columns, in its order, cast to its types (nullability is left as computed).

    Use as the last step of a builder: `df.transform(conform_to, GOLD_SCHEMAS["dim_user"])`.
    """
    return df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])

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

# ops/source_files: every source file in bronze, recorded by the run that ingested it (normalised by
# `sources.local_json.file_key`), so a run finds what is new without scanning bronze.
SOURCE_FILES_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("container", T.StringType(), False),
        T.StructField("source_file", T.StringType(), False),
        # As listed when it was read: a later listing that differs means the file changed after it was read.
        # Null in rows recorded before these columns existed, or recovered from bronze after a killed run.
        T.StructField("size_bytes", T.LongType(), True),
        T.StructField("modified_ms", T.LongType(), True),
    ]
)

# The Cosmos DB source's high-water marks (sources/cosmos.py): one row per run and container that read something.
COSMOS_MARKS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("container", T.StringType(), False),
        T.StructField("source", T.StringType(), False),  # cosmos://<host>/<database>/<container>
        T.StructField("high_water_ts", T.LongType(), True),  # the greatest _ts in bronze from this source
        T.StructField("new_versions", T.LongType(), True),  # null: a killed run's row, recorded by a later run
        T.StructField("recorded_at", T.TimestampType(), False),
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
