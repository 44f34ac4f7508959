"""`dataflix run --source cosmos` against a real Cosmos DB API server (cosmium on 127.0.0.1).

The same documents give the same gold from Cosmos DB as from files; a later run reads exactly the new
versions; a run killed at any point, or a server that dies mid-read, commits nothing half and the next
run is right; the key is in no log, event log or table.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from dataflix_spark.config import CosmosConfig
from dataflix_spark.gold.build import GOLD_TABLES
from dataflix_spark.lakehouse import CONTAINERS
from dataflix_spark.pipeline import RunOptions, run
from dataflix_spark.sources import SourceError
from dataflix_spark.sources.cosmos import (
    COUNTED_DOCUMENT_BYTES,
    CosmosAccount,
    CosmosSource,
    account_bytes,
    container_bytes,
    sdk_client,
)
from dataflix_spark.sources.cosmos_seed import seed
from tests.integration.cosmium import Cosmium
from tests.integration.rounds import AS_OF, PEPPER
from tests.integration.tables import assert_same_gold

# Any base64 text signs requests (cosmium does not check them): unique, so that a leak is found by a search.
KEY = base64.b64encode(b"dataflix-test-key-" + os.urandom(24)).decode()
# A short overlap: the second round is seeded seconds after the first, and its read must still skip the
# first round's versions (by the Spark-side `_ts` filter, since cosmium answers `_ts` filters with everything).
CONFIG = CosmosConfig(emulator=True, overlap_seconds=1, max_retries=1, retry_max_backoff_seconds=0.5)


def _account(server: Cosmium, database: str) -> CosmosAccount:
    return CosmosAccount(endpoint=server.endpoint, database=database, auth_type="key", key=KEY, emulator=True)


def _env(server: Cosmium, database: str) -> dict[str, str]:
    return {**os.environ, "DATAFLIX_PEPPER": PEPPER, "DATAFLIX_COSMOS_ENDPOINT": server.endpoint,
            "DATAFLIX_COSMOS_DATABASE": database, "DATAFLIX_COSMOS_KEY": KEY}


def _conf(folder: Path, **cosmos) -> Path:
    """A --conf file: the test's cosmos settings (and any extra spark conf)."""
    spark_conf = cosmos.pop("spark_conf", {})
    path = folder / f"cosmos-{len(list(folder.glob('cosmos-*.yaml')))}.yaml"
    settings = {"source": "cosmos", "cosmos": {"overlap_seconds": CONFIG.overlap_seconds, "max_retries": 1,
                                               "retry_max_backoff_seconds": 0.5, **cosmos},
                "spark": {"master": "local[2]", "conf": {"spark.ui.enabled": "false", **spark_conf}}}
    path.write_text(json.dumps(settings))  # JSON is YAML
    return path


def _options(lakehouse: Path, source) -> RunOptions:
    return RunOptions(input_dir="", lakehouse=str(lakehouse), as_of=dt.date.fromisoformat(AS_OF),
                      pepper=PEPPER, source=source)


@pytest.fixture(scope="module")
def server():
    cosmium = Cosmium().start()
    yield cosmium
    cosmium.kill()


