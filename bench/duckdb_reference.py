"""An independent DuckDB implementation of the gold tables, straight from the raw input folder.

Written from the contract (shared/contract/documents.md, metrics.md) and docs/decisions.md, not
from the Spark code, so that it doubles as a cross-check of the Spark pipeline and as the
benchmark's reference time. One run over one input folder (no incremental state):

    raw JSON Lines → validated documents (bad ones left out) → newest `_ts` per id
    → `user_key` = sha256("<pepper>:<userId>") → the 14 gold tables

    python -m bench.duckdb_reference --input DIR --as-of 2026-10-31 --out DIR [--threads N]

`build_reference(input_dir, pepper, as_of)` returns {table: pyarrow.Table};
`write_reference(...)` writes one Parquet file per table. The pepper comes from `--pepper` or
`DATAFLIX_PEPPER` (never printed).

Known gaps against the Spark pipeline's validation (no generated document hits them): DuckDB's
JSON parser accepts `NaN` and trailing commas, and a timestamp with hours and minutes but no
seconds is read by padding `:00`.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

CONTAINERS = ("content", "subscriptions", "playback_events", "recommendations")
SOURCE_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")

EVENT_TYPES = ("start", "play", "pause", "buffer", "error", "stop")
DEVICE_TYPES = ("mobile", "tv", "web", "tablet", "console")
PLANS = ("Basic", "Standard", "Premium")
STATUSES = ("active", "cancelled")
CONTENT_TYPES = ("movie", "episode")
ENGAGEMENT_GAP_MINUTES = 30
CONVERSION_WINDOW_HOURS = 24

GOLD_TABLES = (
    "dim_content", "fact_playback_sessions", "fact_engagement_sessions", "agg_qoe_daily",
    "agg_buffering_daily", "agg_errors_daily", "agg_content_daily", "fact_subscriptions",
    "agg_subscriptions_monthly", "agg_recommendations_daily", "agg_recommendation_rank", "kpi_monthly",
    "dim_user", "dim_date",
)

# Key columns of every gold table (unique per row): how the cross-check lines rows up.
GOLD_KEYS = {
    "dim_content": ("content_id",),
    "fact_playback_sessions": ("session_id",),
    "fact_engagement_sessions": ("engagement_session_id",),
    "agg_qoe_daily": ("date", "device_type"),
    "agg_buffering_daily": ("date", "device_type"),
    "agg_errors_daily": ("date", "device_type", "error_code"),
    "agg_content_daily": ("date", "content_id"),
    "fact_subscriptions": ("subscription_id",),
    "agg_subscriptions_monthly": ("month", "plan"),
    "agg_recommendations_daily": ("date", "algorithm", "surface"),
    "agg_recommendation_rank": ("algorithm", "rank"),
    "kpi_monthly": ("month",),
    "dim_user": ("user_key",),
    "dim_date": ("date",),
}


@dataclass(frozen=True)
class Field:
    """A contract field: JSON name, column name, type and whether it must be present and non-null."""

    name: str
    column: str
    kind: str  # string | int | long | double | money | boolean | timestamp | date | object | array
    required: bool = True


FIELDS = {
    "content": (
        Field("id", "doc_id", "string"), Field("contentId", "content_id", "string"),
        Field("title", "title", "string"), Field("contentType", "content_type", "string"),
        Field("seriesId", "series_id", "string", False), Field("genres", "genres_json", "array"),
        Field("language", "language", "string"), Field("maturityRating", "maturity_rating", "string"),
        Field("releaseYear", "release_year", "int"), Field("durationSec", "duration_sec", "int"),
    ),
    "subscriptions": (
        Field("id", "doc_id", "string"), Field("userId", "user_id", "string"), Field("plan", "plan", "string"),
        Field("priceMonthly", "price_monthly", "money"), Field("status", "status", "string"),
        Field("startDate", "start_date", "date"), Field("endDate", "end_date", "date", False),
        Field("cancelledAt", "cancelled_at", "timestamp", False), Field("autoRenew", "auto_renew", "boolean"),
        Field("customer", "customer", "object"), Field("payment", "payment", "object"),
    ),
    "playback_events": (
        Field("id", "doc_id", "string"), Field("userId", "user_id", "string"),
        Field("sessionId", "session_id", "string"), Field("contentId", "content_id", "string"),
        Field("deviceType", "device_type", "string"), Field("eventType", "event_type", "string"),
        Field("timestamp", "event_ts", "timestamp"), Field("positionSec", "position_sec", "double"),
        Field("bufferTimeMs", "buffer_time_ms", "long", False), Field("errorCode", "error_code", "string", False),
        Field("fatal", "fatal", "boolean", False), Field("country", "country", "string", False),
        Field("appVersion", "app_version", "string", False),
    ),
    "recommendations": (
        Field("id", "doc_id", "string"), Field("userId", "user_id", "string"),
        Field("timestamp", "shown_at", "timestamp"), Field("algorithm", "algorithm", "string"),
        Field("surface", "surface", "string"), Field("items", "items_json", "array"),
    ),
}

# --- reading a JSON value (given as text) as the contract's type: NULL when it cannot be ---------

_NUMBER = r"^\s*-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\s*$"
_TIMESTAMP = (r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
              r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?\s*$")
_DATE = r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*$"
# Recommendation items with every member as text (a non-object item becomes all NULLs).
_ITEM_TYPE = '[{"contentId": "VARCHAR", "rank": "VARCHAR", "score": "VARCHAR"}]'


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(_sql_text(v) for v in values) + ")"


def _read_double(t: str) -> str:
    return f"CASE WHEN regexp_matches({t}, '{_NUMBER}') THEN TRY_CAST(trim({t}) AS DOUBLE) END"


def _read_long(t: str) -> str:
    d = _read_double(t)
    # 1500.0 is the whole number 1500; 1500.7 is not a whole number.
    return f"CASE WHEN ({d}) = floor({d}) THEN TRY_CAST({d} AS BIGINT) END"


def _read_timestamp(t: str) -> str:
    # UTC wall-clock time (the session zone is UTC); a time without seconds gets ":00".
    padded = rf"regexp_replace(trim({t}), '^([0-9-]{{10}}[T ][0-9]{{2}}:[0-9]{{2}})($|[Z+-])', '\1:00\2')"
    return (f"CASE WHEN regexp_matches({t}, '{_TIMESTAMP}') "
            f"THEN TRY_CAST(TRY_CAST({padded} AS TIMESTAMPTZ) AS TIMESTAMP) END")


def _read_as(kind: str, t: str) -> str:
    readers = {
        "string": lambda: t,
        "double": lambda: _read_double(t),
        "long": lambda: _read_long(t),
        "int": lambda: f"TRY_CAST({_read_long(t)} AS INTEGER)",
        "money": lambda: f"CASE WHEN regexp_matches({t}, '{_NUMBER}') THEN TRY_CAST(trim({t}) AS DECIMAL(12,2)) END",
        "boolean": lambda: (f"CASE lower(trim({t})) WHEN 'true' THEN true WHEN 'false' THEN false END"),
        "timestamp": lambda: _read_timestamp(t),
        "date": lambda: f"CASE WHEN regexp_matches({t}, '{_DATE}') THEN TRY_CAST(trim({t}) AS DATE) END",
        "object": lambda: f"CASE WHEN json_valid({t}) AND json_type({t}) = 'OBJECT' THEN {t} END",
        "array": lambda: f"CASE WHEN json_valid({t}) AND json_type({t}) = 'ARRAY' THEN {t} END",
    }
    return readers[kind]()


def source_files(input_dir: str | os.PathLike, container: str) -> list[str]:
    folder = Path(input_dir) / container
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if p.is_file() and p.name.endswith(SOURCE_SUFFIXES))


def _paths(container: str) -> str:
    return "[" + ", ".join(_sql_text(f"$.{f.name}") for f in FIELDS[container]) + ", '$._ts']"


def _load_documents(con: duckdb.DuckDBPyConnection, container: str, files: list[str]) -> None:
    """`parsed_<container>`: one row per non-blank line — its raw text and, when the line is one JSON
    value, every contract field as text (`t_<column>`) and `_ts`.

    A table rather than a subquery: the validation below refers to each field many times, and an
    inlined extraction would parse the document once per reference.
    """
    fields = FIELDS[container]
    columns = ", ".join(f"v[{i + 1}] AS t_{f.column}" for i, f in enumerate(fields))
    if not files:
        empty = ", ".join(f"NULL::VARCHAR AS t_{f.column}" for f in fields)
        con.execute(f"CREATE OR REPLACE TABLE parsed_{container} AS "
                    f"SELECT NULL::VARCHAR AS raw, {empty}, NULL::BIGINT AS cosmos_ts LIMIT 0")
        return
    # Each line as one text column: \x01 never occurs in valid JSON text (control characters must be
    # escaped), and no quoting, so every line arrives as written; gzip is recognised by the `.gz` suffix.
    # json_valid guards the extraction, which fails on a line that is not JSON.
    con.execute(
        f"""CREATE OR REPLACE TABLE parsed_{container} AS
        SELECT raw, {columns}, TRY_CAST(v[{len(fields) + 1}] AS BIGINT) AS cosmos_ts
        FROM (SELECT raw, json_extract_string(CASE WHEN json_valid(raw) THEN raw END, {_paths(container)}) AS v
              FROM read_csv($files, columns = {{'raw': 'VARCHAR'}}, header = false, delim = '\x01',
                            quote = '', escape = '', auto_detect = false, strict_mode = false,
                            ignore_errors = true, max_line_size = 16777216, buffer_size = 33554432)
              WHERE raw IS NOT NULL AND trim(raw) <> '')""",
        {"files": files},
    )


def _valid_docs_sql(container: str, as_of: dt.date) -> str:
    """SELECT of the container's valid documents, typed, with `cosmos_ts` and `raw`."""
    fields = FIELDS[container]
    text = {f.name: f"t_{f.column}" for f in fields}
    typed = {f.name: _read_as(f.kind, text[f.name]) for f in fields}
    checks = []
    for f in fields:
        if f.required:
            checks.append(f"{text[f.name]} IS NOT NULL")
        if f.kind != "string":
            checks.append(f"({text[f.name]} IS NULL OR ({typed[f.name]}) IS NOT NULL)")
    latest = as_of + dt.timedelta(days=1)
    in_time = (f"({{ts}} >= TIMESTAMP '2000-01-01 00:00:00' AND CAST({{ts}} AS DATE) <= DATE '{latest}')")
    rules = {
        "content": lambda: [
            f"len(list_filter(json_extract_string({typed['genres']}, '$[*]'), g -> g IS NOT NULL)) >= 1",
            f"{text['contentType']} IN {_in(CONTENT_TYPES)}",
            f"{typed['durationSec']} > 0",
        ],
        "subscriptions": lambda: [
            f"{text['plan']} IN {_in(PLANS)}",
            f"{text['status']} IN {_in(STATUSES)}",
            f"{typed['priceMonthly']} >= 0",
            f"({typed['endDate']} IS NULL OR {typed['endDate']} >= {typed['startDate']})",
        ],
        "playback_events": lambda: [
            f"{text['eventType']} IN {_in(EVENT_TYPES)}",
            f"{text['deviceType']} IN {_in(DEVICE_TYPES)}",
            f"{typed['positionSec']} >= 0",
            f"({text['eventType']} <> 'buffer' OR ({text['bufferTimeMs']} IS NOT NULL AND {typed['bufferTimeMs']} >= 0))",
            f"({text['eventType']} <> 'error' OR ({text['errorCode']} IS NOT NULL AND {text['fatal']} IS NOT NULL))",
            in_time.format(ts=typed["timestamp"]),
        ],
        "recommendations": lambda: [
            # Every item: an object with a contentId, an integer rank >= 1 and, when present, a numeric score.
            f"list_bool_and(list_transform(json_type({typed['items']}, '$[*]'), t -> t = 'OBJECT')) IS NOT false",
            f"""list_bool_and(list_transform(json_transform({typed['items']}, '{_ITEM_TYPE}'), i ->
                    i.contentId IS NOT NULL
                    AND {_read_long('i.rank')} BETWEEN 1 AND 2147483647
                    AND (i.score IS NULL OR {_read_double('i.score')} IS NOT NULL))) IS NOT false""",
            in_time.format(ts=typed["timestamp"]),
        ],
    }[container]()
    columns = ", ".join(f"{typed[f.name]} AS {f.column}" for f in fields)
    where = " AND ".join(f"coalesce({c}, false)" for c in checks + rules)
    return f"""
        SELECT {columns}, cosmos_ts, raw FROM parsed_{container}
        WHERE {where}"""


