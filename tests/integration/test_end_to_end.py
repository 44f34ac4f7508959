"""`dataflix run` as a user runs it, on generated documents plus hand-made ones, read back with delta-rs."""
from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from dataflix_spark.gold.build import GOLD_TABLES

from tests.integration.built import HAND_USER, sha as _sha


@pytest.fixture(scope="module")
def lakehouse(built_lakehouse):
    return built_lakehouse


def table(lakehouse, path: str) -> DeltaTable:
    return DeltaTable(str(lakehouse["path"] / path))


@pytest.mark.parametrize("name", GOLD_TABLES)
def test_gold_table_is_portable(lakehouse, name):
    dt = table(lakehouse, f"gold/{name}")
    protocol = dt.protocol()
    assert protocol.min_reader_version == 1
    assert dt.metadata().configuration.get("delta.enableDeletionVectors", "false") == "false"
    schema = dt.to_pyarrow_dataset().schema
    nested = [f.name for f in schema if pa.types.is_nested(f.type)]
    assert nested == []
    assert dt.to_pyarrow_table().num_rows > 0


def test_run_log_accounts_for_every_document(lakehouse):
    log = table(lakehouse, "ops/run_log").to_pandas().set_index("container")
    assert sorted(log.index) == ["content", "playback_events", "recommendations", "subscriptions"]
    assert (log["read"] == log["accepted"] + log["quarantined"] + log["duplicates"]).all()
    bad = lakehouse["summary"].bad
    for container in log.index:
        assert log.loc[container, "quarantined"] == sum(bad.get(container, {}).values()), container
    written = lakehouse["summary"].counts
    assert log.loc["playback_events", "read"] == written["playback_events"] + 7
    assert log.loc["subscriptions", "read"] == written["subscriptions"] + 2
    assert "read" in lakehouse["stderr"] and "quarantined" in lakehouse["stderr"]
    # documents.md: an event whose contentId is not in the catalogue is accepted, and counted in the report
    # (this small input may have none; the 11.5M benchmark input has 52,361 and the run log agrees).
    assert log.loc["playback_events", "unknown_content"] == lakehouse["summary"].unknown_content_events


def test_quarantine_holds_each_bad_document_with_a_reason(lakehouse):
    quarantine = table(lakehouse, "ops/quarantine").to_pandas()
    assert len(quarantine) == sum(sum(kinds.values()) for kinds in lakehouse["summary"].bad.values())
    assert quarantine["reason"].str.len().min() > 0
    assert quarantine["raw"].notna().all()


def test_no_personal_data_in_silver_or_gold(lakehouse):
    for layer in ("silver", "gold"):
        for folder in sorted((lakehouse["path"] / layer).iterdir()):
            frame = DeltaTable(str(folder)).to_pandas()
            assert not {"userId", "user_id", "customer", "payment", "email"} & set(frame.columns), folder
            text = frame.astype(str).to_csv()
            assert "@" not in text, folder
            assert HAND_USER not in text and "4242" not in text and "Hand Made" not in text, folder


def test_hand_made_session_row(lakehouse):
    sessions = table(lakehouse, "gold/fact_playback_sessions").to_pandas().set_index("session_id")
    row = sessions.loc["hand-session"]
    assert row["user_key"] == _sha(HAND_USER)
    assert row["device_type"] == "console"
    assert str(row["session_date"]) == "2026-10-20"
    assert row["startup_time_ms"] == 1500
    # plays: 20:00:01.5→20:10:01.5 (600 s) and 20:15:01.5→20:20:01.5 (300 s); rebuffer 20:20:01.5→20:30:01.5 (600 s)
    assert row["rebuffer_count"] == 1 and row["rebuffer_ms"] == 3000
    assert row["watch_time_ms"] == 1_500_000 - 3000
    assert row["pause_count"] == 1 and row["error_count"] == 0
    assert not row["fatal_error"] and not row["exited_before_start"]
    assert row["max_position_sec"] == 1500
    assert row["ended_by"] == "stop"


def test_hand_made_subscription_newest_version(lakehouse):
    subs = table(lakehouse, "gold/fact_subscriptions").to_pandas().set_index("subscription_id")
    row = subs.loc["hand-sub"]
    assert row["status"] == "cancelled" and str(row["end_date"]) == "2026-09-30"
    assert row["country"] == "NZ" and row["user_key"] == _sha(HAND_USER)


