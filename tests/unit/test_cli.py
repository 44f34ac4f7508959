"""A bad invocation stops with one line on stderr and a non-zero exit, before Spark starts."""
from __future__ import annotations

import os
import subprocess
import sys


def dataflix(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dataflix_spark.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATAFLIX_PEPPER": "test-pepper", **(env or {})},
    )


def assert_one_line_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dataflix: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_input_folder(tmp_path):
    result = dataflix("run", "--input", str(tmp_path / "nope"), "--lakehouse", str(tmp_path / "lh"))
    assert_one_line_error(result, "input folder not found")


def test_empty_input_folder(tmp_path):
    (tmp_path / "in" / "content").mkdir(parents=True)
    result = dataflix("run", "--input", str(tmp_path / "in"), "--lakehouse", str(tmp_path / "lh"))
    assert_one_line_error(result, "has no documents")


def _input_with_a_document(tmp_path):
    folder = tmp_path / "in" / "content"
    folder.mkdir(parents=True)
    (folder / "c.jsonl").write_text('{"id": "c-1"}\n')
    return str(tmp_path / "in")


def test_unreadable_as_of(tmp_path):
    result = dataflix("run", "--input", _input_with_a_document(tmp_path), "--lakehouse", str(tmp_path / "lh"),
                      "--as-of", "2026-13-01")
    assert_one_line_error(result, "--as-of must be a date YYYY-MM-DD")


def test_lakehouse_under_a_file(tmp_path):
    # Unwritable even for root: a lakehouse path below a regular file.
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = dataflix("run", "--input", _input_with_a_document(tmp_path), "--lakehouse", str(blocker / "lh"))
    assert_one_line_error(result, "is not writable")


def test_no_java(tmp_path):
    result = dataflix("run", "--input", _input_with_a_document(tmp_path), "--lakehouse", str(tmp_path / "lh"),
                      env={"JAVA_HOME": str(tmp_path / "no-jdk")})
    assert_one_line_error(result, "Java was not found")


def test_missing_config_file(tmp_path):
    result = dataflix("run", "--conf", str(tmp_path / "missing.yaml"), "--input", _input_with_a_document(tmp_path))
    assert_one_line_error(result, "config file not found")


def test_config_with_unknown_setting(tmp_path):
    conf = tmp_path / "bad.yaml"
    conf.write_text("lakehouse: /tmp/x\nshuffle: 3\n")
    result = dataflix("run", "--conf", str(conf), "--input", _input_with_a_document(tmp_path))
    assert_one_line_error(result, "unknown or invalid setting")


def test_dashboard_without_gold_tables(tmp_path):
    result = dataflix("dashboard", "--lakehouse", str(tmp_path / "empty"), "--out", str(tmp_path / "d.html"))
    assert_one_line_error(result, "no gold tables under")
    assert not (tmp_path / "d.html").exists()


def test_job_entry_point_fails_as_a_wheel_task_would_call_it(tmp_path):
    """Databricks calls the wheel's entry point function and ignores its return value: job() must raise."""
    code = (
        "import sys\nfrom dataflix_spark.cli import job\n"
        f"sys.argv = ['dataflix-job', 'run', '--input', {str(tmp_path / 'nope')!r}]\n"
        "job()\nprint('returned normally')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "DATAFLIX_PEPPER": "test-pepper"})
    assert result.returncode == 2 and "returned normally" not in result.stdout, result.stderr
    assert "input folder not found" in result.stderr


def test_an_unknown_source_is_one_line(tmp_path):
    result = dataflix("run", "--source", "mongodb", "--lakehouse", str(tmp_path / "lh"))
    assert_one_line_error(result, "unknown source 'mongodb': use one of local, cosmos")


def test_the_cosmos_source_without_an_endpoint_is_one_line(tmp_path):
    env = {name: "" for name in os.environ if name.startswith("DATAFLIX_COSMOS_")}
    result = dataflix("run", "--source", "cosmos", "--lakehouse", str(tmp_path / "lh"), env=env)
    assert_one_line_error(result, "no Cosmos DB endpoint: set DATAFLIX_COSMOS_ENDPOINT")
    assert not (tmp_path / "lh").exists()  # nothing done before the settings are checked


def test_the_cosmos_source_without_credentials_is_one_line(tmp_path):
    env = {"DATAFLIX_COSMOS_ENDPOINT": "https://acct.documents.azure.com:443/", "DATAFLIX_COSMOS_KEY": "",
           "DATAFLIX_COSMOS_EMULATOR": ""}
    result = dataflix("run", "--source", "cosmos", "--lakehouse", str(tmp_path / "lh"), env=env)
    assert_one_line_error(result, "no Cosmos DB credentials: set DATAFLIX_COSMOS_KEY")


def test_seed_without_an_input_folder_is_one_line(tmp_path):
    result = dataflix("seed", "--input", str(tmp_path / "nope"))
    assert_one_line_error(result, "input folder not found")