def _newest_sql(container: str, as_of: dt.date) -> str:
    """Valid documents, one per id: the greatest `_ts` (a missing one is the oldest), ties by raw text."""
    return f"""
        SELECT * EXCLUDE (version_rank, raw) FROM (
            SELECT *, row_number() OVER (PARTITION BY doc_id ORDER BY cosmos_ts DESC NULLS LAST, raw ASC)
                      AS version_rank
            FROM ({_valid_docs_sql(container, as_of)}))
        WHERE version_rank = 1"""


def _silver(con: duckdb.DuckDBPyConnection, pepper: str, as_of: dt.date) -> None:
    """The accepted, de-duplicated, pseudonymised documents: tables content, subscriptions, events, recs."""
    key = "lower(sha256($pepper || ':' || user_id))"
    params = {"pepper": pepper}
    con.execute(f"CREATE OR REPLACE TABLE content AS {_newest_sql('content', as_of)}")
    con.execute(
        f"""CREATE OR REPLACE TABLE subscriptions AS
        SELECT doc_id AS subscription_id, {key} AS user_key, plan, price_monthly, status, start_date, end_date,
               cancelled_at, auto_renew, json_extract_string(customer, '$.country') AS country
        FROM ({_newest_sql('subscriptions', as_of)})""",
        params,
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE events AS
        SELECT doc_id, {key} AS user_key, session_id, content_id, device_type, event_type, event_ts,
               CAST(event_ts AS DATE) AS event_date, position_sec, buffer_time_ms, error_code, fatal, country
        FROM ({_newest_sql('playback_events', as_of)})""",
        params,
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE recs AS
        SELECT doc_id, {key} AS user_key, shown_at, algorithm, surface,
               json_extract_string(items_json, '$[*].contentId') AS item_content,
               list_transform(json_extract_string(items_json, '$[*].rank'), r -> CAST({_read_long('r')} AS INTEGER))
                   AS item_rank
        FROM ({_newest_sql('recommendations', as_of)})""",
        params,
    )


