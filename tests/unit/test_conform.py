"""Silver rows held to the input contract (documents.md): values typed as the contract says, users only
as a peppered key, no personal or payment data, one version per id (greatest `_ts`), and every
document read counted once as accepted, quarantined or duplicate.

Inputs are raw JSON lines taken through bronze → `parse_documents` → `accepted`, as the pipeline does.
Expected rows are worked out by hand; user keys are computed here with hashlib.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataflix_spark.bronze.ingest import to_bronze
from dataflix_spark.schemas import SILVER_SCHEMAS
from dataflix_spark.silver.conform import newer_than, rank_versions, to_silver_rows
from dataflix_spark.silver.validate import accepted, keep_text_of_quarantined, parse_documents, quarantined
from tests.unit.helpers import day, ts

AS_OF = dt.date(2026, 10, 31)
RUN_ID = "run-conform"
INGESTED_AT = dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.timezone.utc)
PEPPER = "test-pepper"

COSMOS = {
    "_rid": "pZ1aAKp2nBkBAAAAAAAAAA==",
    "_self": "dbs/pZ1aAA==/colls/pZ1aAKp2nBk=/docs/pZ1aAKp2nBkBAAAAAAAAAA==/",
    "_etag": '"0000d51c-0000-0d00-0000-6720f4a00000"',
    "_attachments": "attachments/",
}
LLM_INTERACTION = {"llmInteraction": {"model": "assist-v3", "prompt_tokens": 812, "tools": ["search"]}}

# Personal and payment data that must not leave bronze.
USER_IDS = ("user-jane-0001", "user-omar-0002", "user-lena-0003")
CUSTOMERS = (
    {"name": "Jane Doe", "email": "jane.doe@example.com", "country": "US"},
    {"name": "Omar Haddad", "email": "omar.haddad@example.org", "country": "GB"},
    {"name": "Lena Vogel", "email": "lena.vogel@example.net"},
)
PAYMENTS = ({"method": "card", "cardLast4": "4242"}, {"method": "paypal"}, {"method": "card", "cardLast4": "1881"})
PERSONAL_VALUES = (
    *USER_IDS,
    *(c[k] for c in CUSTOMERS for k in ("name", "email")),
    *(p["cardLast4"] for p in PAYMENTS if "cardLast4" in p),
    "paypal",
)
PERSONAL_COLUMN_WORDS = ("user_id", "userid", "customer", "payment", "email", "name", "card", "raw")

# The silver tables as documents.md defines them: written out here, independently of `dataflix_spark.schemas`.
MONEY = T.DecimalType(12, 2)
ITEM = T.StructType(
    [
        T.StructField("content_id", T.StringType()),
        T.StructField("rank", T.IntegerType()),
        T.StructField("score", T.DoubleType()),
    ]
)
SILVER = {
    "content": T.StructType(
        [
            T.StructField("doc_id", T.StringType()),
            T.StructField("content_id", T.StringType()),
            T.StructField("title", T.StringType()),
            T.StructField("content_type", T.StringType()),
            T.StructField("series_id", T.StringType()),
            T.StructField("genres", T.ArrayType(T.StringType())),
            T.StructField("language", T.StringType()),
            T.StructField("maturity_rating", T.StringType()),
            T.StructField("release_year", T.IntegerType()),
            T.StructField("duration_sec", T.IntegerType()),
            T.StructField("cosmos_ts", T.LongType()),
            T.StructField("run_id", T.StringType()),
        ]
    ),
    "subscriptions": T.StructType(
        [
            T.StructField("doc_id", T.StringType()),
            T.StructField("user_key", T.StringType()),
            T.StructField("plan", T.StringType()),
            T.StructField("price_monthly", MONEY),
            T.StructField("status", T.StringType()),
            T.StructField("start_date", T.DateType()),
            T.StructField("end_date", T.DateType()),
            T.StructField("cancelled_at", T.TimestampType()),
            T.StructField("auto_renew", T.BooleanType()),
            T.StructField("country", T.StringType()),
            T.StructField("cosmos_ts", T.LongType()),
            T.StructField("run_id", T.StringType()),
        ]
    ),
    "playback_events": T.StructType(
        [
            T.StructField("doc_id", T.StringType()),
            T.StructField("user_key", T.StringType()),
            T.StructField("session_id", T.StringType()),
            T.StructField("content_id", T.StringType()),
            T.StructField("device_type", T.StringType()),
            T.StructField("event_type", T.StringType()),
            T.StructField("event_ts", T.TimestampType()),
            T.StructField("event_date", T.DateType()),
            T.StructField("position_sec", T.DoubleType()),
            T.StructField("buffer_time_ms", T.LongType()),
            T.StructField("error_code", T.StringType()),
            T.StructField("fatal", T.BooleanType()),
            T.StructField("country", T.StringType()),
            T.StructField("app_version", T.StringType()),
            T.StructField("cosmos_ts", T.LongType()),
            T.StructField("run_id", T.StringType()),
        ]
    ),
    "recommendations": T.StructType(
        [
            T.StructField("doc_id", T.StringType()),
            T.StructField("user_key", T.StringType()),
            T.StructField("shown_at", T.TimestampType()),
            T.StructField("shown_date", T.DateType()),
            T.StructField("algorithm", T.StringType()),
            T.StructField("surface", T.StringType()),
            T.StructField("items", T.ArrayType(ITEM)),
            T.StructField("cosmos_ts", T.LongType()),
            T.StructField("run_id", T.StringType()),
        ]
    ),
}


def key(user_id: str, pepper: str = PEPPER) -> str:
    """The contract's pseudonym, computed independently: lower-case hex SHA-256 of `<pepper>:<userId>`."""
    return hashlib.sha256(f"{pepper}:{user_id}".encode("utf-8")).hexdigest()


