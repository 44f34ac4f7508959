"""Shared integration fixtures: one lakehouse built by `dataflix run` (in a subprocess, as a user runs it)
on generated documents plus hand-made ones, reused by every test that only reads it."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dataflix_spark.generate import generate
from tests.integration.built import AS_OF, PEPPER, write_hand_made


@pytest.fixture(scope="session")
def built_lakehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("built")
    data = root / "input"
    summary = generate(str(data), users=60, days=4, seed=7, titles=20, bad_rate=0.05, duplicate_rate=0.05,
                       gzip_files=True)
    write_hand_made(data)
    lake = root / "lakehouse"
    env = {**os.environ, "DATAFLIX_PEPPER": PEPPER}
    result = subprocess.run(
        [sys.executable, "-m", "dataflix_spark.cli", "run", "--input", str(data), "--lakehouse", str(lake),
         "--as-of", AS_OF, "--master", "local[2]"],
        capture_output=True, text=True, timeout=900, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {"path": lake, "input": data, "as_of": AS_OF, "pepper": PEPPER, "summary": summary, "stderr": result.stderr}


