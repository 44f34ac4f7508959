"""Silver validation held to the input contract (documents.md, "What counts as a bad document").

Each container gets one batch of bronze rows with one line per case. The case name goes in
`source_file`, so documents with no id (or no JSON) can still be told apart. The expected reasons
come from the contract's rules, worded the way `silver.validate` words them. An accepted document
has no reasons. The required fields and enum values used below are read off documents.md, not
taken from `schemas.py`.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import time

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataflix_spark.bronze.ingest import to_bronze
from dataflix_spark.silver.validate import accepted, parse_documents, quarantined

AS_OF = dt.date(2026, 10, 31)  # events are accepted up to 2026-11-01 23:59:59.999 UTC
RUN_ID = "run-validate"
INGESTED_AT = dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.timezone.utc)

NOT_JSON = "not a valid JSON object"
BAD_ITEM = "an item lacks contentId or a rank >= 1, or has a non-numeric score"
TOO_OLD = "timestamp before 2000-01-01"
TOO_NEW = "timestamp more than one day after the as-of date"

# Every field not marked optional or null-able in documents.md.
REQUIRED = {
    "content": (
        "id", "contentId", "title", "contentType", "genres", "language", "maturityRating", "releaseYear",
        "durationSec",
    ),
    "subscriptions": (
        "id", "userId", "plan", "priceMonthly", "status", "startDate", "autoRenew", "customer", "payment",
    ),
    "playback_events": (
        "id", "userId", "sessionId", "contentId", "deviceType", "eventType", "timestamp", "positionSec",
    ),
    "recommendations": ("id", "userId", "timestamp", "algorithm", "surface", "items"),
}

COSMOS = {
    "_rid": "pZ1aAKp2nBkBAAAAAAAAAA==",
    "_self": "dbs/pZ1aAA==/colls/pZ1aAKp2nBk=/docs/pZ1aAKp2nBkBAAAAAAAAAA==/",
    "_etag": '"0000d51c-0000-0d00-0000-6720f4a00000"',
    "_attachments": "attachments/",
    "_ts": 1793318400,
}
LLM_INTERACTION = {"llmInteraction": {"model": "assist-v3", "prompt_tokens": 812, "tools": ["search"]}}

MOVIE = {
    "id": "c-00001", "contentId": "c-00001", "title": "Night Train", "contentType": "movie", "seriesId": None,
    "genres": ["Drama", "Thriller"], "language": "en", "maturityRating": "PG-13", "releaseYear": 2019,
    "durationSec": 6120, **COSMOS,
}
EPISODE = {
    **MOVIE, "id": "c-00002", "contentId": "c-00002", "title": "Pilot", "contentType": "episode",
    "seriesId": "s-00007", "genres": ["Comedy"], "maturityRating": "TV-14", "durationSec": 1500,
}
ACTIVE = {
    "id": "sub-1", "userId": "u-1", "plan": "Standard", "priceMonthly": 13.99, "status": "active",
    "startDate": "2026-03-01", "endDate": None, "cancelledAt": None, "autoRenew": True,
    "customer": {"name": "Jane Doe", "email": "jane@example.com", "country": "US"},
    "payment": {"method": "card", "cardLast4": "4242"}, **COSMOS,
}
CANCELLED = {
    **ACTIVE, "id": "sub-2", "status": "cancelled", "endDate": "2026-10-01",
    "cancelledAt": "2026-09-14T08:30:00.125Z", "autoRenew": False,
}
PLAY = {
    "id": "e-1", "userId": "u-1", "sessionId": "s-1", "contentId": "c-00001", "deviceType": "tv",
    "eventType": "play", "timestamp": "2026-10-30T20:15:00.250Z", "positionSec": 12.5, "country": "US",
    "appVersion": "5.2.0", **COSMOS,
}
BUFFER = {**PLAY, "id": "e-2", "eventType": "buffer", "bufferTimeMs": 1500}
ERROR = {**PLAY, "id": "e-3", "eventType": "error", "errorCode": "DRM_LICENSE", "fatal": True}
SHOWN = {
    "id": "r-1", "userId": "u-1", "timestamp": "2026-10-30T19:00:00.000Z", "algorithm": "collab_filter_v2",
    "surface": "home_row",
    "items": [{"contentId": "c-00001", "rank": 1, "score": 0.93}, {"contentId": "c-00002", "rank": 2, "score": 0.88}],
    **COSMOS,
}
GOOD = {"content": MOVIE, "subscriptions": ACTIVE, "playback_events": PLAY, "recommendations": SHOWN}

REASONS = T.StructType(
    [
        T.StructField("source_file", T.StringType()),
        T.StructField("reasons", T.ArrayType(T.StringType())),
    ]
)


def changed(doc: dict, **fields) -> dict:
    """The document with some fields replaced; a value of `...` removes the field."""
    merged = {**doc, **fields}
    return {k: v for k, v in merged.items() if v is not ...}


def line(doc: dict) -> str:
    return json.dumps(doc)


def bronze(spark, container: str, lines: list[tuple[str, str]]):
    """Bronze rows from (case name, raw line) pairs; the case name stands in for the source file."""
    source = spark.createDataFrame(lines, "source_file string, raw string")
    return source.transform(to_bronze(container, RUN_ID, INGESTED_AT))


def parse(spark, container: str, cases: list[tuple[str, str, list[str]]]):
    return bronze(spark, container, [(name, raw) for name, raw, _ in cases]).transform(
        parse_documents(container, AS_OF)
    )


def assert_reasons(spark, container: str, cases: list[tuple[str, str, list[str]]]) -> None:
    """Each case's reasons, as a set, against the expected ones; [] means accepted."""
    names = [name for name, _, _ in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    actual = parse(spark, container, cases).select("source_file", F.array_sort("reasons").alias("reasons"))
    expected = spark.createDataFrame([(name, sorted(reasons)) for name, _, reasons in cases], REASONS)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def required_field_cases(container: str) -> list[tuple[str, str, list[str]]]:
    """A required field left out, and the same field present but null."""
    good = GOOD[container]
    cases = []
    for name in REQUIRED[container]:
        reason = [f"missing required field {name}"]
        cases.append((f"{name} missing", line(changed(good, **{name: ...})), reason))
        cases.append((f"{name} null", line(changed(good, **{name: None})), reason))
    return cases


def not_json_cases(container: str) -> list[tuple[str, str, list[str]]]:
    """Lines that are not one JSON object. Spark's JSON functions are lax: the objects followed by more
    text and the single-quoted line used to be accepted as documents."""
    good = GOOD[container]
    text = line(good)
    other = line(changed(good, id="other-id"))
    return [
        ("truncated line", text[:-7], [NOT_JSON]),
        ("free text", "this is not json", [NOT_JSON]),
        ("JSON array line", f"[{text}]", [NOT_JSON]),
        ("JSON string line", json.dumps("a string"), [NOT_JSON]),
        ("JSON number line", "42", [NOT_JSON]),
        ("JSON null line", "null", [NOT_JSON]),
        ("two objects on one line", text + other, [NOT_JSON]),
        ("two objects separated by a comma", f"{text}, {other}", [NOT_JSON]),
        ("object followed by text", f"{text} trailing", [NOT_JSON]),
        ("object with an extra closing brace", text + "}", [NOT_JSON]),
        ("object closing a bracket then text", f"{text}] x", [NOT_JSON]),
        ("single-quoted strings", text.replace('"', "'"), [NOT_JSON]),
        ("trailing comma", text[:-1] + ",}", [NOT_JSON]),
    ]


# --- content ---------------------------------------------------------------------------------------


def test_content_rules(spark):
    cases = [
        ("movie with seriesId null", line(MOVIE), []),
        ("episode with seriesId", line(EPISODE), []),
        ("seriesId absent", line(changed(MOVIE, seriesId=...)), []),
        ("no Cosmos system properties", line({k: v for k, v in MOVIE.items() if not k.startswith("_")}), []),
        ("unknown llmInteraction object", line({**MOVIE, **LLM_INTERACTION}), []),
        ("releaseYear as numeric string", line(changed(MOVIE, releaseYear="2019")), []),
        ("durationSec as numeric string", line(changed(MOVIE, durationSec="1500")), []),
        ("durationSec 1500.0", line(changed(MOVIE, durationSec=1500.0)), []),
        ("durationSec 1", line(changed(MOVIE, durationSec=1)), []),
        ("one genre", line(changed(MOVIE, genres=["Drama"])), []),
        ("releaseYear x", line(changed(MOVIE, releaseYear="x")), ["releaseYear is not a valid int"]),
        ("releaseYear 2019.5", line(changed(MOVIE, releaseYear=2019.5)), ["releaseYear is not a valid int"]),
        ("releaseYear true", line(changed(MOVIE, releaseYear=True)), ["releaseYear is not a valid int"]),
        ("durationSec long", line(changed(MOVIE, durationSec="long")), ["durationSec is not a valid int"]),
        ("durationSec 0", line(changed(MOVIE, durationSec=0)), ["durationSec <= 0"]),
        ("durationSec negative", line(changed(MOVIE, durationSec=-60)), ["durationSec <= 0"]),
        ("durationSec 0 as string", line(changed(MOVIE, durationSec="0")), ["durationSec <= 0"]),
        ("contentType series", line(changed(MOVIE, contentType="series")), ["contentType outside its values"]),
        ("contentType Movie", line(changed(MOVIE, contentType="Movie")), ["contentType outside its values"]),
        ("genres empty", line(changed(MOVIE, genres=[])), ["genres is empty"]),
        ("genres only null", line(changed(MOVIE, genres=[None])), ["genres is empty"]),
        ("genres a string", line(changed(MOVIE, genres="Drama")), ["genres is not an array of strings"]),
        ("genres an object", line(changed(MOVIE, genres={"main": "Drama"})), ["genres is not an array of strings"]),
        *required_field_cases("content"),
        *not_json_cases("content"),
    ]
    assert_reasons(spark, "content", cases)


# --- subscriptions ---------------------------------------------------------------------------------


def test_subscription_rules(spark):
    cases = [
        ("active, endDate and cancelledAt null", line(ACTIVE), []),
        ("cancelled", line(CANCELLED), []),
        ("endDate and cancelledAt absent", line(changed(ACTIVE, endDate=..., cancelledAt=...)), []),
        ("plan Basic", line(changed(ACTIVE, plan="Basic", priceMonthly=8.99)), []),
        ("plan Premium", line(changed(ACTIVE, plan="Premium", priceMonthly=19.99)), []),
        ("endDate equals startDate", line(changed(CANCELLED, endDate=CANCELLED["startDate"])), []),
        ("priceMonthly as numeric string", line(changed(ACTIVE, priceMonthly="13.99")), []),
        ("priceMonthly 0", line(changed(ACTIVE, priceMonthly=0)), []),
        ("cancelledAt without milliseconds", line(changed(CANCELLED, cancelledAt="2026-09-14T08:30:00Z")), []),
        ("paypal without cardLast4", line(changed(ACTIVE, payment={"method": "paypal"})), []),
        ("unknown llmInteraction object", line({**ACTIVE, **LLM_INTERACTION}), []),
        ("priceMonthly free", line(changed(ACTIVE, priceMonthly="free")), ["priceMonthly is not a valid money"]),
        ("priceMonthly negative", line(changed(ACTIVE, priceMonthly=-13.99)), ["negative priceMonthly"]),
        ("autoRenew maybe", line(changed(ACTIVE, autoRenew="maybe")), ["autoRenew is not a valid boolean"]),
        ("autoRenew 1", line(changed(ACTIVE, autoRenew=1)), ["autoRenew is not a valid boolean"]),
        ("startDate 2026-02-30", line(changed(ACTIVE, startDate="2026-02-30")), ["startDate is not a valid date"]),
        ("startDate 03/01/2026", line(changed(ACTIVE, startDate="03/01/2026")), ["startDate is not a valid date"]),
        ("endDate 2026-02-30", line(changed(CANCELLED, endDate="2026-02-30")), ["endDate is not a valid date"]),
        ("endDate a timestamp", line(changed(CANCELLED, endDate="2026-10-01T00:00:00Z")),
         ["endDate is not a valid date"]),
        ("cancelledAt 2026-02-30", line(changed(CANCELLED, cancelledAt="2026-02-30T08:30:00Z")),
         ["cancelledAt is not a valid timestamp"]),
        ("cancelledAt yesterday", line(changed(CANCELLED, cancelledAt="yesterday")),
         ["cancelledAt is not a valid timestamp"]),
        ("plan Gold", line(changed(ACTIVE, plan="Gold")), ["plan outside its values"]),
        ("plan premium", line(changed(ACTIVE, plan="premium")), ["plan outside its values"]),
        ("status paused", line(changed(ACTIVE, status="paused")), ["status outside its values"]),
        ("endDate before startDate", line(changed(CANCELLED, endDate="2026-02-28")), ["endDate before startDate"]),
        ("customer a string", line(changed(ACTIVE, customer="Jane Doe")), ["customer is not a valid object"]),
        ("payment an array", line(changed(ACTIVE, payment=["card"])), ["payment is not a valid object"]),
        *required_field_cases("subscriptions"),
        *not_json_cases("subscriptions"),
    ]
    assert_reasons(spark, "subscriptions", cases)


# --- playback_events -------------------------------------------------------------------------------


def test_playback_event_rules(spark):
    def at(timestamp: str) -> str:
        return line(changed(PLAY, timestamp=timestamp))

    cases = [
        ("play", line(PLAY), []),
        ("buffer", line(BUFFER), []),
        ("error", line(ERROR), []),
        *[(f"eventType {e}", line(changed(PLAY, eventType=e)), []) for e in ("start", "pause", "stop")],
        *[(f"deviceType {d}", line(changed(PLAY, deviceType=d)), []) for d in ("mobile", "web", "tablet", "console")],
        ("country and appVersion absent", line(changed(PLAY, country=..., appVersion=...)), []),
        ("unknown contentId", line(changed(PLAY, contentId="c-99999")), []),
        ("unknown llmInteraction object", line({**PLAY, **LLM_INTERACTION}), []),
        ("no Cosmos system properties", line({k: v for k, v in PLAY.items() if not k.startswith("_")}), []),
        ("bufferTimeMs as numeric string", line(changed(BUFFER, bufferTimeMs="1500")), []),
        ("bufferTimeMs 1500.0", line(changed(BUFFER, bufferTimeMs=1500.0)), []),
        ("bufferTimeMs 0", line(changed(BUFFER, bufferTimeMs=0)), []),
        ("positionSec as numeric string", line(changed(PLAY, positionSec="12.5")), []),
        ("positionSec 0", line(changed(PLAY, positionSec=0)), []),
        ("timestamp without milliseconds", at("2026-10-30T20:15:00Z"), []),
        ("timestamp 2000-01-01T00:00:00Z", at("2000-01-01T00:00:00Z"), []),
        ("timestamp as-of + 1 day 23:59:59Z", at("2026-11-01T23:59:59Z"), []),
        ("timestamp as-of + 1 day 23:59:59.999Z", at("2026-11-01T23:59:59.999Z"), []),
        # 01:30 at +02:00 is 23:30 UTC the day before: the UTC date decides.
        ("timestamp +02:00 on as-of + 2 days local", at("2026-11-02T01:30:00+02:00"), []),
        ("bufferTimeMs fast", line(changed(BUFFER, bufferTimeMs="fast")), ["bufferTimeMs is not a valid long"]),
        ("bufferTimeMs 1500.5", line(changed(BUFFER, bufferTimeMs=1500.5)), ["bufferTimeMs is not a valid long"]),
        ("positionSec abc", line(changed(PLAY, positionSec="abc")), ["positionSec is not a valid double"]),
        ("positionSec NaN", line(changed(PLAY, positionSec="NaN")), ["positionSec is not a valid double"]),
        ("fatal maybe", line(changed(ERROR, fatal="maybe")), ["fatal is not a valid boolean"]),
        ("timestamp 2026-02-30", at("2026-02-30T10:00:00Z"), ["timestamp is not a valid timestamp"]),
        ("timestamp free text", at("yesterday evening"), ["timestamp is not a valid timestamp"]),
        ("timestamp date only", at("2026-10-30"), ["timestamp is not a valid timestamp"]),
        ("timestamp epoch number", line(changed(PLAY, timestamp=1793390100)), ["timestamp is not a valid timestamp"]),
        ("eventType seek", line(changed(PLAY, eventType="seek")), ["eventType outside its values"]),
        ("eventType Play", line(changed(PLAY, eventType="Play")), ["eventType outside its values"]),
        ("deviceType fridge", line(changed(PLAY, deviceType="fridge")), ["deviceType outside its values"]),
        ("buffer without bufferTimeMs", line(changed(BUFFER, bufferTimeMs=...)), ["buffer event without bufferTimeMs"]),
        ("buffer with null bufferTimeMs", line(changed(BUFFER, bufferTimeMs=None)),
         ["buffer event without bufferTimeMs"]),
        ("buffer with negative bufferTimeMs", line(changed(BUFFER, bufferTimeMs=-1)), ["negative bufferTimeMs"]),
        ("negative positionSec", line(changed(PLAY, positionSec=-0.5)), ["negative positionSec"]),
        ("timestamp 1999-12-31T23:59:59.999Z", at("1999-12-31T23:59:59.999Z"), [TOO_OLD]),
        ("timestamp as-of + 2 days 00:00:00Z", at("2026-11-02T00:00:00Z"), [TOO_NEW]),
        ("timestamp next year", at("2027-10-30T20:15:00Z"), [TOO_NEW]),
        # errorCode and fatal are "error only": required on error events (the implementation's reading).
        ("error without errorCode", line(changed(ERROR, errorCode=...)), ["error event without errorCode"]),
        ("error without fatal", line(changed(ERROR, fatal=...)), ["error event without fatal"]),
        *required_field_cases("playback_events"),
        *not_json_cases("playback_events"),
    ]
    assert_reasons(spark, "playback_events", cases)


# --- recommendations -------------------------------------------------------------------------------


def test_recommendation_rules(spark):
    def with_items(*items) -> str:
        return line(changed(SHOWN, items=list(items)))

    def at(timestamp: str) -> str:
        return line(changed(SHOWN, timestamp=timestamp))

    cases = [
        ("two items", line(SHOWN), []),
        ("rank as numeric string", with_items({"contentId": "c-00001", "rank": "1", "score": 0.9}), []),
        ("rank 1.0", with_items({"contentId": "c-00001", "rank": 1.0, "score": 0.9}), []),
        ("score as numeric string", with_items({"contentId": "c-00001", "rank": 1, "score": "0.9"}), []),
        ("unknown llmInteraction object", line({**SHOWN, **LLM_INTERACTION}), []),
        ("unknown item field", with_items({"contentId": "c-00001", "rank": 1, "score": 0.9, "reason": "x"}), []),
        ("timestamp without milliseconds", at("2026-10-30T19:00:00Z"), []),
        ("timestamp 2000-01-01T00:00:00Z", at("2000-01-01T00:00:00Z"), []),
        ("timestamp as-of + 1 day 23:59:59Z", at("2026-11-01T23:59:59Z"), []),
        # Not rules in documents.md, so accepted: an item without a score (contentId and rank identify
        # it) and an empty list (genres says "at least one", items does not).
        ("item without score", with_items({"contentId": "c-00001", "rank": 1}), []),
        ("no items", with_items(), []),
        ("item without contentId", with_items({"rank": 1, "score": 0.9}), [BAD_ITEM]),
        ("item with null contentId", with_items({"contentId": None, "rank": 1, "score": 0.9}), [BAD_ITEM]),
        ("item without rank", with_items({"contentId": "c-00001", "score": 0.9}), [BAD_ITEM]),
        ("item rank 0", with_items({"contentId": "c-00001", "rank": 0, "score": 0.9}), [BAD_ITEM]),
        ("item rank first", with_items({"contentId": "c-00001", "rank": "first", "score": 0.9}), [BAD_ITEM]),
        ("item score high", with_items({"contentId": "c-00001", "rank": 1, "score": "high"}), [BAD_ITEM]),
        ("one good item and one without rank",
         with_items({"contentId": "c-00001", "rank": 1, "score": 0.9}, {"contentId": "c-00002"}), [BAD_ITEM]),
        ("null item", with_items(None), [BAD_ITEM]),
        ("items a string", line(changed(SHOWN, items="c-00001")), ["items is not an array of objects"]),
        ("items numbers", with_items(1, 2), ["items is not an array of objects"]),
        ("items one object, not an array",
         line(changed(SHOWN, items={"contentId": "c-00001", "rank": 1, "score": 0.9})),
         ["items is not an array of objects"]),
        ("timestamp 2026-02-30", at("2026-02-30T19:00:00Z"), ["timestamp is not a valid timestamp"]),
        ("timestamp free text", at("now"), ["timestamp is not a valid timestamp"]),
        ("timestamp 1999-12-31T23:59:59Z", at("1999-12-31T23:59:59Z"), [TOO_OLD]),
        ("timestamp as-of + 2 days 00:00:00Z", at("2026-11-02T00:00:00Z"), [TOO_NEW]),
        *required_field_cases("recommendations"),
        *not_json_cases("recommendations"),
    ]
    assert_reasons(spark, "recommendations", cases)


# --- the event-time window does not depend on the driver's local time zone ---------------------------


def at_play(timestamp: str) -> str:
    return line(changed(PLAY, timestamp=timestamp))


@pytest.fixture
def driver_in_new_york():
    """The Python process' local zone set to UTC-5 (Spark's session zone stays UTC)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_event_time_window_is_utc_whatever_the_driver_time_zone(spark, driver_in_new_york):
    cases = [
        ("1999-12-31T23:59:59Z", at_play("1999-12-31T23:59:59Z"), [TOO_OLD]),
        ("2000-01-01T00:00:00Z", at_play("2000-01-01T00:00:00Z"), []),
        ("2000-01-01T03:00:00Z", at_play("2000-01-01T03:00:00Z"), []),
        ("2026-11-01T23:59:59Z", at_play("2026-11-01T23:59:59Z"), []),
        ("2026-11-02T00:00:00Z", at_play("2026-11-02T00:00:00Z"), [TOO_NEW]),
    ]
    assert_reasons(spark, "playback_events", cases)


# --- the quarantine and accepted outputs ------------------------------------------------------------

QUARANTINE = T.StructType(
    [
        T.StructField("run_id", T.StringType()),
        T.StructField("container", T.StringType()),
        T.StructField("id", T.StringType()),
        T.StructField("raw", T.StringType()),
        T.StructField("reason", T.StringType()),
        T.StructField("source_file", T.StringType()),
    ]
)


def test_quarantined_keeps_container_id_raw_text_and_every_reason(spark):
    good = line(PLAY)
    no_user = line(changed(PLAY, id="e-no-user", userId=...))
    two_faults = line(changed(PLAY, id="e-two-faults", eventType="seek", positionSec=-3))
    no_id = line(changed(PLAY, id=...))
    garbled = good[:25]
    array = f"[{good}]"
    parsed = bronze(
        spark,
        "playback_events",
        [("f-good", good), ("f-no-user", no_user), ("f-two", two_faults), ("f-no-id", no_id),
         ("f-garbled", garbled), ("f-array", array)],
    ).transform(parse_documents("playback_events", AS_OF))

    expected = spark.createDataFrame(
        [
            (RUN_ID, "playback_events", "e-no-user", no_user, "missing required field userId", "f-no-user"),
            (RUN_ID, "playback_events", "e-two-faults", two_faults,
             "eventType outside its values; negative positionSec", "f-two"),
            (RUN_ID, "playback_events", None, no_id, "missing required field id", "f-no-id"),
            (RUN_ID, "playback_events", None, garbled, NOT_JSON, "f-garbled"),
            # A JSON array is not a document: it has no id, even if an object inside it has one.
            (RUN_ID, "playback_events", None, array, NOT_JSON, "f-array"),
        ],
        QUARANTINE,
    )
    assert_df_equality(quarantined(parsed), expected, ignore_row_order=True, ignore_nullable=True)

    accepted_files = accepted(parsed).select("source_file", F.col("doc_id").alias("id"), "raw")
    expected_accepted = spark.createDataFrame(
        [("f-good", "e-1", good)], "source_file string, id string, raw string"
    )
    assert_df_equality(accepted_files, expected_accepted, ignore_row_order=True, ignore_nullable=True)
