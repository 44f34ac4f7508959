"""Incremental runs: any sequence of runs gives the gold of one run over everything received."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import socket
from functools import partial
from pathlib import Path

import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataflix_spark.generate import generate
from dataflix_spark.gold.build import GOLD_TABLES, WORK_TABLES
from dataflix_spark.ops.lock import LOCK_NAME, RunLockedError
from dataflix_spark.pipeline import SILVER_PARTITIONS, RunOptions, run
from dataflix_spark.schemas import SILVER_SCHEMAS
from tests.integration import rounds
from tests.integration.built import cancellation_of_an_open_subscription, read_documents
from tests.integration.tables import assert_same_gold, assert_same_table

AS_OF = dt.date(2026, 10, 31)


def _copy(files: list[Path], source: Path, target: Path) -> None:
    for f in files:
        destination = target / f.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, destination)


def _late_documents(folder: Path) -> None:
    """A later file: a cancellation (newer version of an open subscription), a re-delivered event,
    and a late event for an already published session, carrying an unknown new field."""
    cancelled = cancellation_of_an_open_subscription(folder)
    events_file = sorted((folder / "playback_events").iterdir())[0]
    event = next(e for e in read_documents(events_file) if e.get("eventType") == "play" and not e["id"].startswith("e-bad"))
    late = {**event, "id": event["id"] + "-late", "eventType": "pause", "llmInteraction": {"prompt": "hi"}}
    (folder / "subscriptions" / "zz-late.jsonl").write_text(json.dumps(cancelled) + "\n")
    (folder / "playback_events" / "zz-late.jsonl").write_text(json.dumps(event) + "\n" + json.dumps(late) + "\n")


def _event(doc_id: str, session: str, content: str, event_type: str, ts: str, position: float = 0) -> dict:
    return {"id": doc_id, "userId": "u-bridge", "sessionId": session, "contentId": content, "deviceType": "tv",
            "eventType": event_type, "timestamp": ts, "positionSec": position, "_ts": 1793400000}


def _list(doc_id: str, ts: str, items: list[str]) -> dict:
    return {"id": doc_id, "userId": "u-bridge", "timestamp": ts, "algorithm": "trending", "surface": "home_row",
            "items": [{"contentId": c, "rank": i + 1, "score": 0.5} for i, c in enumerate(items)], "_ts": 1793400000}


def _bridging_documents(folder: Path) -> None:
    """One user's sessions and lists across the two batches (the aa- files come first, zz- files later):
    - sessions A and C are 45 min apart (two engagement sessions) until B arrives between them (one);
    - session D gains an earlier `start` that moves it from Oct 30 to Oct 29;
    - a batch-1 list converts through batch-2 session B; a batch-2 list converts through batch-1 session C."""
    first = [
        _event("b-a1", "s-a", "c-00001", "start", "2026-10-29T23:50:00.000Z"),
        _event("b-a2", "s-a", "c-00001", "play", "2026-10-29T23:50:02.000Z"),
        _event("b-a3", "s-a", "c-00001", "stop", "2026-10-30T00:05:00.000Z", 898),
        _event("b-c1", "s-c", "c-00001", "start", "2026-10-30T00:50:00.000Z"),
        _event("b-c2", "s-c", "c-00001", "play", "2026-10-30T00:50:01.000Z"),
        _event("b-c3", "s-c", "c-00001", "stop", "2026-10-30T01:10:00.000Z", 1199),
        _event("b-d1", "s-d", "c-00003", "play", "2026-10-30T00:00:10.000Z"),
        _event("b-d2", "s-d", "c-00003", "stop", "2026-10-30T00:03:00.000Z", 170),
    ]
    later = [
        _event("b-b1", "s-b", "c-00002", "start", "2026-10-30T00:20:00.000Z"),
        _event("b-b2", "s-b", "c-00002", "play", "2026-10-30T00:20:01.000Z"),
        _event("b-b3", "s-b", "c-00002", "stop", "2026-10-30T00:40:00.000Z", 1199),
        _event("b-d0", "s-d", "c-00003", "start", "2026-10-29T23:59:58.000Z"),
    ]
    lines = lambda docs: "".join(json.dumps(d) + "\n" for d in docs)  # noqa: E731
    (folder / "playback_events" / "aa-bridge.jsonl").write_text(lines(first))
    (folder / "playback_events" / "zz-bridge.jsonl").write_text(lines(later))
    (folder / "recommendations" / "aa-bridge.jsonl").write_text(
        lines([_list("r-b1", "2026-10-29T23:00:00.000Z", ["c-00002", "c-00003"])]))
    (folder / "recommendations" / "zz-bridge.jsonl").write_text(
        lines([_list("r-b2", "2026-10-30T00:45:00.000Z", ["c-00001", "c-00009"])]))


def _revised_documents(folder: Path) -> None:
    """Events rewritten in a later batch (a newer `_ts`), added to the bridging files (first and third run):
    - u-revised's latest event with a country (DE) loses its country: FR, an older event's, would be next;
    - u-lone's only event moves to u-revised: u-lone is no longer seen, and its SE becomes u-revised's latest;
    - session s-r5, published on Oct 20 (a day no other document has), gets a late event on Oct 31 in the
      second run (zz-late.jsonl): its Oct 20 events must be read again to rebuild it;
    - u-listonly's only list (no other document) moves to u-revised: u-listonly is no longer seen."""
    def event(doc_id: str, user: str, session: str, ts: str, country: str | None, version: int,
              event_type: str = "start") -> dict:
        doc = {"id": doc_id, "userId": user, "sessionId": session, "contentId": "c-00001", "deviceType": "web",
               "eventType": event_type, "timestamp": ts, "positionSec": 0, "_ts": 1793400000 + version}
        return {**doc, "country": country} if country else doc

    first = [
        event("r-1", "u-revised", "s-r1", "2026-10-29T10:00:00.000Z", "FR", 0),
        event("r-2", "u-revised", "s-r2", "2026-10-30T10:00:00.000Z", "DE", 0),
        event("r-3", "u-lone", "s-r3", "2026-10-29T12:00:00.000Z", "SE", 0),
        event("r-5", "u-revised", "s-r5", "2026-10-20T10:00:00.000Z", None, 0),
        event("r-6", "u-revised", "s-r5", "2026-10-20T10:00:02.000Z", None, 0, "play"),
    ]
    later = [
        event("r-2", "u-revised", "s-r2", "2026-10-30T10:00:00.000Z", None, 100),
        event("r-3", "u-revised", "s-r3", "2026-10-29T12:00:00.000Z", "SE", 100),
    ]
    late = [event("r-7", "u-revised", "s-r5", "2026-10-31T09:00:00.000Z", None, 0, "stop")]
    for name, docs in (("aa-bridge.jsonl", first), ("zz-late.jsonl", late), ("zz-bridge.jsonl", later)):
        with (folder / "playback_events" / name).open("a") as f:
            f.writelines(json.dumps(d) + "\n" for d in docs)

    def shown(user: str, version: int) -> dict:
        return {"id": "rl-1", "userId": user, "timestamp": "2026-10-29T08:00:00.000Z", "algorithm": "trending",
                "surface": "home_row", "items": [{"contentId": "c-00001", "rank": 1, "score": 0.5}],
                "_ts": 1793400000 + version}

    for name, doc in (("aa-bridge.jsonl", shown("u-listonly", 0)), ("zz-bridge.jsonl", shown("u-revised", 100))):
        with (folder / "recommendations" / name).open("a") as f:
            f.write(json.dumps(doc) + "\n")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    source = root / "all"
    generate(str(source), users=30, days=4, seed=11, titles=15, bad_rate=0.03, duplicate_rate=0.05)
    _late_documents(source)
    _bridging_documents(source)
    _revised_documents(source)
    return root, source