def bronze(spark, container: str, lines: list[str], labels: list[str] | None = None):
    labels = labels or [f"line-{i}" for i in range(len(lines))]
    source = spark.createDataFrame(list(zip(labels, lines)), "source_file string, raw string")
    return source.transform(to_bronze(container, RUN_ID, INGESTED_AT))


def parsed(spark, container: str, docs: list[dict], labels: list[str] | None = None):
    return bronze(spark, container, [json.dumps(doc) for doc in docs], labels).transform(
        parse_documents(container, AS_OF)
    )


def silver(spark, container: str, docs: list[dict]):
    return accepted(parsed(spark, container, docs)).transform(to_silver_rows(container, PEPPER))


def assert_silver(actual, expected) -> None:
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


# --- documents --------------------------------------------------------------------------------------

CONTENT_DOCS = [
    {
        "id": "c-00001", "contentId": "c-00001", "title": "Night Train", "contentType": "movie", "seriesId": None,
        "genres": ["Drama", "Thriller"], "language": "en", "maturityRating": "PG-13", "releaseYear": 2019,
        "durationSec": 6120, **COSMOS, "_ts": 1790000100,
    },
    {   # numbers as numeric strings
        "id": "c-00002", "contentId": "c-00002", "title": "Pilot", "contentType": "episode", "seriesId": "s-00007",
        "genres": ["Comedy"], "language": "es", "maturityRating": "TV-14", "releaseYear": "2021",
        "durationSec": "1500", **COSMOS, "_ts": 1790000200,
    },
    {   # whole numbers written as 1500.0, seriesId absent, schema drift, no Cosmos properties at all
        "id": "c-00003", "contentId": "c-00003", "title": "Deep Blue", "contentType": "movie",
        "genres": ["Documentary"], "language": "hi", "maturityRating": "G", "releaseYear": 2020.0,
        "durationSec": 1500.0, **LLM_INTERACTION,
    },
]

