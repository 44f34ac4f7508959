"""A small (and a tiny) run is tuned for its fixed costs (short-run JIT, no code generation, few snapshot tasks);
anything else is not."""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import replace

from dataflix_spark import cli
from dataflix_spark.config import Settings, SparkSettings
from dataflix_spark.session import (
    SHORT_RUN_JAVA_OPTIONS,
    driver_java_options,
    short_run_cluster_conf,
    snapshot_partitions,
)
from dataflix_spark.sources.cosmos import documents_kilobytes
from dataflix_spark.sources.local_json import LocalJsonSource


def test_a_short_run_gets_the_short_run_jit_and_keeps_the_log_settings():
    options = driver_java_options(short_run=True)
    assert options.startswith("-Dlog4j2.configurationFile=")
    assert all(option in options.split() for option in SHORT_RUN_JAVA_OPTIONS)


def test_a_long_run_keeps_the_default_jit():
    options = driver_java_options(short_run=False).split()
    assert len(options) == 1 and options[0].startswith("-Dlog4j2.configurationFile=")


def test_a_short_run_on_a_cluster_gives_its_executors_the_short_run_jit_too():
    assert short_run_cluster_conf("spark://127.0.0.1:7077", True) == {
        "spark.executor.extraJavaOptions": " ".join(SHORT_RUN_JAVA_OPTIONS)}
    assert short_run_cluster_conf("spark://127.0.0.1:7077", False) == {}
    assert short_run_cluster_conf("local[2]", True) == {}  # no executors of their own
    assert short_run_cluster_conf(None, True) == {}


def test_snapshot_tasks_are_few_on_one_machine_and_for_a_short_run_on_a_cluster():
    assert snapshot_partitions("local[2]", False, 2) == min(os.cpu_count() or 2, 8)
    assert snapshot_partitions("spark://h:7077", True, 2) == 2
    assert snapshot_partitions("spark://h:7077", True, 64) == 8
    assert snapshot_partitions("spark://h:7077", True, 1) == 2
    assert snapshot_partitions("spark://h:7077", False, 64) is None  # a long run on a cluster: Delta's default


def test_small_is_measured_on_the_input_and_bronze(tmp_path):
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "a.jsonl").write_bytes(b"x" * 600)
    (tmp_path / "lake" / "bronze" / "t").mkdir(parents=True)
    (tmp_path / "lake" / "bronze" / "t" / "p.parquet").write_bytes(b"x" * 500)
    assert cli._run_bytes(LocalJsonSource(str(tmp_path / "input")), str(tmp_path / "lake")) == 1_100
    assert cli._below(1_100, 1_101)
    assert not cli._below(1_100, 1_100)


def test_a_run_with_nothing_new_is_sized_as_tiny_and_one_after_a_completed_run_knows_its_new_files(tmp_path):
    from dataflix_spark.ops import last_run
    from dataflix_spark.pipeline import RunOptions

    (tmp_path / "input" / "content").mkdir(parents=True)
    (tmp_path / "input" / "content" / "a.jsonl").write_bytes(b"x" * 600)
    (tmp_path / "lake" / "bronze" / "content").mkdir(parents=True)
    (tmp_path / "lake" / "bronze" / "content" / "p.parquet").write_bytes(b"x" * 500)
    (tmp_path / "lake" / "ops" / "run_log" / "_delta_log").mkdir(parents=True)
    (tmp_path / "lake" / "ops" / "run_log" / "_delta_log" / f"{0:020d}.json").write_text("{}")
    opts = RunOptions(str(tmp_path / "input"), str(tmp_path / "lake"), dt.date(2026, 10, 31), "p")
    assert (cli._work_bytes(opts), cli._new_bytes(opts)) == (1_100, None)  # no completed run yet
    last_run.record(opts.lakehouse, last_run.run_state(opts.document_source().offered(), opts.as_of, opts.qoe))
    assert cli._work_bytes(opts) == 0
    assert cli._work_bytes(replace(opts, full_refresh=True)) == 1_100
    assert cli._new_bytes(replace(opts, full_refresh=True)) is None  # gold rebuilt in full

    (tmp_path / "input" / "content" / "b.jsonl").write_bytes(b"x" * 10)
    assert (cli._work_bytes(opts), cli._new_bytes(opts)) == (1_110, 10)  # only the new file is read
    (tmp_path / "input" / "content" / "a.jsonl").write_bytes(b"x" * 700)  # changed in place: not read again
    assert (cli._work_bytes(opts), cli._new_bytes(opts)) == (1_210, 10)
    # Anything beyond the source's documents, and the run may have more to do than its new files.
    assert cli._new_bytes(replace(opts, as_of=dt.date(2026, 11, 1))) is None  # the QoE-business tables rebuilt
    assert cli._new_bytes(replace(opts, input_dir=str(tmp_path / "elsewhere"))) is None
    (tmp_path / "lake" / "ops" / "run_log" / "_delta_log" / f"{1:020d}.json").write_text("{}")  # a table written
    assert cli._new_bytes(opts) is None