def test_gold_tables_agree_with_each_other(lakehouse):
    sessions = table(lakehouse, "gold/fact_playback_sessions").to_pandas()
    qoe = table(lakehouse, "gold/agg_qoe_daily").to_pandas()
    assert qoe["sessions"].sum() == len(sessions)
    monthly = table(lakehouse, "gold/agg_subscriptions_monthly").to_pandas()
    kpi = table(lakehouse, "gold/kpi_monthly").to_pandas()
    assert kpi["revenue"].sum() == monthly["revenue"].sum()
    assert kpi["player_sessions"].sum() == len(sessions[sessions["session_start"] < pd.Timestamp("2026-11-01", tz="UTC")])
    dates = table(lakehouse, "gold/dim_date").to_pandas()["date"]
    assert len(dates) == (dates.max() - dates.min()).days + 1
    # Every date a gold table has (and kpi_monthly's first month from its first day) is a row of dim_date.
    subscriptions = table(lakehouse, "gold/fact_subscriptions").to_pandas()
    lists = table(lakehouse, "gold/agg_recommendations_daily").to_pandas()
    used = [*qoe["date"], *kpi["month"], *subscriptions["start_date"], *subscriptions["end_date"].dropna(),
            *subscriptions["cancelled_at"].dropna().dt.date, *lists["date"]]
    assert dates.min() == min(used) and dates.max() >= max(used), (dates.min(), dates.max(), min(used), max(used))


@pytest.mark.parametrize("name", GOLD_TABLES)
def test_no_gold_value_is_nan_or_infinite(lakehouse, name):
    """metrics.md: a ratio over 0, or a figure not known yet, is null, never NaN or infinite."""
    frame = table(lakehouse, f"gold/{name}").to_pyarrow_table()
    for column in frame.column_names:
        values = frame.column(column)
        if pa.types.is_floating(values.type):
            numbers = values.to_numpy(zero_copy_only=False)
            assert not np.isnan(numbers[~pd.isna(values.to_pandas())]).any(), (name, column, "NaN")
            assert not np.isinf(numbers[~pd.isna(values.to_pandas())]).any(), (name, column, "infinite")


def test_the_as_of_months_churn_is_null_in_both_churn_tables(lakehouse):
    """Whether the as-of month's subscribers stay is not known yet: null in both tables, never 0."""
    as_of_month = pd.Timestamp(lakehouse["as_of"]).replace(day=1).date()
    for name in ("agg_subscriptions_monthly", "agg_qoe_churn_monthly"):
        frame = table(lakehouse, f"gold/{name}").to_pandas()
        current = frame[pd.to_datetime(frame["month"]).dt.date == as_of_month]
        earlier = frame[pd.to_datetime(frame["month"]).dt.date < as_of_month]
        assert len(current) and current["churned"].isna().all() and current["churn_rate"].isna().all(), name
        if name == "agg_subscriptions_monthly":  # zero-filled in every earlier month
            assert len(earlier) and earlier["churned"].notna().all()


def test_the_run_says_what_it_does_and_is_never_silent_for_long(lakehouse):
    """A line before Spark starts, none of Ivy's or Spark's start-up output (in _logs/spark.log instead), a
    line at least every 10 s (stage lines, else a heartbeat), a first run called so, work tables called so."""
    lines = lakehouse["stderr"].splitlines()
    said = r"INFO starting Spark \(local\[2\]; [\d.]+ MB of documents and bronze: a small run\) …$"
    assert re.search(said, lines[0]), lines[:3]
    assert not [line for line in lines if re.search(r"Ivy|::|resolving|artifacts|WARN NativeCodeLoader", line)]
    spark_log = lakehouse["path"] / "_logs" / "spark.log"
    assert f"its own output: {spark_log}" in lakehouse["stderr"] and ":: loading settings" in spark_log.read_text()
    assert re.search(r" INFO run \S+ \(first run\): input ", lakehouse["stderr"])
    assert "work table user_event_country written" in lakehouse["stderr"]
    assert "gold user_event_country" not in lakehouse["stderr"]
    stamps = [datetime.strptime(line[:8], "%H:%M:%S") for line in lines if re.match(r"\d\d:\d\d:\d\d ", line)]
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(stamps, stamps[1:])]
    assert max(gaps) <= 12, max(gaps)  # the heartbeat comes after 10 s; timestamps are to the second