def _percentile(values: str, pct: int) -> str:
    """Nearest rank on a sorted list: the ⌈pct·n/100⌉-th value, in integer arithmetic (NULL when empty)."""
    return f"CASE WHEN len({values}) > 0 THEN {values}[({pct} * len({values}) + 99) // 100] END"


GOLD_SQL = {
    # Per content id the newest catalogue version; genres without their nulls.
    "dim_content": """
        SELECT content_id, title, content_type, series_id, genre_list[1] AS primary_genre,
               array_to_string(genre_list, ', ') AS genres, language, maturity_rating, release_year, duration_sec
        FROM (SELECT *, list_filter(json_extract_string(genres_json, '$[*]'), g -> g IS NOT NULL) AS genre_list,
                     row_number() OVER (PARTITION BY content_id ORDER BY cosmos_ts DESC NULLS LAST, doc_id) AS n
              FROM content)
        WHERE n = 1""",
    "fact_playback_sessions": """
        WITH ordered AS (
            SELECT *, epoch_ms(lead(event_ts) OVER w) - epoch_ms(event_ts) AS gap_ms,
                   coalesce(sum(CASE WHEN event_type = 'play' THEN 1 ELSE 0 END)
                            OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) > 0 AS after_play,
                   row_number() OVER w AS pos
            FROM events
            WINDOW w AS (PARTITION BY session_id ORDER BY event_ts, doc_id)),
        s AS (
            SELECT session_id,
                   arg_min(user_key, pos) AS user_key, arg_min(content_id, pos) AS content_id,
                   arg_min(device_type, pos) AS device_type,
                   min(event_ts) AS session_start, max(event_ts) AS session_end,
                   min(event_ts) FILTER (WHERE event_type = 'start') AS first_start,
                   min(event_ts) FILTER (WHERE event_type = 'play') AS first_play,
                   count(*) FILTER (WHERE event_type = 'buffer' AND after_play) AS rebuffer_count,
                   coalesce(sum(buffer_time_ms) FILTER (WHERE event_type = 'buffer' AND after_play), 0) AS rebuffer_ms,
                   coalesce(sum(gap_ms) FILTER (WHERE event_type = 'play' OR (event_type = 'buffer' AND after_play)), 0)
                       AS playing_ms,
                   count(*) FILTER (WHERE event_type = 'pause') AS pause_count,
                   count(*) FILTER (WHERE event_type = 'error') AS error_count,
                   coalesce(bool_or(fatal) FILTER (WHERE event_type = 'error'), false) AS fatal_error,
                   bool_or(event_type = 'start') AS has_start, bool_or(event_type = 'play') AS has_play,
                   bool_or(event_type = 'stop') AS has_stop,
                   max(position_sec) AS max_position_sec
            FROM ordered GROUP BY session_id)
        SELECT s.session_id, s.user_key, s.content_id, s.device_type, CAST(s.session_start AS DATE) AS session_date,
               s.session_start, s.session_end,
               CASE WHEN epoch_ms(first_play) - epoch_ms(first_start) >= 0
                    THEN epoch_ms(first_play) - epoch_ms(first_start) END AS startup_time_ms,
               rebuffer_count, rebuffer_ms, greatest(0, playing_ms - rebuffer_ms) AS watch_time_ms,
               pause_count, error_count, fatal_error,
               has_start AND NOT has_play AND error_count = 0 AS exited_before_start,
               max_position_sec,
               coalesce(max_position_sec * 10 >= c.duration_sec * 9, false) AS completed,
               CASE WHEN fatal_error THEN 'error' WHEN has_stop THEN 'stop' ELSE 'abandoned' END AS ended_by,
               has_start
        FROM s LEFT JOIN dim_content c ON c.content_id = s.content_id""",
    # A session opens a new engagement session when it starts more than 30 minutes after the latest end
    # so far: the latest end over *all* the user's earlier sessions equals the current group's, since an
    # earlier group ended before the current one started.
    "fact_engagement_sessions": f"""
        WITH s AS (
            SELECT user_key, session_id, session_start, session_end, content_id, device_type, watch_time_ms,
                   max(session_end) OVER (PARTITION BY user_key ORDER BY session_start, session_id
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest_end
            FROM fact_playback_sessions),
        g AS (
            SELECT *, sum(CASE WHEN latest_end IS NULL
                                    OR session_start > latest_end + INTERVAL {ENGAGEMENT_GAP_MINUTES} MINUTE
                               THEN 1 ELSE 0 END)
                      OVER (PARTITION BY user_key ORDER BY session_start, session_id ROWS UNBOUNDED PRECEDING) AS grp
            FROM s)
        SELECT lower(sha256(user_key || '|' || first(session_id ORDER BY session_start, session_id)))
                   AS engagement_session_id,
               user_key, CAST(min(session_start) AS DATE) AS engagement_date,
               min(session_start) AS engagement_start, max(session_end) AS engagement_end,
               epoch_ms(max(session_end)) - epoch_ms(min(session_start)) AS duration_ms,
               count(*) AS player_sessions, count(DISTINCT content_id) AS titles,
               count(DISTINCT device_type) AS devices, sum(watch_time_ms) AS watch_time_ms
        FROM g GROUP BY user_key, grp""",
    "agg_qoe_daily": f"""
        SELECT date, device_type, sessions, sessions_with_start, exits_before_start,
               CASE WHEN sessions_with_start > 0 THEN exits_before_start / sessions_with_start END AS ebvs_rate,
               failures, failures / sessions AS failure_rate,
               {_percentile('startups', 50)} AS startup_p50_ms, {_percentile('startups', 90)} AS startup_p90_ms,
               {_percentile('startups', 95)} AS startup_p95_ms,
               watch_time_ms, rebuffer_ms, rebuffer_count,
               CASE WHEN watch_time_ms + rebuffer_ms > 0 THEN rebuffer_ms / (watch_time_ms + rebuffer_ms) END
                   AS rebuffer_ratio,
               CASE WHEN watch_time_ms > 0 THEN rebuffer_count / (watch_time_ms / 3600000.0) END
                   AS rebuffers_per_hour
        FROM (SELECT session_date AS date, device_type, count(*) AS sessions,
                     count(*) FILTER (WHERE has_start) AS sessions_with_start,
                     count(*) FILTER (WHERE exited_before_start) AS exits_before_start,
                     count(*) FILTER (WHERE fatal_error) AS failures,
                     list_sort(list(startup_time_ms) FILTER (WHERE startup_time_ms IS NOT NULL)) AS startups,
                     sum(watch_time_ms) AS watch_time_ms, sum(rebuffer_ms) AS rebuffer_ms,
                     sum(rebuffer_count) AS rebuffer_count
              FROM fact_playback_sessions GROUP BY ALL)""",
    "agg_buffering_daily": f"""
        SELECT date, device_type, buffer_events, total_buffer_ms,
               {_percentile('b', 50)} AS p50_buffer_ms, {_percentile('b', 90)} AS p90_buffer_ms,
               {_percentile('b', 95)} AS p95_buffer_ms, {_percentile('b', 99)} AS p99_buffer_ms, max_buffer_ms
        FROM (SELECT event_date AS date, device_type, count(*) AS buffer_events,
                     sum(buffer_time_ms) AS total_buffer_ms, list_sort(list(buffer_time_ms)) AS b,
                     max(buffer_time_ms) AS max_buffer_ms
              FROM events WHERE event_type = 'buffer' GROUP BY ALL)""",
    "agg_errors_daily": """
        SELECT event_date AS date, device_type, error_code, count(*) AS error_events,
               count(*) FILTER (WHERE fatal) AS fatal_events, count(DISTINCT session_id) AS affected_sessions,
               count(DISTINCT user_key) AS affected_users
        FROM events WHERE event_type = 'error' GROUP BY ALL""",
    "agg_content_daily": """
        SELECT session_date AS date, content_id, count(*) AS sessions, count(DISTINCT user_key) AS viewers,
               sum(watch_time_ms) AS watch_time_ms, count(*) FILTER (WHERE completed) AS completions,
               count(*) FILTER (WHERE completed) / count(*) AS completion_rate
        FROM fact_playback_sessions GROUP BY ALL""",
    "fact_subscriptions": """
        SELECT subscription_id, user_key, plan, price_monthly, status, start_date, end_date, cancelled_at,
               auto_renew, country
        FROM subscriptions""",
    "agg_subscriptions_monthly": """
        WITH m AS (
            SELECT month, plan, first_day, last_day, next_first, is_as_of_month FROM month_grid, plans),
        active_start AS (
            SELECT m.month, m.plan, s.user_key FROM m JOIN subscriptions s ON s.plan = m.plan
            WHERE s.start_date <= m.first_day AND (s.end_date IS NULL OR m.first_day < s.end_date)),
        active_next AS (
            SELECT DISTINCT g.month, s.user_key FROM month_grid g JOIN subscriptions s
            ON s.start_date <= g.next_first AND (s.end_date IS NULL OR g.next_first < s.end_date)),
        start_counts AS (
            SELECT a.month, a.plan, count(DISTINCT a.user_key) AS subscribers_start,
                   count(DISTINCT a.user_key) FILTER (WHERE n.user_key IS NULL) AS churned
            FROM active_start a LEFT JOIN active_next n ON n.month = a.month AND n.user_key = a.user_key
            GROUP BY ALL),
        end_counts AS (
            SELECT m.month, m.plan, count(DISTINCT s.user_key) AS subscribers_end, sum(s.price_monthly) AS mrr
            FROM m JOIN subscriptions s ON s.plan = m.plan
            WHERE s.start_date <= m.last_day AND (s.end_date IS NULL OR m.last_day < s.end_date)
            GROUP BY ALL),
        new_counts AS (
            SELECT date_trunc('month', start_date) AS month, plan, count(*) AS new_subscribers
            FROM first_subscriptions GROUP BY ALL),
        cancel_counts AS (
            SELECT CAST(date_trunc('month', cancelled_at) AS DATE) AS month, plan, count(*) AS cancellations
            FROM subscriptions WHERE cancelled_at IS NOT NULL GROUP BY ALL),
        revenue AS (
            SELECT date_trunc('month', billing_date) AS month, plan, sum(price_monthly) AS revenue
            FROM billings GROUP BY ALL)
        SELECT m.month, m.plan, coalesce(subscribers_start, 0) AS subscribers_start,
               coalesce(subscribers_end, 0) AS subscribers_end, coalesce(new_subscribers, 0) AS new_subscribers,
               coalesce(cancellations, 0) AS cancellations,
               -- The as-of month's churn is not known yet: null (metrics.md).
               CASE WHEN NOT is_as_of_month THEN coalesce(churned, 0) END AS churned,
               CASE WHEN coalesce(subscribers_start, 0) > 0 AND NOT is_as_of_month
                    THEN coalesce(churned, 0) / subscribers_start END
                   AS churn_rate,
               coalesce(revenue, 0) AS revenue, coalesce(mrr, 0) AS mrr
        FROM m
        LEFT JOIN start_counts USING (month, plan) LEFT JOIN end_counts USING (month, plan)
        LEFT JOIN new_counts USING (month, plan) LEFT JOIN cancel_counts USING (month, plan)
        LEFT JOIN revenue USING (month, plan)""",
    "agg_recommendations_daily": """
        SELECT CAST(shown_at AS DATE) AS date, algorithm, surface, count(*) AS impressions,
               count(*) FILTER (WHERE converted) AS conversions,
               count(*) FILTER (WHERE converted) / count(*) AS conversion_rate
        FROM impressions GROUP BY ALL""",
    "agg_recommendation_rank": """
        SELECT algorithm, item_rank AS rank, count(*) AS impressions, count(*) FILTER (WHERE converted) AS conversions,
               count(*) FILTER (WHERE converted) / count(*) AS conversion_rate
        FROM impressions GROUP BY ALL""",
    "kpi_monthly": """
        WITH grid AS (
            SELECT CAST(unnest(generate_series(
                       least((SELECT min(date_trunc('month', start_date)) FROM subscriptions),
                             (SELECT min(date_trunc('month', event_ts)) FROM events)),
                       date_trunc('month', $as_of::DATE), INTERVAL 1 MONTH)) AS DATE) AS month),
        g AS (SELECT month, least(CAST(month + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE), $as_of::DATE) AS last_day
              FROM grid),
        subscribers AS (
            SELECT g.month, count(DISTINCT s.user_key) AS subscribers FROM g JOIN subscriptions s
            ON s.start_date <= g.last_day AND (s.end_date IS NULL OR g.last_day < s.end_date) GROUP BY ALL),
        revenue AS (SELECT date_trunc('month', billing_date) AS month, sum(price_monthly) AS revenue
                    FROM billings GROUP BY ALL),
        new_subs AS (SELECT date_trunc('month', start_date) AS month, count(*) AS new_subscribers
                     FROM first_subscriptions GROUP BY ALL),
        cancels AS (SELECT CAST(date_trunc('month', cancelled_at) AS DATE) AS month, count(*) AS cancellations
                    FROM subscriptions WHERE cancelled_at IS NOT NULL GROUP BY ALL),
        sessions AS (SELECT date_trunc('month', session_start) AS month, count(*) AS player_sessions
                     FROM fact_playback_sessions GROUP BY ALL),
        event_counts AS (
            SELECT date_trunc('month', event_ts) AS month, count(*) FILTER (WHERE event_type = 'buffer') AS buffer_events,
                   count(*) FILTER (WHERE event_type = 'error') AS playback_errors
            FROM events GROUP BY ALL)
        SELECT g.month, coalesce(revenue, 0) AS revenue, coalesce(subscribers, 0) AS subscribers,
               coalesce(new_subscribers, 0) AS new_subscribers, coalesce(cancellations, 0) AS cancellations,
               (SELECT count(*) FROM dim_content) AS content_count, coalesce(player_sessions, 0) AS player_sessions,
               coalesce(buffer_events, 0) AS buffer_events, coalesce(playback_errors, 0) AS playback_errors
        FROM g LEFT JOIN revenue USING (month) LEFT JOIN subscribers USING (month) LEFT JOIN new_subs USING (month)
        LEFT JOIN cancels USING (month) LEFT JOIN sessions USING (month) LEFT JOIN event_counts USING (month)""",
    "dim_user": """
        WITH users AS (
            SELECT user_key FROM subscriptions UNION SELECT user_key FROM events UNION SELECT user_key FROM recs),
        sub_country AS (
            SELECT user_key, arg_max(country, (start_date, subscription_id)) AS country,
                   min(start_date) AS first_subscription_date
            FROM subscriptions GROUP BY user_key),
        event_country AS (
            SELECT user_key, arg_max(country, (event_ts, doc_id)) AS country
            FROM events WHERE country IS NOT NULL GROUP BY user_key),
        current AS (
            SELECT user_key, arg_max(plan, (start_date, subscription_id)) AS current_plan
            FROM subscriptions
            WHERE start_date <= $as_of::DATE AND (end_date IS NULL OR $as_of::DATE < end_date) GROUP BY user_key)
        SELECT u.user_key, coalesce(sc.country, ec.country) AS country, sc.first_subscription_date,
               c.current_plan, c.current_plan IS NOT NULL AS is_subscriber
        FROM users u LEFT JOIN sub_country sc USING (user_key) LEFT JOIN event_country ec USING (user_key)
        LEFT JOIN current c USING (user_key)""",
    "dim_date": """
        WITH dates AS (
            SELECT session_date AS d FROM fact_playback_sessions
            UNION ALL SELECT engagement_date FROM fact_engagement_sessions
            UNION ALL SELECT date FROM agg_buffering_daily
            UNION ALL SELECT date FROM agg_errors_daily
            UNION ALL SELECT start_date FROM fact_subscriptions
            UNION ALL SELECT end_date FROM fact_subscriptions
            UNION ALL SELECT CAST(cancelled_at AS DATE) FROM fact_subscriptions
            UNION ALL SELECT date FROM agg_recommendations_daily
            UNION ALL SELECT month FROM agg_subscriptions_monthly
            UNION ALL SELECT month FROM kpi_monthly
            UNION ALL SELECT $as_of::DATE),
        span AS (SELECT CAST(unnest(generate_series(min(d), max(d), INTERVAL 1 DAY)) AS DATE) AS date
                 FROM dates WHERE d IS NOT NULL)
        SELECT date, year(date) AS year, CAST(date_trunc('month', date) AS DATE) AS month,
               strftime(date, '%B') AS month_name, isodow(date) AS day_of_week, isodow(date) >= 6 AS is_weekend
        FROM span""",
}