SUBSCRIPTION_DOCS = [
    {
        "id": "sub-1", "userId": USER_IDS[0], "plan": "Standard", "priceMonthly": 13.99, "status": "active",
        "startDate": "2026-03-01", "endDate": None, "cancelledAt": None, "autoRenew": True,
        "customer": CUSTOMERS[0], "payment": PAYMENTS[0], **COSMOS, "_ts": 1790000100,
    },
    {   # cancelled; price as a numeric string
        "id": "sub-2", "userId": USER_IDS[1], "plan": "Premium", "priceMonthly": "19.99", "status": "cancelled",
        "startDate": "2026-01-15", "endDate": "2026-10-15", "cancelledAt": "2026-09-30T22:10:05.5Z",
        "autoRenew": False, "customer": CUSTOMERS[1], "payment": PAYMENTS[1], **COSMOS, "_ts": 1790000200,
    },
    {   # endDate and cancelledAt absent; customer without country
        "id": "sub-3", "userId": USER_IDS[2], "plan": "Basic", "priceMonthly": 8.99, "status": "active",
        "startDate": "2026-10-31", "autoRenew": True, "customer": CUSTOMERS[2], "payment": PAYMENTS[2],
        **LLM_INTERACTION, **COSMOS, "_ts": 1790000300,
    },
]

EVENT = {
    "userId": USER_IDS[0], "sessionId": "s-1", "contentId": "c-00001", "deviceType": "tv", **COSMOS,
}
PLAYBACK_DOCS = [
    {
        **EVENT, "id": "e-1", "eventType": "play", "timestamp": "2026-10-30T20:15:00.250Z", "positionSec": 12.5,
        "country": "US", "appVersion": "5.2.0", "_ts": 1790000100,
    },
    {   # numbers as numeric strings; country and appVersion absent; just after midnight UTC
        **EVENT, "id": "e-2", "eventType": "buffer", "timestamp": "2026-10-31T00:16:00Z", "positionSec": "30",
        "bufferTimeMs": "1500", "_ts": 1790000200,
    },
    {   # 1500.0 as a whole number; a local offset: the UTC date is the event date
        **EVENT, "id": "e-3", "userId": USER_IDS[1], "deviceType": "mobile", "eventType": "buffer",
        "timestamp": "2026-11-01T01:30:00+02:00", "positionSec": 31, "bufferTimeMs": 1500.0,
        "_ts": 1790000300,
    },
    {
        **EVENT, "id": "e-4", "eventType": "error", "timestamp": "2026-10-30T20:17:00.000Z", "positionSec": 0,
        "errorCode": "DRM_LICENSE", "fatal": True, "appVersion": "5.2.1", **LLM_INTERACTION, "_ts": 1790000400,
    },
]

RECOMMENDATION_DOCS = [
    {
        "id": "r-1", "userId": USER_IDS[0], "timestamp": "2026-10-30T19:00:00.125Z", "algorithm": "collab_filter_v2",
        "surface": "home_row",
        "items": [
            {"contentId": "c-00001", "rank": 1, "score": 0.93},
            {"contentId": "c-00002", "rank": "2", "score": "0.88"},
            {"contentId": "c-00003", "rank": 3.0},
        ],
        **COSMOS, "_ts": 1790000100,
    },
    {
        "id": "r-2", "userId": USER_IDS[2], "timestamp": "2026-10-30T19:05:00Z", "algorithm": "trending",
        "surface": "post_play", "items": [], **LLM_INTERACTION, "_ts": 1790000200,
    },
]


# --- silver rows, container by container --------------------------------------------------------------


def test_content_silver_rows_are_typed(spark):
    expected = spark.createDataFrame(
        [
            ("c-00001", "c-00001", "Night Train", "movie", None, ["Drama", "Thriller"], "en", "PG-13", 2019, 6120,
             1790000100, RUN_ID),
            ("c-00002", "c-00002", "Pilot", "episode", "s-00007", ["Comedy"], "es", "TV-14", 2021, 1500,
             1790000200, RUN_ID),
            ("c-00003", "c-00003", "Deep Blue", "movie", None, ["Documentary"], "hi", "G", 2020, 1500, None, RUN_ID),
        ],
        SILVER["content"],
    )
    assert_silver(silver(spark, "content", CONTENT_DOCS), expected)


