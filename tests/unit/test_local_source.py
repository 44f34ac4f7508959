"""The local source's file bookkeeping: sizes and times recorded (every container's files in one commit), a changed
file said once per run, and a lakehouse from before those columns existed still read."""
from __future__ import annotations

import logging

from dataflix_spark.lakehouse import CONTAINERS, Lakehouse
from dataflix_spark.sources import NewRows
from dataflix_spark.sources.local_json import (
    Listed, LocalJsonSource, bronze_inventory, record_source_files, warn_changed,
)


def test_a_file_whose_size_or_time_changed_is_one_warning_naming_it(caplog):
    as_read = {"file:/in/content/a.jsonl": (100, 1_000), "file:/in/content/b.jsonl": (50, 2_000)}
    listed = [Listed("file:///in/content/a.jsonl", 100, 1_000),  # unchanged
              Listed("file:///in/content/b.jsonl", 50, 2_500),  # touched: same size, later time
              Listed("file:///in/content/c%20d.jsonl", 10, 3_000)]  # new: not a change
    with caplog.at_level(logging.WARNING, logger="dataflix"):
        warn_changed("content", listed, as_read)
    assert [r.getMessage() for r in caplog.records] == [
        "content: /in/content/b.jsonl changed after it was read (50 bytes then, 50 now); files are identified by "
        "path, so it is not read again: deliver changes as new files"]


def test_sizes_are_recorded_and_a_table_without_them_gains_the_columns(spark, tmp_path):
    lake = Lakehouse(str(tmp_path / "lake"))
    # ops/source_files as written before the size and time columns existed.
    old = spark.createDataFrame([("r1", "content", "file:/in/content/a.jsonl")], "run_id string, container string, "
                                "source_file string")
    old.write.format("delta").save(lake.ops("source_files"))
    spark.createDataFrame([("r1", "x", "file:/in/content/a.jsonl")], "run_id string, raw string, source_file string") \
        .write.format("delta").save(lake.bronze("content"))
    assert bronze_inventory(spark, lake, "content").as_read == {}  # nothing recorded: nothing compared

    record_source_files(spark, lake, [("r2", "content", "file:/in/content/b.jsonl", 50, 2_000)])
    inventory = bronze_inventory(spark, lake, "content")
    assert inventory.as_read == {"file:/in/content/b.jsonl": (50, 2_000)}
    assert inventory.files == {"file:/in/content/a.jsonl", "file:/in/content/b.jsonl"}
    assert spark.read.format("delta").load(lake.ops("source_files")).columns == [
        "run_id", "container", "source_file", "size_bytes", "modified_ms"]


def test_every_containers_files_are_recorded_in_one_commit_and_nothing_taken_writes_nothing(spark, tmp_path):
    lake = Lakehouse(str(tmp_path / "lake"))
    source = LocalJsonSource(str(tmp_path / "in"))
    source.record(spark, lake, [NewRows(None, "0 new files") for _ in CONTAINERS])
    assert not (tmp_path / "lake" / "ops" / "source_files").exists()

    taken = [NewRows(None, "1 new files", record=((f"r{i}", c, f"file:/in/{c}/a.jsonl", 10 + i, 1_000),))
             for i, c in enumerate(CONTAINERS)]
    taken[0] = NewRows(None, "2 new files", record=taken[0].record + (("r0", CONTAINERS[0], "file:/in/x.jsonl", 1, 2),))
    source.record(spark, lake, taken)
    table = spark.read.format("delta").load(lake.ops("source_files"))
    assert sorted(tuple(r) for r in table.collect()) == sorted(row for t in taken for row in t.record)
    history = spark.sql(f"DESCRIBE HISTORY delta.`{lake.ops('source_files')}`").select("version").collect()
    assert [r.version for r in history] == [0]


def test_a_settled_lakehouse_is_not_searched_for_a_killed_runs_bronze_rows(spark, tmp_path):
    """Bronze rows of a run ops/source_files does not list are found by a pass over bronze; a settled lakehouse (its
    tables as the last completed run left them, `last_run.settled`) cannot hold any, so none is made."""
    lake = Lakehouse(str(tmp_path / "lake"))
    record_source_files(spark, lake, [("r1", "content", "file:/in/content/a.jsonl", 10, 1_000)])
    spark.createDataFrame([("r1", "x", "file:/in/content/a.jsonl"), ("killed", "y", "file:/in/content/b.jsonl")],
                          "run_id string, raw string, source_file string").write.format("delta").save(lake.bronze("content"))
    searched = bronze_inventory(spark, lake, "content")
    assert searched.unrecorded == {("killed", "file:/in/content/b.jsonl")}
    assert searched.runs == {"r1", "killed"}
    trusted = bronze_inventory(spark, lake, "content", settled=True)
    assert trusted.unrecorded == frozenset() and trusted.runs == {"r1"}
    assert trusted.files == {"file:/in/content/a.jsonl"}