# Helper tables the subscription and recommendation tables share.
_HELPERS = {
    "plans": "SELECT unnest(['" + "', '".join(PLANS) + "']) AS plan",
    # Months from the earliest start date to the as-of month: first day, last day (or as-of), next first day.
    "month_grid": """
        SELECT month, month AS first_day,
               least(CAST(month + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE), $as_of::DATE) AS last_day,
               CAST(month + INTERVAL 1 MONTH AS DATE) AS next_first,
               month = date_trunc('month', $as_of::DATE) AS is_as_of_month
        FROM (SELECT CAST(unnest(generate_series(min(date_trunc('month', start_date)),
                                                 date_trunc('month', $as_of::DATE), INTERVAL 1 MONTH)) AS DATE) AS month
              FROM subscriptions)""",
    # A user's earliest subscription: smallest start date, then subscription id.
    "first_subscriptions": """
        SELECT user_key, arg_min(plan, (start_date, subscription_id)) AS plan, min(start_date) AS start_date
        FROM subscriptions GROUP BY user_key""",
    # Billing dates: start + k months (DuckDB clamps the day to the month's end), before end_date, not after as-of.
    "billings": """
        SELECT plan, price_monthly, billing_date FROM (
            SELECT plan, price_monthly, end_date,
                   CAST(start_date + to_months(CAST(unnest(generate_series(0, greatest(0,
                        date_diff('month', start_date, $as_of::DATE) + 1))) AS INTEGER)) AS DATE) AS billing_date
            FROM subscriptions)
        WHERE billing_date <= $as_of::DATE AND (end_date IS NULL OR billing_date < end_date)""",
    # One row per recommended item, converted or not. A list without items has no impressions, and
    # so no row in the daily table (as the Spark pipeline does; metrics.md is silent on it).
    "impressions": f"""
        WITH items AS (
            SELECT doc_id, user_key, shown_at, algorithm, surface, unnest(item_content) AS content_id,
                   unnest(item_rank) AS item_rank, unnest(range(1, len(item_rank) + 1)) AS ord
            FROM recs),
        hits AS (
            SELECT DISTINCT i.doc_id, i.ord FROM items i JOIN fact_playback_sessions s
            ON s.user_key = i.user_key AND s.content_id = i.content_id
               AND s.session_start >= i.shown_at
               AND s.session_start <= i.shown_at + INTERVAL {CONVERSION_WINDOW_HOURS} HOUR)
        SELECT items.*, hits.doc_id IS NOT NULL AS converted
        FROM items LEFT JOIN hits ON hits.doc_id = items.doc_id AND hits.ord = items.ord""",
}