def _gold_versions(lakehouse: Path) -> dict[str, int]:
    return {name: DeltaTable(str(lakehouse / "gold" / name)).version() for name in GOLD_TABLES}


def _gold(spark, lakehouse: Path, name: str):
    return spark.read.format("delta").load(str(lakehouse / "gold" / name))


def _options(input_dir: Path, lakehouse: Path, **kwargs) -> RunOptions:
    return RunOptions(input_dir=str(input_dir), lakehouse=str(lakehouse), as_of=AS_OF, pepper="p", **kwargs)


@pytest.fixture(scope="module")
def full_and_incremental(spark, generated):
    """One full run over everything, and the same files in four runs: the first files; the late file
    (a cancellation, so billing changed: the QoE-business tables are rebuilt); the later events and lists,
    which start after the first session date (they update only the days, months and 7-day windows they
    reach); nothing new."""
    root, source = generated
    run(spark, _options(source, root / "full"))

    landing = root / "landing"
    every_file = sorted(p for p in source.rglob("*.jsonl"))
    late = [p for p in every_file if p.name.startswith("zz-")]
    events = sorted(p for p in every_file if p.parent.name == "playback_events" and p not in late)
    first = [p for p in every_file if p not in late and p not in events[3:]]
    cancellation = [p for p in late if p.name == "zz-late.jsonl"]
    _copy(first, source, landing)
    first_counts = run(spark, _options(landing, root / "incremental"))
    _copy(cancellation, source, landing)
    billing_counts = run(spark, _options(landing, root / "incremental"))
    _copy([p for p in every_file if p not in first + cancellation], source, landing)
    second_counts = billing_counts + run(spark, _options(landing, root / "incremental"))
    versions_after_second = _gold_versions(root / "incremental")
    third_counts = run(spark, _options(landing, root / "incremental"))
    return root, first_counts, second_counts, third_counts, versions_after_second