def test_an_increment_with_few_new_documents_gets_the_short_run_jit():
    large = cli.SMALL_RUN_BYTES * 70
    assert cli.short_jit(large, 71 * 1000 * 1000)  # the +1 % increment at 11.5M events
    assert not cli.short_jit(large, cli.SMALL_RUN_BYTES)
    assert not cli.short_jit(large, None)  # a first run, or a run that may have more to do than its new files
    assert cli.short_jit(1_000, None)


def test_runs_up_to_the_small_size_get_the_short_run_jit():
    assert cli.is_short_run(0)  # nothing new
    assert cli.is_short_run(67 * 1000 * 1000)  # the demo's input: faster with the quick compiler alone
    assert cli.is_short_run(cli.SMALL_RUN_BYTES - 1)
    assert not cli.is_short_run(cli.SMALL_RUN_BYTES)
    assert not cli.is_short_run(None)  # not measured: a Cosmos DB or remote run keeps the default JIT


def test_a_remote_run_or_one_whose_source_cannot_tell_is_not_measured_and_not_small(tmp_path):
    assert cli._run_bytes(LocalJsonSource("abfss://c@a.dfs.core.windows.net/in"), str(tmp_path)) is None
    assert cli._run_bytes(LocalJsonSource(str(tmp_path)), "abfss://c@a.dfs.core.windows.net/lake") is None
    assert not cli._below(None, cli.SMALL_RUN_BYTES)


def test_the_first_line_says_the_size_and_the_tuning_it_picks():
    assert cli._size_said(None) == "size unknown: tuned for a large run"
    assert cli._size_said(0) == "nothing new to read: a small run"
    assert cli._size_said(1_234_567) == "1.2 MB of documents and bronze: a small run"
    assert cli._size_said(cli.SMALL_RUN_BYTES) == "134.2 MB of documents and bronze"
    large = cli.SMALL_RUN_BYTES * 70
    assert cli._size_said(large, 70_600_000) == "9,395.2 MB of documents and bronze, 70.6 MB new: the short-run JIT"
    assert cli._size_said(large, large) == "9,395.2 MB of documents and bronze, 9,395.2 MB new"


def test_a_cosmos_usage_header_gives_the_documents_kilobytes():
    usage = ("functions=0;storedProcedures=0;triggers=0;documentSize=0;documentsSize=112;documentsCount=33;"
             "collectionSize=129")
    assert documents_kilobytes(usage) == 112  # not documentSize (one document's) nor collectionSize (with indexes)
    assert documents_kilobytes("documentsCount=33") is None
    assert documents_kilobytes(None) is None


def test_code_generation_and_delta_statistics_follow_the_size_unless_the_conf_sets_them(spark, monkeypatch):
    keys = list(cli.SMALL_RUN_SQL)
    assert keys == ["spark.sql.codegen.wholeStage", "spark.sql.codegen.factoryMode",
                    "spark.databricks.delta.stats.collect", "spark.databricks.delta.snapshotPartitions"]
    before = {key: spark.conf.get(key, None) for key in keys}
    monkeypatch.setattr(cli, "_session_values", {})
    try:
        spark.conf.set("spark.databricks.delta.snapshotPartitions", "3")  # as the session was started
        cli._size_settings(spark, Settings(), 1_000)
        assert [spark.conf.get(key) for key in keys] == ["false", "NO_CODEGEN", "false", "1"]
        cli._size_settings(spark, Settings(), cli.TINY_RUN_BYTES)  # the demo's size: interpreted code is slower
        assert [spark.conf.get(key) for key in keys] == ["false", "FALLBACK", "false", "1"]
        cli._size_settings(spark, Settings(), None)  # not measured: a Cosmos DB or remote run
        assert [spark.conf.get(key) for key in keys] == ["true", "FALLBACK", "true", "3"]  # the session's own again
        cli._size_settings(spark, Settings(), 1_000)  # a watching process's next run, small again
        assert [spark.conf.get(key) for key in keys] == ["false", "NO_CODEGEN", "false", "1"]
        chosen = {"spark.sql.codegen.wholeStage": "true", "spark.databricks.delta.stats.collect": "true"}
        for key, value in chosen.items():  # as a session started with them has them
            spark.conf.set(key, value)
        cli._size_settings(spark, Settings(spark=SparkSettings(conf=chosen)), 1_000)
        assert [spark.conf.get(key) for key in keys] == ["true", "NO_CODEGEN", "true", "1"]
    finally:
        for key, value in before.items():
            spark.conf.unset(key) if value is None else spark.conf.set(key, value)


def test_a_session_without_its_own_snapshot_tasks_gets_deltas_default_back_after_a_small_run(spark, monkeypatch):
    key = "spark.databricks.delta.snapshotPartitions"
    before = spark.conf.get(key)
    monkeypatch.setattr(cli, "_session_values", {})
    try:
        spark.conf.unset(key)
        cli._size_settings(spark, Settings(), 1_000)
        assert spark.conf.get(key) == "1"
        cli._size_settings(spark, Settings(), cli.SMALL_RUN_BYTES)
        assert spark.conf.get(key, None) is None or spark.conf.get(key) == "50"  # unset: Delta's default
    finally:
        spark.conf.set(key, before)