# Build order: each table only reads tables made before it.
_ORDER = (
    "dim_content", "fact_playback_sessions", "fact_engagement_sessions", "agg_qoe_daily", "agg_buffering_daily",
    "agg_errors_daily", "agg_content_daily", "fact_subscriptions", "plans", "month_grid", "first_subscriptions",
    "billings", "agg_subscriptions_monthly", "impressions", "agg_recommendations_daily", "agg_recommendation_rank",
    "kpi_monthly", "dim_user", "dim_date",
)

# Output types (the contract's: whole milliseconds and counts as BIGINT, money as decimals).
_CASTS = {
    "dim_content": {"release_year": "INTEGER", "duration_sec": "INTEGER"},
    "fact_playback_sessions": {c: "BIGINT" for c in ("startup_time_ms", "rebuffer_count", "rebuffer_ms",
                                                      "watch_time_ms", "pause_count", "error_count")},
    "fact_engagement_sessions": {c: "BIGINT" for c in ("duration_ms", "player_sessions", "titles", "devices",
                                                        "watch_time_ms")},
    "agg_qoe_daily": {**{c: "BIGINT" for c in ("sessions", "sessions_with_start", "exits_before_start", "failures",
                                                "startup_p50_ms", "startup_p90_ms", "startup_p95_ms", "watch_time_ms",
                                                "rebuffer_ms", "rebuffer_count")},
                      **{c: "DOUBLE" for c in ("ebvs_rate", "failure_rate", "rebuffer_ratio", "rebuffers_per_hour")}},
    "agg_buffering_daily": {c: "BIGINT" for c in ("buffer_events", "total_buffer_ms", "p50_buffer_ms", "p90_buffer_ms",
                                                   "p95_buffer_ms", "p99_buffer_ms", "max_buffer_ms")},
    "agg_errors_daily": {c: "BIGINT" for c in ("error_events", "fatal_events", "affected_sessions", "affected_users")},
    "agg_content_daily": {"sessions": "BIGINT", "viewers": "BIGINT", "watch_time_ms": "BIGINT",
                          "completions": "BIGINT", "completion_rate": "DOUBLE"},
    "fact_subscriptions": {"price_monthly": "DECIMAL(12,2)"},
    "agg_subscriptions_monthly": {"month": "DATE", **{c: "BIGINT" for c in (
        "subscribers_start", "subscribers_end", "new_subscribers", "cancellations", "churned")},
        "churn_rate": "DOUBLE", "revenue": "DECIMAL(18,2)", "mrr": "DECIMAL(18,2)"},
    "agg_recommendations_daily": {"impressions": "BIGINT", "conversions": "BIGINT", "conversion_rate": "DOUBLE"},
    "agg_recommendation_rank": {"rank": "INTEGER", "impressions": "BIGINT", "conversions": "BIGINT",
                                "conversion_rate": "DOUBLE"},
    "kpi_monthly": {"month": "DATE", "revenue": "DECIMAL(18,2)", **{c: "BIGINT" for c in (
        "subscribers", "new_subscribers", "cancellations", "content_count", "player_sessions", "buffer_events",
        "playback_errors")}},
    "dim_date": {"year": "INTEGER", "day_of_week": "INTEGER"},
}