@pytest.mark.parametrize("name", GOLD_TABLES)
def test_incremental_gold_equals_one_full_run(full_and_incremental, name):
    root = full_and_incremental[0]
    assert_same_table(root / "incremental" / "gold" / name, root / "full" / "gold" / name)


@pytest.mark.parametrize("name", WORK_TABLES)
def test_incremental_work_tables_equal_one_full_run(full_and_incremental, name):
    root = full_and_incremental[0]
    assert_same_table(root / "incremental" / "work" / name, root / "full" / "work" / name)


def test_rewritten_events_move_a_users_country_and_remove_a_user(spark, full_and_incremental):
    """u-revised's latest event lost its country and u-lone's only event became u-revised's (_revised_documents)."""
    users = {r["user_key"]: r["country"] for r in _gold(spark, full_and_incremental[0] / "incremental", "dim_user").collect()}
    key = lambda user_id: hashlib.sha256(f"p:{user_id}".encode()).hexdigest()  # noqa: E731
    assert users[key("u-revised")] == "SE"
    assert key("u-lone") not in users


def test_a_list_moved_to_another_user_removes_its_only_user(spark, full_and_incremental):
    """u-listonly's only document, a list, was rewritten for u-revised (_revised_documents)."""
    incremental = full_and_incremental[0] / "incremental"
    users = {r["user_key"] for r in _gold(spark, incremental, "dim_user").collect()}
    key = lambda user_id: hashlib.sha256(f"p:{user_id}".encode()).hexdigest()  # noqa: E731
    assert key("u-revised") in users and key("u-listonly") not in users
    lists = spark.read.format("delta").load(str(incremental / "work" / "recommendation_users"))
    assert lists.where(F.col("user_key") == key("u-listonly")).count() == 0