def test_subscription_silver_rows_keep_country_and_key_the_user(spark):
    expected = spark.createDataFrame(
        [
            ("sub-1", key(USER_IDS[0]), "Standard", Decimal("13.99"), "active", day("2026-03-01"), None, None, True,
             "US", 1790000100, RUN_ID),
            ("sub-2", key(USER_IDS[1]), "Premium", Decimal("19.99"), "cancelled", day("2026-01-15"),
             day("2026-10-15"), ts("2026-09-30T22:10:05.500"), False, "GB", 1790000200, RUN_ID),
            ("sub-3", key(USER_IDS[2]), "Basic", Decimal("8.99"), "active", day("2026-10-31"), None, None, True,
             None, 1790000300, RUN_ID),
        ],
        SILVER["subscriptions"],
    )
    assert_silver(silver(spark, "subscriptions", SUBSCRIPTION_DOCS), expected)


def test_playback_silver_rows_are_typed_with_a_utc_event_date(spark):
    expected = spark.createDataFrame(
        [
            ("e-1", key(USER_IDS[0]), "s-1", "c-00001", "tv", "play", ts("2026-10-30T20:15:00.250"),
             day("2026-10-30"), 12.5, None, None, None, "US", "5.2.0", 1790000100, RUN_ID),
            ("e-2", key(USER_IDS[0]), "s-1", "c-00001", "tv", "buffer", ts("2026-10-31T00:16:00"),
             day("2026-10-31"), 30.0, 1500, None, None, None, None, 1790000200, RUN_ID),
            ("e-3", key(USER_IDS[1]), "s-1", "c-00001", "mobile", "buffer", ts("2026-10-31T23:30:00"),
             day("2026-10-31"), 31.0, 1500, None, None, None, None, 1790000300, RUN_ID),
            ("e-4", key(USER_IDS[0]), "s-1", "c-00001", "tv", "error", ts("2026-10-30T20:17:00"),
             day("2026-10-30"), 0.0, None, "DRM_LICENSE", True, None, "5.2.1", 1790000400, RUN_ID),
        ],
        SILVER["playback_events"],
    )
    assert_silver(silver(spark, "playback_events", PLAYBACK_DOCS), expected)


def test_recommendation_silver_rows_have_typed_items(spark):
    expected = spark.createDataFrame(
        [
            ("r-1", key(USER_IDS[0]), ts("2026-10-30T19:00:00.125"), day("2026-10-30"), "collab_filter_v2", "home_row",
             [("c-00001", 1, 0.93), ("c-00002", 2, 0.88), ("c-00003", 3, None)], 1790000100, RUN_ID),
            ("r-2", key(USER_IDS[2]), ts("2026-10-30T19:05:00"), day("2026-10-30"), "trending", "post_play", [],
             1790000200, RUN_ID),
        ],
        SILVER["recommendations"],
    )
    assert_silver(silver(spark, "recommendations", RECOMMENDATION_DOCS), expected)


def test_the_library_silver_schemas_are_the_contracts():
    """`SILVER_SCHEMAS`, which `to_silver_rows` conforms to, has the contract's columns in order, with its types
    (`simpleString` leaves nullability out)."""
    library = {container: schema.simpleString() for container, schema in SILVER_SCHEMAS.items()}
    assert library == {container: schema.simpleString() for container, schema in SILVER.items()}


# --- users as a peppered key; no personal or payment data -----------------------------------------


def test_user_key_is_sha256_of_pepper_colon_user_id(spark):
    docs = [
        {**PLAYBACK_DOCS[0], "id": "e-a"},
        {**PLAYBACK_DOCS[0], "id": "e-b", "userId": USER_IDS[1]},
        {**PLAYBACK_DOCS[0], "id": "e-c", "userId": "Mixed-Case-ID"},
    ]
    rows = accepted(parsed(spark, "playback_events", docs))
    # Another pepper gives other keys: the pepper is part of what is hashed.
    keyed = [
        rows.transform(to_silver_rows("playback_events", pepper))
        .select(F.lit(pepper).alias("pepper"), "doc_id", "user_key")
        for pepper in (PEPPER, "other")
    ]
    expected = spark.createDataFrame(
        [
            (pepper, doc_id, key(user_id, pepper))
            for pepper in (PEPPER, "other")
            for doc_id, user_id in (("e-a", USER_IDS[0]), ("e-b", USER_IDS[1]), ("e-c", "Mixed-Case-ID"))
        ],
        "pepper string, doc_id string, user_key string",
    )
    assert_silver(keyed[0].unionByName(keyed[1]), expected)