def _dataflix(*args: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dataflix_spark.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def rounds(request, spark, server, two_rounds, tmp_path_factory):
    """Round one seeded and run as a user does (`dataflix seed`, `dataflix run --source cosmos`, with Spark's event
    log on; the local runs the tests compare with are made in-process meanwhile); then in-process: round two seeded
    and run, and a re-run with nothing new."""
    root = tmp_path_factory.mktemp("cosmos-rounds")
    env = _env(server, "rounds")
    seeded = _dataflix("seed", "--input", str(two_rounds / "round1"), "--cosmos-emulator", env=env, timeout=300)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    lakehouse, events = root / "lakehouse", root / "eventlog"
    events.mkdir()
    conf = _conf(root, spark_conf={"spark.eventLog.enabled": "true", "spark.eventLog.dir": str(events),
                                   "spark.eventLog.compress": "false",  # readable by the test
                                   # Generated code and Delta's per-file statistics, which a small run does
                                   # without, against the in-process runs' interpreted code and tables without
                                   # statistics (tests/conftest.py): the same gold.
                                   "spark.sql.codegen.wholeStage": "true",
                                   "spark.sql.codegen.factoryMode": "FALLBACK",
                                   "spark.databricks.delta.stats.collect": "true"})
    running = subprocess.Popen([sys.executable, "-m", "dataflix_spark.cli", "run", "--source", "cosmos",
                                "--cosmos-emulator", "--lakehouse", str(lakehouse), "--as-of", AS_OF, "--conf", str(conf)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        # Each process leaves part of the two cores idle at times (its start, its commits): together, less waiting.
        request.getfixturevalue("local_rounds")
    finally:
        stdout, stderr = running.communicate(timeout=900)
    first = subprocess.CompletedProcess(running.args, running.returncode, stdout, stderr)
    assert first.returncode == 0, first.stderr[-3000:]
    shutil.copytree(lakehouse, root / "after-round1")

    source = CosmosSource(_account(server, "rounds"), CONFIG)
    time.sleep(1.1)  # round two's `_ts` (seconds) after round one's mark
    second_seed = seed(source.account, str(two_rounds / "round2"), progress=lambda line: None)
    second = run(spark, _options(lakehouse, source))
    versions = {name: DeltaTable(str(lakehouse / "gold" / name)).version() for name in GOLD_TABLES}
    third = run(spark, _options(lakehouse, source))
    return {"root": root, "lakehouse": lakehouse, "first": first, "seeded": seeded, "second": second,
            "second_seed": second_seed, "third": third, "versions": versions, "eventlog": events}


@pytest.mark.parametrize("name", GOLD_TABLES)
def test_first_run_gold_equals_the_local_run_over_the_same_documents(rounds, local_rounds, name):
    assert_same_gold(rounds["root"] / "after-round1", local_rounds / "round1", [name])


@pytest.mark.parametrize("name", GOLD_TABLES)
def test_second_run_gold_equals_a_full_run_over_both_rounds(rounds, local_rounds, name):
    assert_same_gold(rounds["lakehouse"], local_rounds / "all", [name])


def test_second_run_reads_exactly_the_new_versions(rounds):
    stored = {c.container: c.stored for c in rounds["second_seed"]}
    read = {c.container: c.read for c in rounds["second"]}
    assert read == stored, (read, stored)
    assert stored["subscriptions"] == 1 and stored["playback_events"] > 1
    assert all(c.read == c.accepted + c.quarantined + c.duplicates for c in rounds["second"])


def test_a_rerun_reads_nothing_and_changes_nothing(rounds):
    assert all(c.read == c.accepted == c.quarantined == c.duplicates == 0 for c in rounds["third"])
    lakehouse = rounds["lakehouse"]
    assert {name: DeltaTable(str(lakehouse / "gold" / name)).version() for name in GOLD_TABLES} == rounds["versions"]


def test_bronze_keeps_the_document_text_its_ts_and_where_it_came_from(rounds, server):
    bronze = DeltaTable(str(rounds["lakehouse"] / "bronze" / "subscriptions")).to_pandas()
    assert set(bronze["source_file"]) == {f"cosmos://127.0.0.1:{server.port}/rounds/subscriptions"}
    doc = json.loads(bronze["raw"].iloc[0])
    assert doc["_ts"] == bronze["cosmos_ts"].iloc[0] and doc["id"] == bronze["doc_id"].iloc[0]
    # One row per version: the cancellation's older version (round one) and its newer one (round two).
    assert bronze.groupby(["doc_id", "cosmos_ts"]).size().max() == 1


def test_the_run_summary_balances_and_the_marks_are_recorded(rounds):
    log = DeltaTable(str(rounds["lakehouse"] / "ops" / "run_log")).to_pandas()
    assert len(log) == 3 * len(CONTAINERS)
    assert (log["read"] == log["accepted"] + log["quarantined"] + log["duplicates"]).all()
    marks = DeltaTable(str(rounds["lakehouse"] / "ops" / "cosmos_marks")).to_pandas()
    bronze_ts = {c: DeltaTable(str(rounds["lakehouse"] / "bronze" / c)).to_pandas()["cosmos_ts"].max()
                 for c in CONTAINERS}
    assert marks.groupby("container")["high_water_ts"].max().to_dict() == bronze_ts


def test_the_key_is_in_no_log_event_log_or_table(rounds):
    assert KEY not in rounds["first"].stderr + rounds["first"].stdout + rounds["seeded"].stderr
    logs = [p for p in rounds["eventlog"].rglob("*") if p.is_file()]
    assert logs, "Spark wrote no event log"
    text = "".join(path.read_text(errors="replace") for path in logs)
    assert "BatchScan cosmosdb" in text  # the event log does record the Cosmos DB reads' plans
    assert KEY not in text
    for table in sorted(p.parent for p in rounds["lakehouse"].rglob("_delta_log")):
        frame = DeltaTable(str(table)).to_pandas()
        for column in frame.columns:
            assert not frame[column].astype(str).str.contains(KEY, regex=False).any(), (table, column)
    assert not any(KEY.encode() in p.read_bytes() for p in rounds["lakehouse"].rglob("*") if p.is_file())


def test_first_run_prints_its_source_and_one_line_per_stage_without_warnings(rounds):
    stderr = rounds["first"].stderr
    # Sized before Spark starts by the account's document count (an emulator's): a small run.
    said = r"INFO starting Spark \(local\[2\]; [\d.]+ MB of documents and bronze: a small run\) …\n"
    assert re.search(said, stderr), stderr[:500]
    assert "Cosmos DB 127.0.0.1:" in stderr and "/rounds (datasource)" in stderr
    assert "InsecureRequestWarning" not in stderr and "Unverified HTTPS request" not in stderr
    assert "Traceback" not in stderr


def _files_with_statistics(table: Path) -> tuple[int, int]:
    """A Delta table's data files with statistics (a row count), and all of them."""
    counts = pa.table(DeltaTable(str(table)).get_add_actions(flatten=True)).column("num_records").to_pylist()
    return sum(count is not None for count in counts), len(counts)


@pytest.mark.parametrize("name", ["fact_playback_sessions", "agg_qoe_daily"])
def test_the_first_run_kept_statistics_as_its_conf_asks_and_the_small_runs_here_wrote_none(rounds, local_rounds,
                                                                                             name):
    with_statistics, files = _files_with_statistics(rounds["root"] / "after-round1" / "gold" / name)
    assert with_statistics == files > 0  # and its gold equals the local run's (test_first_run_gold_equals_...)
    assert _files_with_statistics(local_rounds / "round1" / "gold" / name)[0] == 0


def test_an_emulator_is_sized_by_its_document_count_and_an_account_that_cannot_tell_is_not(server, two_rounds):
    account = _account(server, "sized")
    stored = sum(c.stored for c in seed(account, str(two_rounds / "round1"), progress=lambda line: None))
    assert account_bytes(account) == stored * COUNTED_DOCUMENT_BYTES
    # cosmium gives no usage figure, and a billed account's documents are never counted: its size is not known.
    content = sdk_client(account, "test").get_database_client("sized").get_container_client("content")
    assert container_bytes(content, emulator=True) > 0 and container_bytes(content, emulator=False) is None
    assert account_bytes(_account(server, "no-such-database")) is None  # the run's read says what is wrong


# --- faults ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crash_database(server, two_rounds):
    """Round one's documents in a database of their own, for the runs that are killed."""
    seed(_account(server, "crash"), str(two_rounds / "round1"), progress=lambda line: None)
    return "crash"


def _kill_when(process: subprocess.Popen, marker: str, timeout: float = 600) -> str:
    """Reads the run's log until `marker` appears, then SIGKILLs its whole process group (Python and JVM)."""
    seen, deadline = [], time.monotonic() + timeout
    for line in process.stderr:
        seen.append(line)
        if marker in line or time.monotonic() > deadline:
            break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    text = "".join(seen)
    assert marker in text, text[-2000:]
    return text


def _start_cosmos_run(server: Cosmium, database: str, lakehouse: Path, conf: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dataflix_spark.cli", "run", "--source", "cosmos", "--cosmos-emulator", "--lakehouse",
         str(lakehouse), "--as-of", AS_OF, "--conf", str(conf)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True,
        env=_env(server, database))


def test_runs_killed_during_the_read_and_after_the_bronze_append_lose_nothing_and_double_nothing(
        spark, server, crash_database, local_rounds, tmp_path):
    """SIGKILL during the Cosmos read (nothing written), then a second run SIGKILLed right after its first bronze
    append (rows in bronze, no mark moved), then a run: the gold of an uninterrupted run, no version twice."""
    lakehouse = tmp_path / "lakehouse"
    # One document a page: the read of a container lasts long enough to be killed in the middle of it.
    slow = _conf(tmp_path, page_size=1)
    _kill_when(_start_cosmos_run(server, crash_database, lakehouse, slow), "playback_events: reading")
    assert not (lakehouse / "bronze").exists() and not (lakehouse / "ops").exists()

    _kill_when(_start_cosmos_run(server, crash_database, lakehouse, _conf(tmp_path)), ": bronze appended")
    appended = [c for c in CONTAINERS if (lakehouse / "bronze" / c / "_delta_log").exists()]
    assert appended and not (lakehouse / "ops" / "cosmos_marks").exists()

    counts = run(spark, _options(lakehouse, CosmosSource(_account(server, crash_database), CONFIG)))
    assert all(c.read == c.accepted + c.quarantined + c.duplicates for c in counts)
    assert_same_gold(lakehouse, local_rounds / "round1")
    for container in CONTAINERS:
        bronze = DeltaTable(str(lakehouse / "bronze" / container)).to_pandas()
        assert not bronze.duplicated(["doc_id", "cosmos_ts"]).any(), container
    # The killed run's rows were processed by the run that found them, and logged: a next run reads nothing.
    again = run(spark, _options(lakehouse, CosmosSource(_account(server, crash_database), CONFIG)))
    assert [c.read for c in again] == [0, 0, 0, 0]


class _KillOnRead(logging.Handler):
    """Kills the server when the run starts reading `container` (the read then meets a dead account)."""

    def __init__(self, server: Cosmium, container: str) -> None:
        super().__init__()
        self.server, self.marker = server, f"{container}: reading"

    def emit(self, record: logging.LogRecord) -> None:
        if self.marker in record.getMessage():
            time.sleep(0.5)
            self.server.kill()


def test_a_server_that_dies_mid_read_gives_one_clear_error_and_the_next_run_is_right(spark, two_rounds,
                                                                                     local_rounds, tmp_path):
    doomed = Cosmium().start()
    try:
        account = _account(doomed, "doomed")
        seed(account, str(two_rounds / "round1"), progress=lambda line: None)
        lakehouse = tmp_path / "lakehouse"
        killer, logger = _KillOnRead(doomed, "playback_events"), logging.getLogger("dataflix")
        level = logger.level
        logger.addHandler(killer)
        logger.setLevel(logging.INFO)
        slow = CosmosConfig(emulator=True, overlap_seconds=1, page_size=1, max_retries=1, retry_max_backoff_seconds=0.5)
        try:
            with pytest.raises(SourceError) as failure:
                run(spark, _options(lakehouse, CosmosSource(account, slow)))
        finally:
            logger.removeHandler(killer)
            logger.setLevel(level)
        message = str(failure.value)
        assert "\n" not in message and KEY not in message
        # Every container is read at once: whichever read failed first is named.
        assert re.fullmatch(rf"Cosmos DB account 127\.0\.0\.1:{doomed.port}, database doomed, container "
                            rf"(content|subscriptions|playback_events|recommendations): the account is unreachable .*",
                            message), message
        assert not (lakehouse / "bronze").exists() and not (lakehouse / "ops").exists()
        # The account is back (restored from the same documents): the next run gives the uninterrupted run's gold.
        doomed.start()
        seed(account, str(two_rounds / "round1"), progress=lambda line: None)
        run(spark, _options(lakehouse, CosmosSource(account, CONFIG)))
        assert_same_gold(lakehouse, local_rounds / "round1")
    finally:
        doomed.kill()


def test_an_unreachable_account_is_one_line_and_exit_4(tmp_path):
    port = Cosmium().port  # nothing listens there
    env = {**os.environ, "DATAFLIX_PEPPER": PEPPER, "DATAFLIX_COSMOS_ENDPOINT": f"https://127.0.0.1:{port}/",
           "DATAFLIX_COSMOS_KEY": KEY}
    result = _dataflix("run", "--source", "cosmos", "--cosmos-emulator", "--lakehouse", str(tmp_path / "lh"),
                       "--conf", str(_conf(tmp_path)), env=env, timeout=600)
    assert result.returncode == 4, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("dataflix: error:")]
    assert len(errors) == 1 and f"Cosmos DB account 127.0.0.1:{port}" in errors[0] and "unreachable" in errors[0]
    assert KEY not in result.stderr and "Traceback" not in result.stderr


def test_a_missing_database_is_one_line_naming_it(spark, server, tmp_path):
    source = CosmosSource(_account(server, "no-such-database"), CONFIG)
    with pytest.raises(SourceError, match=r"database no-such-database, container \w+: the database or the container "
                                          r"does not exist"):
        run(spark, _options(tmp_path / "lakehouse", source))
    assert not (tmp_path / "lakehouse" / "bronze").exists()


def test_a_refused_key_is_one_line_without_the_key(spark, tmp_path):
    guarded = Cosmium(auth=True).start()
    try:
        source = CosmosSource(_account(guarded, "dataflix"), CONFIG)
        with pytest.raises(SourceError) as failure:
            run(spark, _options(tmp_path / "lakehouse", source))
        assert "the credentials were refused" in str(failure.value) and KEY not in str(failure.value)
    finally:
        guarded.kill()