def test_a_late_event_rebuilds_its_session_from_days_the_run_did_not_touch(spark, full_and_incremental):
    session = _gold(spark, full_and_incremental[0] / "incremental", "fact_playback_sessions").where(
        "session_id = 's-r5'").head()
    assert (str(session["session_start"]), str(session["session_end"])) == (
        "2026-10-20 10:00:00", "2026-10-31 09:00:00")
    assert session["startup_time_ms"] == 2000 and session["ended_by"] == "stop"


def test_later_runs_read_only_new_files(full_and_incremental, generated):
    _, first, second, third, _ = full_and_incremental
    billing, later = {c.container: c for c in second[:4]}, {c.container: c for c in second[4:]}
    assert billing["subscriptions"].read == 1  # only zz-late.jsonl
    assert billing["subscriptions"].accepted == 1  # the cancellation replaced the active version
    assert later["subscriptions"].read == later["content"].read == 0
    assert all(c.read == 0 and c.accepted == 0 for c in third)
    assert all(c.read == c.accepted + c.quarantined + c.duplicates for c in first + second)
    # The re-delivered event in zz-late.jsonl is a duplicate across files.
    assert billing["playback_events"].duplicates >= 1


def test_rerun_without_new_files_leaves_gold_untouched(full_and_incremental):
    root, *_, versions_after_second = full_and_incremental
    assert _gold_versions(root / "incremental") == versions_after_second


def test_second_run_updates_gold_in_place(full_and_incremental):
    """The second run applies silver's changes (MERGE of the touched sessions) instead of rebuilding,
    and leaves untouched tables alone."""
    root = full_and_incremental[0]
    modes = DeltaTable(str(root / "incremental" / "ops" / "gold_state")).to_pandas()
    runs = modes.drop_duplicates("run_id").sort_values("built_at")
    assert list(runs["mode"]) == ["full", "incremental", "incremental"]
    sessions = DeltaTable(str(root / "incremental" / "gold" / "fact_playback_sessions"))
    # Two incremental runs changed events (the late file, then the later events): a MERGE each, each followed
    # by a compaction when the MERGE left more than one file in a day (history is newest first).
    operations = [h["operation"] for h in sessions.history()]
    assert operations[-1] == "WRITE" and operations.count("MERGE") == 2, operations
    assert set(operations) <= {"WRITE", "MERGE", "OPTIMIZE"}, operations
    # Compacted: one file per day partition, as the full build writes.
    days = [uri.split("session_date=")[1].split("/")[0] for uri in sessions.file_uris()]
    assert len(days) == len(set(days))
    assert len(DeltaTable(str(root / "incremental" / "gold" / "dim_content")).history()) == 1
    # Engagement sessions are recomputed near the changed sessions only: the MERGE is pruned to their days.
    engagement = DeltaTable(str(root / "incremental" / "gold" / "fact_engagement_sessions")).history()
    merge = next(h for h in engagement if h["operation"] == "MERGE")
    assert re.search(r"engagement_date#\d+ IN \(", merge["operationParameters"]["predicate"]), merge
    # The last run changed events and lists only: the QoE-business tables replaced some dates and months.
    for name, column in (("agg_qoe_churn_monthly", "month"), ("revenue_at_risk_daily", "date"),
                         ("agg_recommendation_qoe", "date")):
        last = DeltaTable(str(root / "incremental" / "gold" / name)).history(1)[0]
        assert f"{column} IN (DATE" in last["operationParameters"].get("predicate", ""), (name, last)


def test_late_session_bridges_two_engagement_sessions(spark, full_and_incremental):
    root = full_and_incremental[0]
    engagement = _gold(spark, root / "incremental", "fact_engagement_sessions")
    sessions = _gold(spark, root / "incremental", "fact_playback_sessions")
    bridge_user = sessions.where("session_id = 's-b'").select("user_key")
    bridged = engagement.join(bridge_user, "user_key").collect()
    assert [r["player_sessions"] for r in bridged] == [4]  # A, D, B, C in one engagement session
    moved = sessions.where("session_id = 's-d'").head()
    assert str(moved["session_date"]) == "2026-10-29"


