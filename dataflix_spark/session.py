"""The one SparkSession factory: Delta Lake configured, UTC, quiet unless asked."""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from dataflix_spark import local_file_system, python_workers
from dataflix_spark.config import ConfigError, SparkSettings

if TYPE_CHECKING:  # PySpark is imported where a session is built: a command that fails on a flag does not wait for it
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

DELTA_EXTENSIONS = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # New tables stay readable by delta-rs, Power BI and SQL endpoints (see sinks.delta).
    "spark.databricks.delta.properties.defaults.enableDeletionVectors": "false",
    # Delta keeps a small table's file list in its checksum file, rebuilt at each commit with a Spark job over the
    # table's state; without it the checksum keeps its counts and sizes. Pipeline runs over the tests' typical input
    # in one warm JVM, alternated: 18.8 -> 17.9 s, 232 -> 200 SQL executions (docs/performance.md). Tables of more
    # than 50 files never had it.
    "spark.databricks.delta.allFilesInCrc.enabled": "false",
}


def java_major_version() -> int | None:
    """The major version of the `java` Spark will start, or None when there is none."""
    java = _java_path()
    if not java or not os.path.exists(java):
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except OSError:
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major


def check_java() -> None:
    version = java_major_version()
    if version is None:
        raise ConfigError("Java was not found: Spark 4 needs Java 17 or later (install it or set JAVA_HOME)")
    if version < 17:
        raise ConfigError(f"Java {version} found, but Spark 4 needs Java 17 or later (set JAVA_HOME)")


# Spark redacts conf values (UI, event log) whose *names* match spark.redaction.regex, by default
# `(?i)secret|password|token|access[.]?key`: the Cosmos DB key's names (`account_key`, `spark.cosmos.accountKey`)
# do not match it, so they are added; data source options printed in plans are redacted by the second regex.
REDACTION = {
    "spark.redaction.regex": r"(?i)secret|password|token|access[.]?key|account[._]?key|accountkey|client[._]?secret",
    "spark.sql.redaction.options.regex": r"(?i)url|key|secret|password|token",
}
# Python workers (the Cosmos DB data source's reads) with an emulator's self-signed certificate: urllib3 warns on
# every request. The warning is the same for each and says nothing the run's own line does not.
QUIET_WORKER_WARNINGS = "ignore:Unverified HTTPS request,ignore:tls_verify=false"


def _python_workers(local_jvm: bool) -> dict[str, str]:
    """Spark's Python workers run this interpreter (its packages: the Cosmos DB data source), quietly; on a local
    master whose JVM starts here, through `python_workers.worker_python` (PySpark's bytecode, not Spark's zip).
    PYSPARK_PYTHON, when set, says what they run."""
    if "PYSPARK_PYTHON" not in os.environ:
        script = None
        if local_jvm:
            from pyspark.find_spark_home import _find_spark_home

            script = python_workers.worker_python(ClassCache._folder(), Path(_find_spark_home()))
        os.environ["PYSPARK_PYTHON"] = script or sys.executable
    os.environ.setdefault("PYTHONWARNINGS", QUIET_WORKER_WARNINGS)
    return {"spark.executorEnv.PYTHONWARNINGS": os.environ["PYTHONWARNINGS"]}


def _resource(name: str) -> str:
    return str(resources.files("dataflix_spark") / "resources" / name)


