"""`spark-submit jobs/run_pipeline.py` takes the same flags as `dataflix run`, with the package shipped as a zip."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from deltalake import DeltaTable

import dataflix_spark
from dataflix_spark.generate import generate
from dataflix_spark.session import SHORT_RUN_JAVA_OPTIONS

REPO = Path(__file__).resolve().parents[2]


def test_spark_submit_runs_the_pipeline(tmp_path):
    data = tmp_path / "input"
    generate(str(data), users=10, days=2, seed=3, titles=8)
    package = shutil.make_archive(str(tmp_path / "dataflix_spark"), "zip",
                                  root_dir=Path(dataflix_spark.__file__).parents[1], base_dir="dataflix_spark")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYSPARK_PYTHON": sys.executable,
           "DATAFLIX_PEPPER": "submit-pepper"}
    result = subprocess.run(
        [str(bin_dir / "spark-submit"), "--master", "local[2]", "--packages", "io.delta:delta-spark_2.13:4.0.1",
         # A short run, as the README says: the short-run JIT (session.SHORT_RUN_JAVA_OPTIONS).
         "--driver-java-options", " ".join(SHORT_RUN_JAVA_OPTIONS),
         # CI keeps Maven jars inside its clone (spark-submit's own default is ~/.ivy2.5.2).
         *(["--conf", f"spark.jars.ivy={os.environ['DATAFLIX_IVY_DIR']}"] if os.environ.get("DATAFLIX_IVY_DIR") else []),
         "--py-files", package, str(REPO / "jobs" / "run_pipeline.py"),
         "--input", str(data), "--lakehouse", str(tmp_path / "lakehouse"), "--as-of", "2026-10-31"],
        capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'--driver-java-options "{" ".join(SHORT_RUN_JAVA_OPTIONS)}"' in (REPO / "README.md").read_text()
    log = DeltaTable(str(tmp_path / "lakehouse" / "ops" / "run_log")).to_pandas()
    assert (log["read"] == log["accepted"] + log["quarantined"] + log["duplicates"]).all()
    sessions = DeltaTable(str(tmp_path / "lakehouse" / "gold" / "fact_playback_sessions")).to_pandas()
    assert len(sessions) > 0 and sessions["session_id"].is_unique