def test_silver_events_and_lists_are_partitioned_by_day(full_and_incremental):
    """So that an incremental run reads only the days a change reaches (gold.build `_session_spans`,
    `_lists_shown_on`)."""
    silver = full_and_incremental[0] / "incremental" / "silver"
    assert DeltaTable(str(silver / "playback_events")).metadata().partition_columns == ["event_date"]
    assert DeltaTable(str(silver / "recommendations")).metadata().partition_columns == ["shown_date"]


def test_a_lakehouse_whose_silver_lists_predate_shown_date_gets_the_same_gold(spark, two_rounds, local_rounds,
                                                                              tmp_path, monkeypatch):
    """Silver lists were unpartitioned, without `shown_date`, before 2026-12-07: such a lakehouse's next runs keep
    that table (a MERGE leaves out the column it lacks) and give the gold of one run over everything; a full refresh
    gives it the new layout."""
    landing, lakehouse = tmp_path / "landing", tmp_path / "lakehouse"
    options = partial(RunOptions, str(landing), str(lakehouse), AS_OF, rounds.PEPPER)  # as local_rounds ran
    lists = SILVER_SCHEMAS["recommendations"]
    with monkeypatch.context() as before:  # the code as it was: no such column, no partitions
        before.setitem(SILVER_SCHEMAS, "recommendations", T.StructType([f for f in lists if f.name != "shown_date"]))
        before.setitem(SILVER_PARTITIONS, "recommendations", [])
        shutil.copytree(two_rounds / "round1", landing)
        run(spark, options())
    silver = DeltaTable(str(lakehouse / "silver" / "recommendations"))
    assert "shown_date" not in silver.schema().to_arrow().names and silver.metadata().partition_columns == []

    shutil.copytree(two_rounds / "round2", landing, dirs_exist_ok=True)
    run(spark, options())
    assert_same_gold(lakehouse, local_rounds / "all")
    assert "shown_date" not in DeltaTable(str(lakehouse / "silver" / "recommendations")).schema().to_arrow().names

    run(spark, options(full_refresh=True))
    assert DeltaTable(str(lakehouse / "silver" / "recommendations")).metadata().partition_columns == ["shown_date"]
    assert_same_gold(lakehouse, local_rounds / "all")


def test_unknown_fields_stay_in_bronze(spark, full_and_incremental):
    root = full_and_incremental[0]
    bronze = spark.read.format("delta").load(str(root / "incremental" / "bronze" / "playback_events"))
    assert bronze.where(bronze.raw.contains("llmInteraction")).count() >= 1
    silver = spark.read.format("delta").load(str(root / "incremental" / "silver" / "playback_events"))
    assert "llmInteraction" not in silver.columns


def test_full_refresh_rebuilds_the_same_gold(spark, full_and_incremental):
    root = full_and_incremental[0]
    counts = run(spark, _options(root / "landing", root / "incremental", full_refresh=True))
    assert all(c.read == c.accepted + c.quarantined + c.duplicates for c in counts)
    assert_same_gold(root / "incremental", root / "full")
    quarantine = DeltaTable(str(root / "incremental" / "ops" / "quarantine")).to_pandas()
    full_quarantine = DeltaTable(str(root / "full" / "ops" / "quarantine")).to_pandas()
    assert len(quarantine) == len(full_quarantine)  # replaced, not appended again


def test_a_live_lock_stops_a_second_run(spark, generated, tmp_path):
    _, source = generated
    lakehouse = tmp_path / "locked"
    lakehouse.mkdir()
    (lakehouse / LOCK_NAME).write_text(json.dumps({"run_id": "other", "pid": os.getpid(), "host": socket.gethostname()}))
    with pytest.raises(RunLockedError, match="another dataflix run is using lakehouse"):
        run(spark, _options(source, lakehouse))
    assert not (lakehouse / "bronze").exists()