def test_no_personal_or_payment_data_in_any_silver_column_or_value(spark):
    batches = {
        "subscriptions": SUBSCRIPTION_DOCS,
        "playback_events": PLAYBACK_DOCS,
        "recommendations": RECOMMENDATION_DOCS,
    }
    for container, docs in batches.items():
        rows = silver(spark, container, docs)
        columns = [c.lower() for c in rows.columns]
        assert not [c for c in columns if any(word in c for word in PERSONAL_COLUMN_WORDS)], (container, columns)
        collected = rows.collect()
        assert len(collected) == len(docs), container
        text = json.dumps([row.asDict(recursive=True) for row in collected], default=str)
        leaked = [value for value in PERSONAL_VALUES if value in text]
        assert not leaked, (container, leaked)


# --- one version per id ------------------------------------------------------------------------------


def test_rank_versions_newest_ts_first_null_ts_last_ties_stable(spark):
    def version(doc_id: str, title: str, cosmos_ts: int | None) -> dict:
        doc = {**CONTENT_DOCS[0], "id": doc_id, "contentId": doc_id, "title": title}
        if cosmos_ts is None:
            del doc["_ts"]
        else:
            doc["_ts"] = cosmos_ts
        return doc

    tie_a, tie_b = version("c-4", "A tie", 500), version("c-4", "B tie", 500)
    docs = [
        version("c-1", "v100", 100), version("c-1", "v300", 300), version("c-1", "v200", 200),
        version("c-2", "no _ts", None), version("c-2", "v50", 50),
        version("c-3", "only version, no _ts", None),
        tie_b, tie_a,
    ]
    # A tie on _ts: either may win (documents.md), but always the same one, the smaller xxhash64 of the text.
    hashes = spark.createDataFrame([(json.dumps(tie_a),), (json.dumps(tie_b),)], "raw string")
    hash_a, hash_b = (row[0] for row in hashes.select(F.xxhash64("raw")).collect())
    tie_winner, tie_loser = ("A tie", "B tie") if hash_a < hash_b else ("B tie", "A tie")
    expected_once = [
        ("c-1", "v300", 300, 1), ("c-1", "v200", 200, 2), ("c-1", "v100", 100, 3),
        ("c-2", "v50", 50, 1), ("c-2", "no _ts", None, 2),
        ("c-3", "only version, no _ts", None, 1),
        ("c-4", tie_winner, 500, 1), ("c-4", tie_loser, 500, 2),
    ]
    # The same documents in the opposite order rank the same way.
    ranked = [
        accepted(parsed(spark, "content", order)).transform(rank_versions)
        .select(F.lit(name).alias("order"), "doc_id", "title", "cosmos_ts", "version_rank")
        for name, order in (("given", docs), ("reversed", docs[::-1]))
    ]
    expected = spark.createDataFrame(
        [(name, *row) for name in ("given", "reversed") for row in expected_once],
        "order string, doc_id string, title string, cosmos_ts long, version_rank int",
    )
    assert_silver(ranked[0].unionByName(ranked[1]), expected)


def test_newer_than_keeps_new_ids_and_greater_ts_only(spark):
    schema = "doc_id string, title string, cosmos_ts long"
    stored = spark.createDataFrame(
        [("c-1", "stored", 100), ("c-2", "stored", 100), ("c-3", "stored", 100), ("c-4", "stored", None),
         ("c-5", "stored", 100)],
        schema,
    )
    candidates = spark.createDataFrame(
        [
            ("c-1", "newer", 200),
            ("c-2", "same _ts", 100),
            ("c-3", "older", 50),
            ("c-4", "has _ts, stored has none", 10),
            ("c-5", "no _ts, stored has one", None),
            ("c-6", "new id", 1),
            ("c-7", "new id, no _ts", None),
        ],
        schema,
    )
    expected = spark.createDataFrame(
        [("c-1", "newer", 200), ("c-4", "has _ts, stored has none", 10), ("c-6", "new id", 1),
         ("c-7", "new id, no _ts", None)],
        schema,
    )
    assert_silver(candidates.transform(newer_than(stored)), expected)


