"""Shared integration fixtures: one lakehouse built by `dataflix run` (in a subprocess, as a user runs it)
on generated documents plus hand-made ones, reused by every test that only reads it; documents in two rounds,
and local runs over them, which the Cosmos DB and crash-safety tests compare their runs with."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys

import pytest

from dataflix_spark.generate import generate
from dataflix_spark.pipeline import RunOptions, run
from tests.integration import rounds
from tests.integration.built import AS_OF, PEPPER, write_hand_made


@pytest.fixture(scope="session")
def built_input(tmp_path_factory):
    """The shared lakehouse's documents (generated plus hand-made), before any run: the cluster test runs over them
    while the shared lakehouse is built."""
    root = tmp_path_factory.mktemp("built")
    data = root / "input"
    summary = generate(str(data), users=60, days=4, seed=7, titles=20, bad_rate=0.05, duplicate_rate=0.05,
                       gzip_files=True)
    write_hand_made(data)
    return {"root": root, "input": data, "as_of": AS_OF, "pepper": PEPPER, "summary": summary}


@pytest.fixture(scope="session")
def built_lakehouse(built_input):
    data, lake = built_input["input"], built_input["root"] / "lakehouse"
    env = {**os.environ, "DATAFLIX_PEPPER": PEPPER}
    result = subprocess.run(
        [sys.executable, "-m", "dataflix_spark.cli", "run", "--input", str(data), "--lakehouse", str(lake),
         "--as-of", AS_OF, "--master", "local[2]"],
        capture_output=True, text=True, timeout=900, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {**built_input, "path": lake, "stderr": result.stderr}


@pytest.fixture(scope="session")
def two_rounds(tmp_path_factory):
    """Documents in two rounds (tests/integration/rounds.py): folders `round1`, `round2` and `all`."""
    root = tmp_path_factory.mktemp("two-rounds")
    rounds.write_two_rounds(root)
    return root


@pytest.fixture(scope="session")
def local_rounds(spark, two_rounds, tmp_path_factory):
    """Local runs over the two rounds, in the folder they return:
    - `landing`: a folder that received round one, then round two (it holds every file);
    - `round1`: the lakehouse of a run over `landing` when it held round one only: the next run over `landing`
      is an incremental one (to copy: a run changes its lakehouse);
    - `all`: the lakehouse of one run over everything."""
    root = tmp_path_factory.mktemp("local-rounds")
    landing = root / "landing"

    def run_into(lakehouse: str) -> None:
        run(spark, RunOptions(str(landing), str(root / lakehouse), dt.date.fromisoformat(rounds.AS_OF), rounds.PEPPER))

    shutil.copytree(two_rounds / "round1", landing)
    run_into("round1")
    shutil.copytree(two_rounds / "round2", landing, dirs_exist_ok=True)
    run_into("all")
    return root
