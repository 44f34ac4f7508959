"""python_workers: a local session's Python workers import the installed PySpark (with its bytecode), not Spark's zip,
and have no Maven jar on their path."""
from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pyspark

from dataflix_spark.python_workers import start_importing, worker_python

PYSPARK_HOME = Path(pyspark.__file__).resolve().parent
REPORT = "import os, sys; print(os.environ.get('PYTHONPATH')); print(sys.executable); print(sys.argv[1:])"


def test_the_script_takes_sparks_zips_and_core_jar_off_the_path_and_keeps_the_rest_in_order(tmp_path):
    script = worker_python(tmp_path / "cache", PYSPARK_HOME)
    assert script is not None and Path(script).parent == tmp_path / "cache"
    lib = PYSPARK_HOME / "python" / "lib"
    path = ["", str(lib / "pyspark.zip"), str(lib / "py4j-0.10.9.9-src.zip"),  # "": the working folder
            str(PYSPARK_HOME / "jars" / "spark-core_2.13-4.0.1.jar"), "/opt/my code/*", "", "/srv/app.zip",
            "/srv/pyspark.zip.d"]
    shown = subprocess.run([script, "-c", REPORT, "an argument", "*"], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": ":".join(path)})
    assert shown.returncode == 0, shown.stderr
    kept, executable, arguments = shown.stdout.splitlines()
    assert kept == ":/opt/my code/*::/srv/app.zip:/srv/pyspark.zip.d"
    assert executable == sys.executable
    assert arguments == "['an argument', '*']"
    assert worker_python(tmp_path / "cache", PYSPARK_HOME) == script  # written once


def test_no_folder_or_another_spark_install_gets_no_script(tmp_path):
    assert worker_python(None, PYSPARK_HOME) is None
    assert worker_python(tmp_path, tmp_path / "spark-3.5.1-bin-hadoop3") is None  # its zip may not be this PySpark
    assert not list(tmp_path.iterdir())


def test_the_test_sessions_workers_import_the_installed_pyspark_with_no_jar_on_their_path(spark):
    context = spark.sparkContext
    assert Path(context.pythonExec).name.startswith("python-")  # the script (the suite keeps a cache folder)
    assert not [path for path in context._python_includes if path.endswith(".jar")]

    def where_pyspark_comes_from(_):
        import sys

        import pyspark

        return pyspark.__file__, [entry for entry in sys.path if entry.endswith((".jar", ".zip"))]

    imported, archives = context.parallelize([0], 1).map(where_pyspark_comes_from).collect()[0]
    assert Path(imported).resolve() == PYSPARK_HOME / "__init__.py"
    assert [entry for entry in archives if "pyspark" in entry or entry.endswith(".jar")] == []


def _imported(module: str, batches):
    import sys

    import pyarrow as pa

    for _ in batches:
        yield pa.RecordBatch.from_pydict({"imported": [module in sys.modules]})


def test_workers_started_ahead_import_the_modules_and_the_next_python_tasks_reuse_them(spark):
    module = "email.mime.audio"  # imported by nothing else in a worker
    thread = start_importing(spark, (module,), workers=2)
    assert thread is not None
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert start_importing(spark, (module,), workers=2) is None  # once per session and modules

    # Tasks of the kind a Python data source's read runs (Arrow batches through a Python function) get an idle worker
    # of the same daemon, which already holds the module; none was imported by the task itself.
    ran = spark.range(0, 2, 1, 2).mapInArrow(partial(_imported, module), "imported boolean").collect()
    assert any(row.imported for row in ran), ran


def test_nothing_is_started_for_a_cluster_or_no_workers(spark):
    cluster = SimpleNamespace(sparkContext=SimpleNamespace(master="spark://127.0.0.1:7077", defaultParallelism=2))
    assert start_importing(cluster, ("json",), workers=4) is None
    assert start_importing(spark, ("json",), workers=0) is None