# --- run accounting ------------------------------------------------------------------------------------


def test_every_document_read_is_accepted_quarantined_or_a_duplicate(spark):
    """read = accepted + quarantined + duplicates, composed as `pipeline.ingest_container` composes it.

    A document is validated before duplicates are resolved: when the newest version of an id is bad, it is
    quarantined and the newest good version is accepted (our reading; documents.md does not order the two).
    """

    def event(doc_id: str, cosmos_ts: int, **fields) -> str:
        doc = {**PLAYBACK_DOCS[0], "id": doc_id, "_ts": cosmos_ts, **fields}
        return json.dumps({k: v for k, v in doc.items() if v is not ...})

    lines = {
        "e-1 v100": event("e-1", 100),
        "e-1 v300": event("e-1", 300),
        "e-1 v200": event("e-1", 200),
        "e-2 delivered": event("e-2", 100),
        "e-2 redelivered": event("e-2", 100),
        "e-3 newer than stored": event("e-3", 100),
        "e-4 good v100": event("e-4", 100),
        "e-4 bad v200": event("e-4", 200, positionSec=-1),
        "garbled": '{"id": "e-7", "userId": ',
        "e-5 no userId": event("e-5", 100, userId=...),
        "e-6 already stored": event("e-6", 100),
    }
    stored = spark.createDataFrame([("e-3", 50), ("e-6", 100)], "doc_id string, cosmos_ts long")

    read = bronze(spark, "playback_events", list(lines.values()), list(lines.keys()))
    # As the pipeline persists a batch: only the quarantined documents keep their text.
    checked = read.transform(parse_documents("playback_events", AS_OF)).transform(keep_text_of_quarantined)
    bad = quarantined(checked)
    versions = accepted(checked).transform(rank_versions)
    newest = versions.where(F.col("version_rank") == 1)
    kept = newest.transform(to_silver_rows("playback_events", PEPPER)).transform(newer_than(stored))
    duplicates = versions.where(F.col("version_rank") > 1).unionByName(
        newest.join(kept.select("doc_id"), on="doc_id", how="left_anti")
    )

    no_reason = F.lit(None).cast("string").alias("reason")
    outcomes = (
        kept.select(F.lit("accepted").alias("outcome"), "doc_id", "cosmos_ts", no_reason)
        .unionByName(
            bad.select(
                F.lit("quarantined").alias("outcome"),
                F.col("id").alias("doc_id"),
                F.get_json_object("raw", "$._ts").cast("long").alias("cosmos_ts"),
                "reason",
            )
        )
        .unionByName(duplicates.select(F.lit("duplicate").alias("outcome"), "doc_id", "cosmos_ts", no_reason))
    )
    expected_rows = [
        ("accepted", "e-1", 300, None),
        ("accepted", "e-2", 100, None),
        ("accepted", "e-3", 100, None),
        ("accepted", "e-4", 100, None),
        ("quarantined", "e-4", 200, "negative positionSec"),
        ("quarantined", None, None, "not a valid JSON object"),
        ("quarantined", "e-5", 100, "missing required field userId"),
        ("duplicate", "e-1", 200, None),
        ("duplicate", "e-1", 100, None),
        ("duplicate", "e-2", 100, None),
        ("duplicate", "e-6", 100, None),
    ]
    expected = spark.createDataFrame(expected_rows, "outcome string, doc_id string, cosmos_ts long, reason string")
    # Exactly one outcome per document read: 11 read = 4 accepted + 3 quarantined + 4 duplicates.
    assert_silver(outcomes, expected)
    assert read.count() == len(expected_rows) == 11
