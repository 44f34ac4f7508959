"""Tests for the synthetic document generator (pure Python, no Spark).

Good documents are checked against an independent reading of documents.md (`contract_errors`
below), so a generator bug that emits an invalid "good" document, or a "bad" document that the
contract would accept, fails here.
"""
from __future__ import annotations

import gzip
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from dataflix_spark.generate import BAD_KINDS, CONTAINERS, COUNTRIES, MANIFEST, UNKNOWN_CONTENT_ID, generate

END = date(2026, 10, 31)
ALL_KINDS = {kind for kinds in BAD_KINDS.values() for kind in kinds}
CONTRACT_KINDS = {
    "missing_field", "null_field", "wrong_type", "bad_timestamp", "bad_date", "bad_enum", "buffer_without_time",
    "negative_buffer_time", "negative_position", "negative_price", "non_positive_duration", "timestamp_too_old",
    "timestamp_in_future", "end_before_start", "invalid_json",
}
SYSTEM = ("_rid", "_self", "_etag", "_attachments", "_ts")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$")
ENUMS = {
    "contentType": {"movie", "episode"},
    "plan": {"Basic", "Standard", "Premium"},
    "status": {"active", "cancelled"},
    "deviceType": {"mobile", "tv", "web", "tablet", "console"},
    "eventType": {"start", "play", "pause", "buffer", "error", "stop"},
}
# Contract types of the required fields (documents.md); "?" marks the null-able ones.
FIELDS = {
    "content": {"id": "str", "contentId": "str", "title": "str", "contentType": "str", "seriesId": "str?",
                "genres": "list", "language": "str", "maturityRating": "str", "releaseYear": "int",
                "durationSec": "int"},
    "subscriptions": {"id": "str", "userId": "str", "plan": "str", "priceMonthly": "num", "status": "str",
                      "startDate": "date", "endDate": "date?", "cancelledAt": "ts?", "autoRenew": "bool",
                      "customer": "dict", "payment": "dict"},
    "playback_events": {"id": "str", "userId": "str", "sessionId": "str", "contentId": "str", "deviceType": "str",
                        "eventType": "str", "timestamp": "ts", "positionSec": "num"},
    "recommendations": {"id": "str", "userId": "str", "timestamp": "ts", "algorithm": "str", "surface": "str",
                        "items": "list"},
}


# --- an independent reading of the contract --------------------------------------------------------