def _cast_sql(name: str, sql: str) -> str:
    casts = _CASTS.get(name, {})
    if not casts:
        return sql
    replace = ", ".join(f"CAST({col} AS {kind}) AS {col}" for col, kind in casts.items())
    return f"SELECT * REPLACE ({replace}) FROM ({sql})"


def connect(threads: int | None = None, memory_limit: str | None = None,
            database: str | os.PathLike = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in UTC; with a `database` file, tables larger than memory spill to disk."""
    con = duckdb.connect(str(database))
    con.execute("SET TimeZone = 'UTC'")
    # Row order is set by ORDER BY where it matters; without this DuckDB keeps it at a memory cost.
    con.execute("SET preserve_insertion_order = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = {_sql_text(memory_limit)}")
    return con


def build_gold(con: duckdb.DuckDBPyConnection, input_dir: str | os.PathLike, pepper: str, as_of: dt.date,
               timings: dict[str, float] | None = None) -> dict[str, int]:
    """Creates the 14 gold tables (and the silver and helper tables) in `con` from the raw input;
    returns the number of non-blank lines read per container."""
    started = time.monotonic()
    for container in CONTAINERS:
        _load_documents(con, container, source_files(input_dir, container))
    read_done = time.monotonic()
    _silver(con, pepper, as_of)
    lines = {c: con.execute(f"SELECT count(*) FROM parsed_{c}").fetchone()[0] for c in CONTAINERS}
    for container in CONTAINERS:
        con.execute(f"DROP TABLE parsed_{container}")  # the raw text: the largest table by far
    silver_done = time.monotonic()
    for name in _ORDER:
        sql = GOLD_SQL.get(name) or _HELPERS[name]
        params = {"as_of": as_of.isoformat()} if "$as_of" in sql else {}
        con.execute(f"CREATE OR REPLACE TABLE {name} AS {_cast_sql(name, sql)}", params)
    if timings is not None:
        timings.update(read=read_done - started, silver=silver_done - read_done, gold=time.monotonic() - silver_done)
    return lines


def build_reference(input_dir: str | os.PathLike, pepper: str, as_of: dt.date, threads: int | None = None) -> dict:
    """{table: pyarrow.Table} of the 14 gold tables, rows sorted by the table's key (`.to_pandas()` for pandas)."""
    con = connect(threads)
    try:
        build_gold(con, input_dir, pepper, as_of)
        return {name: con.execute(f"SELECT * FROM {name} ORDER BY {', '.join(GOLD_KEYS[name])}").to_arrow_table()
                for name in GOLD_TABLES}
    finally:
        con.close()


def write_reference(input_dir: str | os.PathLike, out_dir: str | os.PathLike, pepper: str, as_of: dt.date,
                    threads: int | None = None, memory_limit: str | None = None) -> dict:
    """Builds the gold tables and writes `<out_dir>/<table>.parquet`; returns timings and row counts.

    Works in a database file under `out_dir` (removed at the end), so that inputs larger than
    memory (or than `memory_limit`) spill to disk.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    database = out / ".duckdb_reference.db"
    for leftover in (database, Path(f"{database}.wal")):
        leftover.unlink(missing_ok=True)
    con = connect(threads, memory_limit, database)
    timings: dict[str, float] = {}
    try:
        documents = build_gold(con, input_dir, pepper, as_of, timings)
        started = time.monotonic()
        rows = {}
        for name in GOLD_TABLES:
            con.execute(f"COPY {name} TO {_sql_text(str(out / f'{name}.parquet'))} (FORMAT parquet)")
            rows[name] = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        timings["write"] = time.monotonic() - started
    finally:
        con.close()
        for leftover in (database, Path(f"{database}.wal")):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(f"{database}.tmp", ignore_errors=True)
    return {"timings_s": timings, "rows": rows, "lines": documents}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.duckdb_reference",
                                     description="DataFlix gold tables computed by DuckDB from the raw input folder")
    parser.add_argument("--input", required=True, help="folder with content/, subscriptions/, playback_events/, ...")
    parser.add_argument("--out", required=True, help="where <table>.parquet files go")
    parser.add_argument("--as-of", required=True, help="as-of date YYYY-MM-DD")
    parser.add_argument("--pepper", help="pepper of user_key (default: $DATAFLIX_PEPPER, else the public demo pepper)")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    parser.add_argument("--memory-limit", help="DuckDB memory limit, e.g. 4GB")
    args = parser.parse_args(argv)
    try:
        as_of = dt.date.fromisoformat(args.as_of)
    except ValueError:
        print(f"bad --as-of: {args.as_of!r} (want YYYY-MM-DD)", file=sys.stderr)
        return 2
    if not Path(args.input).is_dir():
        print(f"input folder not found: {args.input}", file=sys.stderr)
        return 2
    pepper = args.pepper or os.environ.get("DATAFLIX_PEPPER")
    if not pepper:
        print("DATAFLIX_PEPPER is not set: using the public demo pepper", file=sys.stderr)
        pepper = "dataflix-local-demo-pepper"
    started = time.monotonic()
    result = write_reference(args.input, args.out, pepper, as_of, args.threads, args.memory_limit)
    total = time.monotonic() - started
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in result["timings_s"].items())
    print(f"duckdb reference: {sum(result['lines'].values()):,} lines → {len(result['rows'])} tables in "
          f"{args.out} in {total:.1f}s ({stages})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