def package_zip(dest_dir: str) -> str:
    """The dataflix_spark package as `<dest_dir>/dataflix_spark.zip`, importable from executors'
    sys.path (spark-submit --py-files / addPyFile put zips there, never wheels)."""
    package = Path(__file__).resolve().parent
    target = os.path.join(dest_dir, "dataflix_spark.zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.write(path, path.relative_to(package.parent).as_posix())
    return target


def _ship_package(spark: SparkSession) -> None:
    """Adds the package zip to the application so a cluster's executors can import dataflix_spark."""
    if any(path.endswith("/dataflix_spark.zip") for path in spark.sparkContext.listFiles):
        return  # a running session, already shipped
    folder = tempfile.mkdtemp(prefix="dataflix-pyfiles-")
    # Spark serves the file from this path for the application's lifetime: remove it at exit.
    atexit.register(shutil.rmtree, folder, True)
    spark.sparkContext.addPyFile(package_zip(folder))


def _launch_jvm(builder: SparkSession.Builder, output: str) -> None:
    """Starts Spark's JVM with its own output (Ivy's jar resolution, start-up warnings, later log lines) going to
    the file `output` instead of the terminal, through PySpark's `popen_kwargs` hook for exactly this."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None:
        return  # a JVM is running already
    conf = SparkConf()
    for key, value in builder._options.items():  # what getOrCreate would pass to spark-submit
        conf.set(key, str(value))
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    with open(output, "ab") as out:
        gateway = launch_gateway(conf, popen_kwargs={"stdout": out, "stderr": out})
    SparkContext._gateway, SparkContext._jvm = gateway, gateway.jvm


@contextlib.contextmanager
def _one_jvm_start_at_a_time(ivy: str | None):
    """Holds a lock on the Ivy folder while a JVM starts here: a JVM's start resolves spark.jars.packages into it, and
    two starts on a machine without the jars both downloaded them into the same files, and failed ("Downloaded file
    size (0) doesn't match expected Content Length"). Later starts wait a second or two at most."""
    from pyspark import SparkContext

    if SparkContext._gateway is not None:
        yield  # a JVM is running already: nothing is resolved
        return
    folder = Path(ivy) if ivy else Path.home() / ".ivy2.5.2"  # Spark 4's default
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / ".dataflix-jvm-start.lock", "a")
    except OSError:
        yield  # an unwritable folder: Spark says so itself when it resolves
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# A short run's JVM spends about half its CPU in the JIT, mostly in the optimising compiler (C2), whose code a run
# of a minute or two hardly uses: the quick compiler alone with room for its code (the default 48 MB filled up
# without C2 and the JVM stopped compiling). A small first run: 141-147 s -> 119-131 s (docs/performance.md).
SHORT_RUN_JAVA_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=512m")


def driver_java_options(short_run: bool, class_cache: list[str] | None = None) -> str:
    """The options of a driver JVM started here: our log4j settings, the short-run JIT for a short run (on any
    master: the driver is this process's), and the class-cache options (`ClassCache.java_options`)."""
    options = [f"-Dlog4j2.configurationFile={_resource('log4j2.properties')}"]
    if short_run:
        options += SHORT_RUN_JAVA_OPTIONS
    return " ".join(options + (class_cache or []))


def short_run_cluster_conf(master: str | None, short_run: bool) -> dict[str, str]:
    """A short run on a cluster's own executors (spark://, started for this application): the short-run JIT for
    them too. A small first run on two 1-core workers: 90 -> 62 s (docs/performance.md)."""
    if not short_run or (master or "local").startswith("local"):
        return {}
    return {"spark.executor.extraJavaOptions": " ".join(SHORT_RUN_JAVA_OPTIONS)}


def snapshot_partitions(master: str, short_run: bool, default_parallelism: int) -> int | None:
    """Tasks for rebuilding a Delta snapshot: Delta's 50 are sized for clusters and long logs, and on one machine,
    or for a short run's short logs on a cluster, they are pure overhead (a small run: 88 s with the default,
    58 s with 2; on two 1-core workers 153 s -> 90-95 s). None: Delta's default."""
    if master.startswith("local"):
        return min(os.cpu_count() or 2, 8)
    return min(max(default_parallelism, 2), 8) if short_run else None


CACHE_DIR_ENV = "DATAFLIX_CACHE_DIR"


class ClassCache:
    """A JVM class-data-sharing archive of the classes a run loads (Spark, Scala, Hadoop: about 190 MB), kept in
    `$DATAFLIX_CACHE_DIR/jvm` (default `~/.cache/dataflix/jvm`; `off` disables it, and local_file_system's
    jar beside it). A JVM started with it maps
    those classes instead of loading and verifying them: Spark's start about 4 s shorter (6-7 s -> 2-3 s; the
    whole run's gain is within noise, docs/performance.md). The first run on an install writes it as its JVM exits (about 15 s, once).
    One archive per Java, Spark and package set; the JVM itself refuses an archive that does not match."""

    def __init__(self, packages: list[str]) -> None:
        self.folder = self._folder()
        self.archive = self.folder / f"classes-{self._key(packages)}.jsa" if self.folder else None
        self.pending: Path | None = None

    @staticmethod
    def _folder() -> Path | None:
        value = os.environ.get(CACHE_DIR_ENV)
        if value is not None and value.strip().lower() in ("", "off", "0", "false", "no"):
            return None
        base = Path(value) if value else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dataflix"
        return base / "jvm"

    @staticmethod
    def _key(packages: list[str]) -> str:
        import hashlib

        import pyspark

        java = os.path.realpath(_java_path() or "java")
        jars = Path(pyspark.__file__).parent / "jars"
        facts = [java, _mtime(java), pyspark.__version__, str(jars), _mtime(str(jars)), *sorted(packages)]
        return hashlib.sha256("\n".join(map(str, facts)).encode()).hexdigest()[:16]

    def java_options(self, make: bool) -> list[str]:
        """Options that map the archive when there is one; with `make`, options that write it at the JVM's exit
        when there is none (into a file of this process, kept by `keep` once complete)."""
        quiet = ["-Xlog:cds=off", "-Xlog:cds+dynamic=off"]  # a refused or partial archive only costs speed
        if self.archive is None:
            return []
        if self.archive.exists():
            return [f"-XX:SharedArchiveFile={self.archive}", *quiet]
        if not make:
            return []
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return []  # an unwritable cache folder only costs speed, like no cache
        self.pending = self.folder / f"{self.archive.name}.{os.getpid()}.tmp"
        return [f"-XX:ArchiveClassesAtExit={self.pending}", *quiet]

    def keep(self, gateway, succeeded: bool) -> bool:
        """Ends the JVM this process started (after `spark.stop()`): on success it writes the archive as it exits,
        which becomes the cache; otherwise it is killed and writes nothing. True when an archive was kept."""
        proc = getattr(gateway, "proc", None)
        if self.pending is None or proc is None:
            return False
        try:
            gateway.shutdown()
        except Exception:  # noqa: BLE001 - the JVM is ended below either way
            pass
        if succeeded:
            proc.stdin.close()  # the gateway exits at the end of its input, writing the archive first
            proc.wait(timeout=600)
        else:
            proc.kill()
            proc.wait(timeout=60)
        kept = succeeded and proc.returncode == 0 and self.pending.exists() and self.pending.stat().st_size > 0
        if kept:
            os.replace(self.pending, self.archive)
            # The newest other archive stays: a local run's and a cluster driver's differ (local_file_system's jar),
            # and one machine may run both. Older ones are other installs'; old partial files, killed runs'.
            others = sorted((p for p in self.folder.glob("classes-*.jsa") if p != self.archive),
                            key=lambda p: _mtime(str(p)), reverse=True)
            for other in others[1:] + [p for p in self.folder.glob("classes-*.tmp") if _older_than(p, 3600)]:
                other.unlink(missing_ok=True)
        else:
            self.pending.unlink(missing_ok=True)
        self.pending = None
        return kept


def _java_path() -> str | None:
    home = os.environ.get("JAVA_HOME")
    return os.path.join(home, "bin", "java") if home else shutil.which("java")


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def _older_than(path: Path, seconds: float) -> bool:
    import time

    try:
        return time.time() - path.stat().st_mtime > seconds
    except OSError:
        return False


def _local_file_system_jar(master: str | None) -> Path | None:
    """local_file_system's jar for a local master (a cluster's executors would not have it), else None."""
    if not (master or "local").startswith("local"):
        return None
    from pyspark.find_spark_home import _find_spark_home

    return local_file_system.compiled_jar(ClassCache._folder(), _java_path(), Path(_find_spark_home()) / "jars")


def _keep_jvm_names(view) -> None:
    """Makes the session's py4j JVM view keep each class, subpackage and static method it resolves. py4j asks the JVM
    again on every access (`spark._jvm.org.apache…`, and PySpark's own `sc._jvm.functions` for each `F.col`,
    `F.lit`, …): the JVM first tries a name under each of the view's wildcard imports, each miss searching every jar
    on the class path, and finds a method by copying every method of its class (`functions` has hundreds). A small
    run asked about 3,700 names and 2,000 methods so, 2.3 s of its threads' time for the names alone in a warm JVM
    (docs/performance.md). Classes, packages and methods do not change while a JVM runs; a static field's value is
    still asked each time. Kept per view, so a new JVM starts empty; installed once the session is up, after
    PySpark's imports into the view (which change what a short name means)."""
    from py4j.java_gateway import JavaClass, JavaMember, JavaPackage, JVMView

    class NamesKept:
        def __getattr__(self, name):
            found = super().__getattr__(name)
            if name.startswith("__"):
                return found  # Python's own protocol names (copy, pickle) are not the JVM's
            if type(found) is JavaPackage:
                found.__class__ = PackageNamesKept
            elif type(found) is JavaClass:
                found.__class__ = ClassNamesKept
            if isinstance(found, (JavaClass, JavaPackage, JavaMember)):
                self.__dict__[name] = found
            return found

    class ViewNamesKept(NamesKept, JVMView):
        pass

    class PackageNamesKept(NamesKept, JavaPackage):
        pass

    class ClassNamesKept(NamesKept, JavaClass):
        pass

    if type(view) is JVMView:
        view.__class__ = ViewNamesKept


_made_class_cache: ClassCache | None = None  # the archive this process's JVM writes at its exit, if any


def get_spark(settings: SparkSettings, extra_packages: list[str] | None = None,
              output: str | None = None, short_run: bool = False, make_class_cache: bool = False) -> SparkSession:
    """Builds (or returns the running) SparkSession with Delta Lake, UTC time and the settings' tuning.
    With `output`, a JVM started here writes its own output to that file rather than the terminal; with
    `short_run`, a JVM started here (and a cluster's executors) is tuned for a run of minutes (SHORT_RUN_JAVA_OPTIONS).
    A JVM started here maps the class cache (`ClassCache`) when there is one; with `make_class_cache` it
    writes one at its exit when there is none (then end it with `end_jvm`)."""
    global _made_class_cache
    from importlib.metadata import version

    from delta import configure_spark_with_delta_pip
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    check_java()
    builder = SparkSession.builder.appName(settings.app_name)
    launched_by_spark_submit = "PYSPARK_GATEWAY_PORT" in os.environ
    # A JVM started here on a local master: its Python workers are this machine's, with this interpreter's packages.
    local_jvm = (not launched_by_spark_submit and SparkContext._gateway is None
                 and (settings.master or "local").startswith("local"))
    if settings.master and not launched_by_spark_submit:
        builder = builder.master(settings.master)
    conf = {
        **DELTA_EXTENSIONS,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        # Bronze rows carry whole raw documents: 64 MiB read splits keep a task's rows (and heap) bounded.
        "spark.sql.files.maxPartitionBytes": "64m",
        "spark.driver.memory": settings.driver_memory,
        "spark.ui.showConsoleProgress": str(settings.show_progress_bar).lower(),
        **REDACTION,
        **_python_workers(local_jvm),
        **settings.conf,
    }
    cache = None
    if not launched_by_spark_submit and SparkContext._gateway is None:  # the JVM is started here
        conf = {**short_run_cluster_conf(settings.master, short_run), **conf}  # a key set in the settings wins
        jar = _local_file_system_jar(settings.master)
        file_system = local_file_system.conf(jar, conf) if jar else {}
        conf = {**conf, **file_system}
        if "spark.driver.extraJavaOptions" not in conf:
            # The jar is on the class path: an archive is made with it (and refused without it).
            cache = ClassCache([*(extra_packages or []), f"delta-spark {version('delta-spark')}",
                                *([f"{jar} {_mtime(str(jar))}"] if file_system else [])])
            conf["spark.driver.extraJavaOptions"] = driver_java_options(short_run,
                                                                        cache.java_options(make_class_cache))
    conf.setdefault("spark.jars.ivySettings", _resource("ivysettings.xml"))
    if os.environ.get("DATAFLIX_IVY_DIR"):
        # Where spark.jars.packages caches Maven jars (CI keeps them inside its clone).
        conf["spark.jars.ivy"] = os.environ["DATAFLIX_IVY_DIR"]
    for key, value in conf.items():
        builder = builder.config(key, value)
    if launched_by_spark_submit:
        # The JVM is already up: jars come from spark-submit's --packages (see README).
        spark = builder.getOrCreate()
    else:
        builder = configure_spark_with_delta_pip(builder, extra_packages=extra_packages or [])
        with _one_jvm_start_at_a_time(conf.get("spark.jars.ivy")):
            if output:
                _launch_jvm(builder, output)
            spark = builder.getOrCreate()
        if settings.master and not settings.master.startswith("local"):
            # Executors on other processes or hosts do not see the driver's install; the
            # Delta jars reach them through spark.jars.packages, the package as a zip.
            _ship_package(spark)
    if cache is not None and cache.pending is not None:
        _made_class_cache = cache
    snapshot = "spark.databricks.delta.snapshotPartitions"
    # Set once the session is up: under spark-submit only then is the master known (a small run 111 s -> 78 s).
    tasks = snapshot_partitions(spark.sparkContext.master, short_run, spark.sparkContext.defaultParallelism)
    if tasks is not None and not spark.sparkContext.getConf().contains(snapshot):
        spark.conf.set(snapshot, str(tasks))
    spark.sparkContext.setLogLevel("ERROR")
    _keep_jvm_names(spark.sparkContext._jvm)
    if local_jvm:
        python_workers.leave_jars_off_their_path(spark.sparkContext)
    return spark


def driver_rows(spark: SparkSession, rows: Sequence, schema: StructType) -> DataFrame:
    """`spark.createDataFrame(rows, schema)` for the few rows a run makes on its driver (its log, its records of
    what it read), without a Python worker. PySpark sends such rows through a Python task that only re-batches
    them, and a run's first Python task starts a worker daemon (PySpark imported again, workers forked): about a
    CPU-second for a handful of rows, and the only Python workers a run from files starts. Here the JVM unpickles
    the driver's batches itself. The rows are checked and converted as `createDataFrame` does (its
    `verifySchema`); the frame has exactly `schema`."""
    from pyspark.sql import DataFrame
    from pyspark.sql.types import _make_type_verifier

    verify = _make_type_verifier(schema)
    internal = []
    for row in rows:
        verify(row)
        internal.append(schema.toInternal(row))
    context = spark.sparkContext
    batches = context.parallelize(internal, 1)._jrdd  # pickled lists of rows
    jvm = context._jvm
    objects = jvm.SerDeUtil.toJavaArray(jvm.SerDeUtil.pythonToJava(batches, True))
    return DataFrame(spark._jsparkSession.applySchemaToPythonRDD(objects.rdd(), schema.json()), spark)


def class_cache_pending() -> bool:
    """True when this process's JVM is to write the class cache at its exit (see `end_jvm`)."""
    return _made_class_cache is not None


def class_cache_folder() -> Path | None:
    return ClassCache._folder()


def stop_spark(spark: SparkSession) -> None:
    """`spark.stop()` for a process that exits next: the application ends as with `stop`, without waiting for
    PySpark's accumulator server. That server's handler polls its connection once a second, so its shutdown took
    0.8 s of a 24 s small run (docs/performance.md); its thread is a daemon and ends with the process."""
    context = spark.sparkContext
    server = getattr(context, "_accumulatorServer", None)
    if server is not None:
        server.server_shutdown = True  # the handler's loop ends at its next poll
        context._accumulatorServer = None
    spark.stop()


def end_jvm(succeeded: bool) -> bool:
    """After `spark.stop()` in a process whose `get_spark(make_class_cache=True)` started a JVM without a class
    cache: ends that JVM, keeping the archive it writes as it exits when the work succeeded (True if kept)."""
    global _made_class_cache
    from pyspark import SparkContext

    cache, _made_class_cache = _made_class_cache, None
    if cache is None or SparkContext._gateway is None:
        return False
    gateway = SparkContext._gateway
    SparkContext._gateway, SparkContext._jvm = None, None
    return cache.keep(gateway, succeeded)
