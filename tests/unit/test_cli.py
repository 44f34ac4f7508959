"""A bad invocation stops with one line on stderr and a non-zero exit, before Spark starts."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


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


# --- flags: every command checks them before doing anything (exit 2, one line) -----------------------------------


@pytest.mark.parametrize("args, fragment", [
    (["generate", "--end-date", "2026-13-01"], "argument --end-date: not a date YYYY-MM-DD: '2026-13-01'"),
    (["generate", "--users", "-5"], "argument --users: must be >= 1, got -5"),
    (["generate", "--days", "0"], "argument --days: must be >= 1, got 0"),
    (["generate", "--bad-rate", "1.5"], "argument --bad-rate: must be >= 0 and < 1, got 1.5"),
    (["generate", "--duplicate-rate", "nan"], "argument --duplicate-rate: must be >= 0 and < 1, got nan"),
    (["demo", "--users", "-5"], "argument --users: must be >= 1, got -5"),
    (["demo", "--days", "0"], "argument --days: must be >= 1, got 0"),
    (["demo", "--days", "three"], "argument --days: not a whole number: 'three'"),
])
def test_a_bad_generate_or_demo_flag_is_one_line_before_anything_is_written(tmp_path, args, fragment):
    out = tmp_path / "out"
    result = dataflix(*args, "--out", str(out))
    assert_one_line_error(result, fragment)
    assert f"(see dataflix {args[0]} --help)" in result.stderr
    assert not out.exists()


def test_a_negative_watch_is_one_line(tmp_path):
    result = dataflix("run", "--input", _input_with_a_document(tmp_path), "--lakehouse", str(tmp_path / "lh"),
                      "--watch", "-1")
    assert_one_line_error(result, "argument --watch: must be >= 0, got -1")
    assert not (tmp_path / "lh").exists()


def test_a_port_out_of_range_is_one_line():
    assert_one_line_error(dataflix("serve", "--port", "70000"), "argument --port: must be >= 1 and <= 65535")


def test_a_missing_required_flag_and_an_unknown_command_are_one_line():
    assert_one_line_error(dataflix("generate"), "the following arguments are required: --out")
    assert_one_line_error(dataflix("frobnicate"), "invalid choice: 'frobnicate'")


def test_the_demo_refuses_to_replace_a_folder_that_is_not_an_earlier_demos(tmp_path):
    keep = tmp_path / "my-documents"
    keep.mkdir()
    (keep / "thesis.txt").write_text("precious")
    result = dataflix("demo", "--out", str(keep), "--lakehouse", str(tmp_path / "lh"))
    assert_one_line_error(result, "is not an earlier demo's")
    assert (keep / "thesis.txt").read_text() == "precious" and not (tmp_path / "lh").exists()


# Runs the CLI, then says whether it imported PySpark (half a second of a failing invocation's second, here).
_SAYS_IF_PYSPARK = ("import sys\nfrom dataflix_spark.cli import main\ncode = main(sys.argv[1:])\n"
                    "print('pyspark' in sys.modules)\nsys.exit(code)\n")


@pytest.mark.parametrize("case", ["no input folder", "an empty input", "a bad as-of", "a folder not a demo's",
                                  "no gold to chart", "nothing to seed"])
def test_a_wrong_invocation_is_said_before_pyspark_is_imported(tmp_path, case):
    (tmp_path / "empty" / "content").mkdir(parents=True)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("")
    lakehouse = ["--lakehouse", str(tmp_path / "lh")]
    args = {"no input folder": ["run", "--input", str(tmp_path / "nope"), *lakehouse],
            "an empty input": ["run", "--input", str(tmp_path / "empty"), *lakehouse],
            "a bad as-of": ["run", "--input", _input_with_a_document(tmp_path), *lakehouse, "--as-of", "2026-13-01"],
            "a folder not a demo's": ["demo", "--out", str(tmp_path / "mine"), *lakehouse],
            "no gold to chart": ["dashboard", *lakehouse],
            "nothing to seed": ["seed", "--input", str(tmp_path / "nope")]}[case]
    result = subprocess.run([sys.executable, "-c", _SAYS_IF_PYSPARK, *args], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path, env={**os.environ, "DATAFLIX_PEPPER": "test-pepper"})
    assert result.returncode == 2 and result.stderr.startswith("dataflix: error: "), result.stderr
    assert result.stdout.strip() == "False", f"{case}: PySpark was imported before the error"


# --- what is missing is named, with the fix --------------------------------------------------------------------

# Runs the CLI with pyspark and delta-spark unimportable, as after `pip install -e .` without the extra.
_WITHOUT_SPARK = (
    "import sys\nsys.modules['pyspark'] = None\nsys.modules['delta'] = None\n"
    "from dataflix_spark.cli import main\nsys.exit(main(sys.argv[1:]))\n"
)


@pytest.mark.parametrize("command", [["demo"], ["run", "--input", "IN"], ["dashboard"], ["serve"]])
def test_a_command_without_pyspark_names_the_extra_to_install(tmp_path, command):
    args = [str(_input_with_a_document(tmp_path)) if a == "IN" else a for a in command]
    result = subprocess.run([sys.executable, "-c", _WITHOUT_SPARK, *args, *(
        ["--out", str(tmp_path / "sample"), "--lakehouse", str(tmp_path / "lh")] if command == ["demo"] else
        ["--lakehouse", str(tmp_path / "lh")])], capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "DATAFLIX_PEPPER": "test-pepper"})
    assert_one_line_error(result, "pyspark and delta-spark not installed: pip install 'dataflix-spark[spark]'")
    assert not (tmp_path / "sample").exists() and not (tmp_path / "lh").exists()


def test_the_demo_without_java_says_so_before_generating_anything(tmp_path):
    result = dataflix("demo", "--out", str(tmp_path / "sample"), "--lakehouse", str(tmp_path / "lh"),
                      env={"JAVA_HOME": str(tmp_path / "no-jdk"), "PATH": "/usr/bin/false-dir"})
    assert_one_line_error(result, "Java was not found")
    assert not (tmp_path / "sample").exists()


# --- help ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "generate", "demo", "seed", "dashboard", "serve"])
def test_every_command_has_a_described_help_with_defaults(command):
    result = dataflix(command, "--help")
    assert result.returncode == 0, result.stderr
    usage, description, *_ = result.stdout.split("\n\n")
    assert usage.startswith(f"usage: dataflix {command}") and len(description.split()) >= 8, result.stdout
    if command in ("generate", "demo", "seed", "serve"):
        assert "(default: " in result.stdout


def test_help_shows_what_is_required_and_how_serve_stops():
    assert "--out OUT" in dataflix("generate", "--help").stdout.split("\n\n")[0].replace("[--out OUT]", "")
    assert "--input INPUT" in dataflix("seed", "--help").stdout.split("\n\n")[0].replace("[--input INPUT]", "")
    assert "required with it" in dataflix("run", "--help").stdout
    assert "Ctrl-C" in " ".join(dataflix("serve", "--help").stdout.split())


def test_what_the_demo_leaves_in_the_working_copy_is_ignored_by_git():
    repo = Path(__file__).resolve().parents[2]
    ignored = subprocess.run(["git", "check-ignore", "dashboard.html", "sample_data/", "lakehouse/"], cwd=repo,
                             capture_output=True, text=True)
    assert ignored.stdout.split() == ["dashboard.html", "sample_data/", "lakehouse/"], ignored