def _parse_ts(text) -> datetime | None:
    if not isinstance(text, str) or not TIMESTAMP.match(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _parse_date(text) -> date | None:
    try:
        return date.fromisoformat(text) if isinstance(text, str) and len(text) == 10 else None
    except ValueError:
        return None


def _type_ok(kind: str, value) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return {
        "str": isinstance(value, str),
        "int": number and float(value).is_integer(),
        "num": number,
        "bool": isinstance(value, bool),
        "list": isinstance(value, list),
        "dict": isinstance(value, dict),
        "date": _parse_date(value) is not None,
        "ts": _parse_ts(value) is not None,
    }[kind]


def contract_errors(container: str, doc: dict, as_of: date) -> list[str]:
    """Every rule of documents.md the document breaks (empty: accepted)."""
    errors = []
    for name, kind in FIELDS[container].items():
        value = doc.get(name)
        if value is None:
            if not kind.endswith("?"):
                errors.append(f"missing {name}")
        elif not _type_ok(kind.rstrip("?"), value):
            errors.append(f"wrong type {name}")
    if errors:
        return errors
    for name, values in ENUMS.items():
        if name in doc and doc[name] not in values:
            errors.append(f"enum {name}")
    errors += _RULES[container](doc, as_of)
    return errors


def _content_rules(doc: dict, as_of: date) -> list[str]:
    errors = []
    if doc["durationSec"] <= 0:
        errors.append("durationSec <= 0")
    if not doc["genres"] or not all(isinstance(g, str) for g in doc["genres"]):
        errors.append("genres")
    return errors


def _subscription_rules(doc: dict, as_of: date) -> list[str]:
    errors = []
    if doc["priceMonthly"] < 0:
        errors.append("negative price")
    if doc["endDate"] is not None and _parse_date(doc["endDate"]) < _parse_date(doc["startDate"]):
        errors.append("end before start")
    return errors


def _time_rules(doc: dict, as_of: date) -> list[str]:
    ts = _parse_ts(doc["timestamp"])
    if ts < datetime(2000, 1, 1, tzinfo=timezone.utc):
        return ["too old"]
    if ts.date() > as_of + timedelta(days=1):
        return ["in the future"]
    return []


def _event_rules(doc: dict, as_of: date) -> list[str]:
    errors = _time_rules(doc, as_of)
    if doc["positionSec"] < 0:
        errors.append("negative position")
    if doc["eventType"] == "buffer":
        value = doc.get("bufferTimeMs")
        if value is None:
            errors.append("buffer without time")
        elif not _type_ok("int", value):
            errors.append("wrong type bufferTimeMs")
        elif value < 0:
            errors.append("negative buffer time")
    if doc["eventType"] == "error" and (not isinstance(doc.get("errorCode"), str)
                                        or not isinstance(doc.get("fatal"), bool)):
        errors.append("error without errorCode/fatal")
    return errors


def _recommendation_rules(doc: dict, as_of: date) -> list[str]:
    errors = _time_rules(doc, as_of)
    for item in doc["items"]:
        if not isinstance(item, dict) or not isinstance(item.get("contentId"), str) \
                or not _type_ok("int", item.get("rank")) or item["rank"] < 1 or not _type_ok("num", item.get("score")):
            errors.append("bad item")
    return errors


_RULES = {"content": _content_rules, "subscriptions": _subscription_rules, "playback_events": _event_rules,
          "recommendations": _recommendation_rules}


# --- reading the output ------------------------------------------------------------------------------

def read_lines(out: Path, container: str) -> list[str]:
    lines = []
    for path in sorted((out / container).iterdir()):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            lines += [line.rstrip("\n") for line in f]
    return lines


def split_documents(out: Path, container: str) -> tuple[list[dict], list[dict], int]:
    """(good documents, bad documents that parse, lines that are not JSON)."""
    good, bad, invalid = [], [], 0
    for line in read_lines(out, container):
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            invalid += 1
            continue
        (bad if "-bad-" in str(doc.get("id")) else good).append(doc)
    return good, bad, invalid


def newest(docs: list[dict]) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for doc in docs:
        if doc["id"] not in latest or doc["_ts"] > latest[doc["id"]]["_ts"]:
            latest[doc["id"]] = doc
    return latest


def sessions_of(events: list[dict]) -> dict[str, list[dict]]:
    by_session = defaultdict(list)
    for doc in newest(events).values():
        by_session[doc["sessionId"]].append(doc)
    for docs in by_session.values():
        docs.sort(key=lambda d: (d["timestamp"], d["id"]))
    return by_session


# --- fixtures ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("generated")
    return out, generate(out, users=60, days=6, seed=7, bad_rate=0.02, duplicate_rate=0.05, end_date=END)


@pytest.fixture(scope="module")
def parsed(sample) -> dict[str, tuple[list[dict], list[dict], int]]:
    out, _ = sample
    return {c: split_documents(out, c) for c in CONTAINERS}


# --- layout, determinism -------------------------------------------------------------------------------

def test_layout_one_file_per_day_and_a_manifest(sample):
    out, summary = sample
    days = [(END - timedelta(days=n)).isoformat() for n in range(5, -1, -1)]
    assert sorted(p.name for p in (out / "content").iterdir()) == ["content.jsonl"]
    assert sorted(p.name for p in (out / "subscriptions").iterdir()) == ["subscriptions.jsonl"]
    assert sorted(p.name for p in (out / "playback_events").iterdir()) == [f"events-{d}.jsonl" for d in days]
    assert sorted(p.name for p in (out / "recommendations").iterdir()) == [f"recommendations-{d}.jsonl"
                                                                         for d in days]
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["counts"] == summary.counts
    assert manifest["bad"] == summary.bad
    assert manifest["duplicates"] == summary.duplicates
    assert manifest["end_date"] == "2026-10-31"
    assert summary.end_date == END and summary.out_dir == str(out)


def test_counts_match_the_lines_written(sample):
    out, summary = sample
    for container in CONTAINERS:
        assert summary.counts[container] == len(read_lines(out, container)), container


def _file_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_arguments_give_identical_bytes(tmp_path):
    args = dict(users=30, days=3, seed=11, bad_rate=0.05)
    generate(tmp_path / "a", **args)
    generate(tmp_path / "b", **args)
    assert _file_bytes(tmp_path / "a") == _file_bytes(tmp_path / "b")
    generate(tmp_path / "c", **{**args, "seed": 12})
    assert _file_bytes(tmp_path / "a") != _file_bytes(tmp_path / "c")


def test_gzip_variant_is_deterministic_and_holds_the_same_lines(tmp_path):
    args = dict(users=30, days=3, seed=5)
    generate(tmp_path / "plain", **args)
    summary = generate(tmp_path / "gz", gzip_files=True, **args)
    generate(tmp_path / "gz2", gzip_files=True, **args)
    assert _file_bytes(tmp_path / "gz") == _file_bytes(tmp_path / "gz2")
    assert all(name.endswith(".jsonl.gz") for name in _file_bytes(tmp_path / "gz") if name != MANIFEST)
    for container in CONTAINERS:
        assert read_lines(tmp_path / "gz", container) == read_lines(tmp_path / "plain", container)
        assert summary.counts[container] == len(read_lines(tmp_path / "gz", container))


def test_rerun_into_the_same_folder_replaces_the_previous_files(tmp_path):
    generate(tmp_path, users=20, days=4, seed=1)
    generate(tmp_path, users=20, days=2, seed=1, gzip_files=True)
    assert len(list((tmp_path / "playback_events").iterdir())) == 2
    assert not list(tmp_path.rglob("*.jsonl"))


def test_bad_rate_does_not_change_the_good_documents(tmp_path):
    generate(tmp_path / "clean", users=30, days=3, seed=3, bad_rate=0.0)
    generate(tmp_path / "dirty", users=30, days=3, seed=3, bad_rate=0.1)
    for container in CONTAINERS:
        clean, bad, invalid = split_documents(tmp_path / "clean", container)
        dirty, _, _ = split_documents(tmp_path / "dirty", container)
        assert not bad and not invalid
        assert sorted(map(json.dumps, clean)) == sorted(map(json.dumps, dirty))


def test_progress_gets_one_line_per_day(tmp_path):
    lines: list[str] = []
    generate(tmp_path, users=10, days=3, progress=lines.append)
    assert [line[:10] for line in lines] == ["2026-10-29", "2026-10-30", "2026-10-31"]


@pytest.mark.parametrize("kwargs", [dict(days=0), dict(titles=0), dict(bad_rate=1.5), dict(users=-1),
                                    dict(days=10_000)])
def test_rejects_impossible_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        generate(tmp_path, **kwargs)


# --- bad documents -------------------------------------------------------------------------------------

def test_every_bad_kind_is_injected_and_counted(sample, parsed):
    _, summary = sample
    assert ALL_KINDS == CONTRACT_KINDS
    injected = Counter()
    for container in CONTAINERS:
        injected.update(summary.bad[container])
    assert set(injected) == CONTRACT_KINDS
    for container in CONTAINERS:
        good, bad, invalid = parsed[container]
        assert invalid == summary.bad[container].get("invalid_json", 0)
        assert len(bad) + invalid == sum(summary.bad[container].values())


def test_every_kind_appears_even_at_a_low_rate(tmp_path):
    summary = generate(tmp_path, users=20, days=2, bad_rate=0.001)
    assert {kind for kinds in summary.bad.values() for kind in kinds} == CONTRACT_KINDS


def test_no_bad_documents_when_the_rate_is_zero(tmp_path):
    summary = generate(tmp_path, users=20, days=2, bad_rate=0.0)
    assert summary.bad == {c: {} for c in CONTAINERS}


def test_bad_documents_break_the_contract_and_have_fresh_ids(parsed):
    for container in CONTAINERS:
        good, bad, _ = parsed[container]
        good_ids = {d["id"] for d in good}
        assert bad, container
        for doc in bad:
            assert contract_errors(container, doc, END), (container, doc)
        bad_ids = [d["id"] for d in bad]
        assert len(set(bad_ids)) == len(bad_ids) and not set(bad_ids) & good_ids


def test_invalid_json_lines_are_truncated_documents(sample):
    out, _ = sample
    broken = []
    for container in CONTAINERS:
        for line in read_lines(out, container):
            try:
                json.loads(line)
            except json.JSONDecodeError:
                broken.append(line)
    assert broken and all(line.startswith('{"id":') for line in broken)


# --- good documents ------------------------------------------------------------------------------------

def test_good_documents_satisfy_the_contract(parsed):
    for container in CONTAINERS:
        good, _, _ = parsed[container]
        assert good, container
        for doc in good:
            assert contract_errors(container, doc, END) == [], (container, doc)
            assert all(name in doc for name in SYSTEM)
            assert isinstance(doc["_ts"], int)


def test_no_good_event_after_the_end_date_or_before_the_window(parsed):
    first = datetime(2026, 10, 26, tzinfo=timezone.utc)
    last = datetime(2026, 10, 31, 23, 59, 59, 999000, tzinfo=timezone.utc)
    for container in ("playback_events", "recommendations"):
        stamps = [_parse_ts(d["timestamp"]) for d in parsed[container][0]]
        assert first - timedelta(minutes=15) <= min(stamps) and max(stamps) <= last


def test_ts_follows_the_document_time(parsed):
    for container in ("playback_events", "recommendations"):
        for doc in parsed[container][0]:
            delay = doc["_ts"] - _parse_ts(doc["timestamp"]).timestamp()
            assert -1 < delay < 2 * 86400, doc


def test_duplicates_repeat_an_id_at_about_the_requested_rate(sample, parsed):
    _, summary = sample
    for container in CONTAINERS:
        good = parsed[container][0]
        repeats = len(good) - len({d["id"] for d in good})
        assert repeats == summary.duplicates[container], container
    events = parsed["playback_events"][0]
    distinct = {d["id"] for d in events}
    assert 0.03 < summary.duplicates["playback_events"] / len(distinct) < 0.07
    copies = defaultdict(list)
    for doc in events:
        copies[doc["id"]].append(doc)
    for docs in copies.values():
        strip = [{k: v for k, v in d.items() if k not in ("_ts", "_etag")} for d in docs]
        assert all(s == strip[0] for s in strip)  # an exact re-delivery


def test_lines_are_not_in_time_order(parsed):
    stamps = [d["timestamp"] for d in parsed["playback_events"][0]]
    assert stamps != sorted(stamps)


def test_some_documents_carry_unknown_fields(tmp_path):
    generate(tmp_path, users=100, days=5, seed=2)
    known = {c: set(FIELDS[c]) | set(SYSTEM) | {"bufferTimeMs", "errorCode", "fatal", "country", "appVersion"}
             for c in CONTAINERS}
    extra = Counter()
    for container in CONTAINERS:
        for doc in split_documents(tmp_path, container)[0]:
            extra.update(set(doc) - known[container])
    assert "llmInteraction" in extra


# --- content and subscriptions ---------------------------------------------------------------------------

def test_content_has_movies_series_and_newer_versions(parsed):
    docs = parsed["content"][0]
    latest = newest(docs)
    assert len(latest) == 60 and sorted(latest)[0] == "c-00001"
    types = Counter(d["contentType"] for d in latest.values())
    assert types["movie"] and types["episode"]
    for doc in latest.values():
        if doc["contentType"] == "movie":
            assert doc["seriesId"] is None and 80 * 60 <= doc["durationSec"] <= 150 * 60
        else:
            assert re.fullmatch(r"s-\d{4}", doc["seriesId"]) and 20 * 60 <= doc["durationSec"] <= 60 * 60
        assert 1 <= len(doc["genres"]) <= 3 and 1970 <= doc["releaseYear"] <= 2026
    versions = defaultdict(list)
    for doc in docs:
        versions[doc["id"]].append(doc)
    updated = [v for v in versions.values() if len(v) > 1]
    assert updated
    for old, new in updated:  # file order: the original first
        assert new["_ts"] > old["_ts"] and new["title"] != old["title"]
    assert UNKNOWN_CONTENT_ID not in latest


def test_cancellations_are_newer_versions(parsed):
    docs = parsed["subscriptions"][0]
    versions = defaultdict(list)
    for doc in docs:
        versions[doc["id"]].append(doc)
    cancelled = [v for v in versions.values() if len(v) == 2]
    assert cancelled
    for active, later in cancelled:
        assert active["status"] == "active" and active["endDate"] is None and active["cancelledAt"] is None
        assert later["status"] == "cancelled" and later["_ts"] > active["_ts"]
        cancelled_at = _parse_ts(later["cancelledAt"])
        assert _parse_date(later["endDate"]) > cancelled_at.date()
        assert cancelled_at <= datetime(2026, 10, 31, 23, 59, 59, 999000, tzinfo=timezone.utc)
        unchanged = set(FIELDS["subscriptions"]) - {"status", "endDate", "cancelledAt", "autoRenew"}
        assert all(later[k] == active[k] for k in unchanged) and later["_rid"] == active["_rid"]
    assert all(len(v) <= 2 for v in versions.values())


def test_no_user_holds_two_subscriptions_at_once(parsed):
    by_user = defaultdict(list)
    for doc in newest(parsed["subscriptions"][0]).values():
        end = _parse_date(doc["endDate"]) if doc["endDate"] else date.max
        by_user[doc["userId"]].append((_parse_date(doc["startDate"]), end))
    assert any(len(periods) > 1 for periods in by_user.values())  # some came back
    for periods in by_user.values():
        periods.sort()
        for (_, end), (next_start, _) in zip(periods, periods[1:]):
            assert next_start >= end


def test_subscriptions_look_like_a_real_customer_base(tmp_path):
    generate(tmp_path, users=400, days=1, seed=9)
    latest = newest(split_documents(tmp_path, "subscriptions")[0])
    users = {d["userId"] for d in latest.values()}
    assert 0.78 < len(users) / 400 < 0.92
    plans = Counter(d["plan"] for d in latest.values())
    assert plans["Standard"] > plans["Basic"] > plans["Premium"] * 0.8
    assert {d["priceMonthly"] for d in latest.values()} == {9.99, 15.49, 22.99}
    starts = [_parse_date(d["startDate"]) for d in latest.values()]
    assert min(starts) >= END - timedelta(days=365) and max(starts) <= END
    assert any(s.day >= 29 for s in starts)
    assert all(d["payment"]["method"] in ("card", "paypal") and d["customer"]["email"].count("@") == 1
               for d in latest.values())


# --- sessions and recommendations ----------------------------------------------------------------------

def test_sessions_play_like_a_player(parsed):
    sessions = sessions_of(parsed["playback_events"][0])
    assert len(sessions) > 50
    for session_id, events in sessions.items():
        types = [e["eventType"] for e in events]
        assert types[0] == "start", types
        assert len({(e["userId"], e["contentId"], e["deviceType"]) for e in events}) == 1
        positions = [e["positionSec"] for e in events]
        assert positions == sorted(positions)  # the playhead only moves forward
        if "stop" in types:
            assert types.index("stop") == len(types) - 1
        fatal = [e for e in events if e["eventType"] == "error" and e["fatal"]]
        if fatal:
            assert types[-1] == "error" and "stop" not in types


def test_a_user_never_watches_two_sessions_at_once(parsed):
    spans = defaultdict(list)
    for events in sessions_of(parsed["playback_events"][0]).values():
        spans[events[0]["userId"]].append((events[0]["timestamp"], events[-1]["timestamp"]))
    for user_spans in spans.values():
        user_spans.sort()
        for (_, end), (next_start, _) in zip(user_spans, user_spans[1:]):
            assert next_start > end


def test_every_event_type_and_device_occurs(tmp_path):
    summary = generate(tmp_path, users=300, days=3, seed=4)
    events = split_documents(tmp_path, "playback_events")[0]
    assert {e["eventType"] for e in events} == ENUMS["eventType"]
    assert {e["deviceType"] for e in events} == ENUMS["deviceType"]
    assert {e["fatal"] for e in events if e["eventType"] == "error"} == {True, False}
    unknown = {e["id"] for e in events if e["contentId"] == UNKNOWN_CONTENT_ID}
    assert unknown and len(unknown) == summary.unknown_content_events


def test_session_outcomes_have_realistic_shares(tmp_path):
    generate(tmp_path, users=500, days=4, seed=6)
    events = split_documents(tmp_path, "playback_events")[0]
    durations = {d["id"]: d["durationSec"] for d in newest(split_documents(tmp_path, "content")[0]).values()}
    sessions = sessions_of(events)
    outcome = Counter()
    for events_of in sessions.values():
        types = {e["eventType"] for e in events_of}
        fatal = any(e.get("fatal") for e in events_of)
        outcome["fatal"] += fatal
        outcome["ebvs"] += "play" not in types and "error" not in types
        outcome["abandoned"] += not fatal and "stop" not in types
        duration = durations.get(events_of[0]["contentId"])
        outcome["completed"] += duration is not None and \
            max(e["positionSec"] for e in events_of) >= 0.9 * duration
    shares = {k: v / len(sessions) for k, v in outcome.items()}
    assert 0.01 < shares["fatal"] < 0.04 and 0.015 < shares["ebvs"] < 0.05
    assert 0.03 < shares["abandoned"] < 0.09 and 0.2 < shares["completed"] < 0.6
    devices = Counter(e[0]["deviceType"] for e in sessions.values())
    assert devices.most_common(1)[0][0] == "tv"
    buffers = [e["bufferTimeMs"] for e in events if e["eventType"] == "buffer"]
    assert min(buffers) >= 100 and sorted(buffers)[len(buffers) // 2] < 3000
    offsets = {country: minutes for country, _, minutes in COUNTRIES}
    local_hours = [(_parse_ts(e[0]["timestamp"]) + timedelta(minutes=offsets[e[0]["country"]])).hour
                   for e in sessions.values() if "country" in e[0]]
    evening = sum(18 <= h <= 23 for h in local_hours) / len(local_hours)
    assert evening > 0.45  # 6 of 24 hours hold about half of the viewing


def test_recommendations_lead_to_plays_for_a_share_of_lists(parsed):
    starts = defaultdict(list)
    for events in sessions_of(parsed["playback_events"][0]).values():
        first = events[0]
        starts[(first["userId"], first["contentId"])].append(_parse_ts(first["timestamp"]))
    lists = list(newest(parsed["recommendations"][0]).values())
    converted = 0
    for doc in lists:
        shown = _parse_ts(doc["timestamp"])
        assert [i["rank"] for i in doc["items"]] == list(range(1, len(doc["items"]) + 1))
        assert 5 <= len(doc["items"]) <= 10 and len({i["contentId"] for i in doc["items"]}) == len(doc["items"])
        converted += any(shown <= s <= shown + timedelta(hours=24)
                         for i in doc["items"] for s in starts[(doc["userId"], i["contentId"])])
    assert 0.15 < converted / len(lists) < 0.4


# --- streaming design ------------------------------------------------------------------------------------

def test_events_are_written_to_the_file_of_their_session_start_day(sample, parsed):
    out, _ = sample
    start_day = {sid: e[0]["timestamp"][:10] for sid, e in sessions_of(parsed["playback_events"][0]).items()}
    files_of = defaultdict(set)
    for path in (out / "playback_events").iterdir():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "-bad-" not in str(doc.get("id")) and "sessionId" in doc:
                files_of[doc["sessionId"]].add(path.name[7:17])
    for session_id, days in files_of.items():
        # All in the start day's file, except re-deliveries that arrive a day later.
        assert min(days) == start_day[session_id]
        assert max(days) <= (date.fromisoformat(start_day[session_id]) + timedelta(days=1)).isoformat()


def test_memory_stays_flat_as_events_grow(tmp_path):
    """Peak Python allocations of a run ten times longer stay within a small margin."""
    import tracemalloc

    def peak(days: int) -> int:
        tracemalloc.start()
        generate(tmp_path / str(days), users=150, days=days, seed=1)  # > 500 events a day: full windows
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    short, long = peak(3), peak(15)  # five times the events
    assert long < short * 1.2 and long < 2_000_000


def test_every_good_line_is_compact_json_as_the_json_module_writes_it(sample):
    """Most lines are formatted directly for speed; they must equal what json itself writes."""
    out, _ = sample
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    for container in CONTAINERS:
        for line in read_lines(out, container):
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                continue
            assert encoder.encode(doc) == line
