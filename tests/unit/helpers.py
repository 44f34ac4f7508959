"""Row builders and assertions shared by the unit tests. Table schemas come from `dataflix_spark.schemas`."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from dataflix_spark.gold.playback_sessions import build_fact_playback_sessions
from dataflix_spark.schemas import GOLD_SCHEMAS, SILVER_SCHEMAS

UTC = dt.timezone.utc


def ts(text: str | None) -> dt.datetime | None:
    """'2026-10-01 20:00:01.250' → an aware UTC datetime (so the Python process' local zone plays no part)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None


def day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def subset(schema: T.StructType, *names: str) -> T.StructType:
    """The named fields of `schema`, in the order given."""
    return T.StructType([schema[name] for name in names])


def assert_table(actual: DataFrame, schema: T.StructType, rows: list[tuple]) -> None:
    """`actual`'s columns named in `schema` hold exactly `rows` (in any order)."""
    expected = actual.sparkSession.createDataFrame(rows, schema)
    assert_df_equality(actual.select(*schema.fieldNames()), expected, ignore_row_order=True, ignore_nullable=True)


# --- silver playback events and `fact_playback_sessions` ------------------------------------------


def event(
    doc_id: str,
    session_id: str,
    event_type: str,
    at: str,
    *,
    user: str = "u1",
    content: str = "c1",
    device: str = "tv",
    position: float = 0.0,
    buffer_ms: int | None = None,
    error_code: str | None = None,
    fatal: bool | None = None,
) -> tuple:
    """One silver playback event row; `error` events default to a non-fatal `DECODE`."""
    if event_type == "error":
        error_code = error_code or "DECODE"
        fatal = bool(fatal)
    when = ts(at)
    return (
        doc_id, user, session_id, content, device, event_type, when, when.date(), float(position),
        buffer_ms, error_code, fatal, "US", "5.1.0", int(when.timestamp()), "run-test",
    )


def events_df(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, SILVER_SCHEMAS["playback_events"])


def lists_df(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """Silver lists from (doc_id, user_key, shown_at, algorithm, surface, items, cosmos_ts, run_id): `shown_date`,
    the date of `shown_at` (UTC), is added."""
    return spark.createDataFrame([(*r[:3], r[2].date(), *r[3:]) for r in rows], SILVER_SCHEMAS["recommendations"])


def durations_df(spark: SparkSession, durations: dict[str, int]) -> DataFrame:
    return spark.createDataFrame(
        list(durations.items()), subset(GOLD_SCHEMAS["dim_content"], "content_id", "duration_sec")
    )


def playback_fact(spark: SparkSession, rows: list[tuple], durations: dict[str, int] | None = None) -> DataFrame:
    """Builds `fact_playback_sessions` from events (default catalogue: c1 lasts 6000 s)."""
    catalogue = {"c1": 6000} if durations is None else durations
    return build_fact_playback_sessions(events_df(spark, rows), durations_df(spark, catalogue))


# --- `fact_subscriptions` -------------------------------------------------------------------------


def subscription_fact(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """`fact_subscriptions` from (id, user, plan, price, start, end, cancelled_at[, country]) tuples:
    cancelled (and not auto-renewing) when `cancelled_at` is given; country "US" unless given."""

    def row(sid, user, plan, price, start, end, cancelled, country="US") -> tuple:
        return (
            sid, user, plan, Decimal(price), "cancelled" if cancelled else "active", day(start), day(end),
            ts(cancelled), cancelled is None, country,
        )

    return spark.createDataFrame([row(*r) for r in rows], GOLD_SCHEMAS["fact_subscriptions"])


# --- `fact_playback_sessions` rows given directly (for tables built on top of it) ----------------


def session(
    session_id: str,
    user: str,
    start: str,
    *,
    device: str = "tv",
    content: str = "c1",
    startup_ms: int | None = 1000,
    rebuffer_ms: int = 0,
    watch_ms: int = 60_000,
    fatal: bool = False,
    completed: bool = False,
) -> tuple:
    """One `fact_playback_sessions` row starting at `start`; only the measures the gold tables above it read vary."""
    began = ts(start)
    ended = began + dt.timedelta(milliseconds=(startup_ms or 0) + watch_ms + rebuffer_ms)
    return (
        session_id, user, content, device, began.date(), began, ended, startup_ms, 1 if rebuffer_ms else 0,
        rebuffer_ms, watch_ms, 0, 1 if fatal else 0, fatal, startup_ms is None and not fatal, 100.0, completed,
        "error" if fatal else "stop", True,
    )


def sessions_df(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, GOLD_SCHEMAS["fact_playback_sessions"])
