"""`dataflix serve`: the gold tables over HiveServer2 (Spark's Thrift server), the protocol of Power BI's
Spark connector, beeline and other JDBC/ODBC clients.

Every gold table present under `<lakehouse>/gold` is registered as a view over its Delta folder in
the database `dataflix` of an in-memory catalog: nothing is copied, each query reads the table's latest
Delta version, and no metastore (Derby) files are left behind. The server has no authentication, so
it listens on 127.0.0.1 only (as do Spark's driver ports; the Spark UI is off).
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlparse

from pyspark.sql import SparkSession

from dataflix_spark.config import ConfigError, SparkSettings
from dataflix_spark.lakehouse import Lakehouse

log = logging.getLogger(__name__)

DATABASE = "dataflix"
HOST = "127.0.0.1"
DEFAULT_PORT = 10000


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    database: str = DATABASE

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:hive2://{self.host}:{self.port}/{self.database}"


def gold_tables() -> tuple[str, ...]:
    from dataflix_spark.gold.build import GOLD_TABLES

    return GOLD_TABLES


def local_gold_tables(lakehouse: str) -> list[str]:
    """The gold tables that exist (have a Delta log) under a local lakehouse folder."""
    lake = Lakehouse(lakehouse)
    return [t for t in gold_tables() if (Path(lake.gold(t)) / "_delta_log").is_dir()]


def remote_gold_tables(spark: SparkSession, lakehouse: str) -> list[str]:
    """The gold tables that exist under a lakehouse URI (abfss://, s3a://, ...), asked through Spark."""
    from delta.tables import DeltaTable

    lake = Lakehouse(lakehouse)
    return [t for t in gold_tables() if DeltaTable.isDeltaTable(spark, lake.gold(t))]


def register_gold_tables(spark: SparkSession, lakehouse: str, tables: list[str]) -> None:
    """`dataflix.<table>` for each table: a view over its Delta folder (no data copied).

    Views, not external tables: Delta keeps an external table's columns out of the catalog, so the Thrift
    server's GetColumns (what ODBC/JDBC clients such as Power BI's navigator call) would list none; a
    view's columns are in the catalog, and each query still reads the latest Delta version.
    """
    lake = Lakehouse(lakehouse)
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    for table in tables:
        location = lake.gold(table).replace("`", "``")
        spark.sql(f"CREATE OR REPLACE VIEW {DATABASE}.{table} AS SELECT * FROM delta.`{location}`")


_RESOLVE_JARS = """
import json, sys
from dataflix_spark.config import SparkSettings
from dataflix_spark.session import get_spark
spark = get_spark(SparkSettings(master="local[1]", app_name="dataflix-resolve-jars", driver_memory="512m",
                                conf={**json.loads(sys.argv[1]), "spark.ui.enabled": "false"}))
print("JARS=" + spark.sparkContext.getConf().get("spark.jars", ""))
spark.stop()
"""


def resolve_delta_jars(settings: SparkSettings) -> list[str]:
    """Local paths of the Delta jars, resolved from Maven by Spark as `get_spark` does (in a short-lived JVM)."""
    ivy_conf = {k: v for k, v in settings.conf.items() if k.startswith("spark.jars")}
    result = subprocess.run([sys.executable, "-c", _RESOLVE_JARS, json.dumps(ivy_conf)],
                            capture_output=True, text=True, timeout=600)
    line = next((x for x in result.stdout.splitlines() if x.startswith("JARS=")), "")
    jars = [unquote(urlparse(uri).path) for uri in line[len("JARS="):].split(",") if uri]
    if result.returncode != 0 or not jars:
        raise ConfigError(f"could not resolve the Delta jars: {result.stderr.strip().splitlines()[-1:]}")
    return jars


def serving_conf(host: str, port: int, scratch: str, delta_jars: list[str]) -> dict[str, str]:
    """Spark settings of the serving session (merged over the user's)."""
    return {
        # The Delta jars on the JVM's own class path, not only in the class loader that spark.jars.packages
        # fills: Hive loads each connection's session through the JVM's class loader (DeltaCatalog would be
        # ClassNotFound) and, when a session closes, closes the class loader the packages were loaded by
        # (every later class load from Delta fails). delta-io/delta#1341 is the same bug.
        "spark.driver.extraClassPath": os.pathsep.join(delta_jars),
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.warehouse.dir": os.path.join(scratch, "warehouse"),
        "spark.hadoop.hive.server2.thrift.bind.host": host,
        "spark.hadoop.hive.server2.thrift.port": str(port),
        "spark.hadoop.hive.server2.transport.mode": "binary",
        "spark.hadoop.hive.server2.authentication": "NONE",
        "spark.hadoop.hive.exec.scratchdir": os.path.join(scratch, "hive"),
        "spark.hadoop.hive.exec.local.scratchdir": os.path.join(scratch, "hive-local"),
        "spark.hadoop.hive.downloaded.resources.dir": os.path.join(scratch, "resources"),
        "spark.driver.host": host,
        "spark.driver.bindAddress": host,
        "spark.ui.enabled": "false",
        # Delta answers MIN/MAX/COUNT from its statistics with java.sql.Date values, but Thrift sessions
        # use the java.time API (LocalDate): `SELECT MIN(date) ...`, which Power BI sends for date
        # slicers, fails with a ClassCastException (Delta 4.0.1). Computing them from the data is exact.
        "spark.databricks.delta.optimizeMetadataQuery.enabled": "false",
    }


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def wait_until_listening(host: str, port: int, stop: threading.Event, timeout_s: float = 120.0) -> bool:
    """True once a TCP connection to host:port succeeds (the Thrift server accepts in the background)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop.is_set():
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            stop.wait(0.2)
    return False


def start_thrift_server(spark: SparkSession, scratch: str):
    """Starts HiveServer2 on the session (its conf holds host and port); returns the Java server object."""
    jvm = spark.sparkContext._jvm
    # Derby (if Hive's execution client starts it) would write derby.log into the working directory.
    jvm.java.lang.System.setProperty("derby.stream.error.file", os.path.join(scratch, "derby.log"))
    server_class = jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2
    # exitOnError=False: a failure to start raises here instead of calling System.exit in the JVM.
    return server_class.startWithSparkSession(spark._jsparkSession, False)


def connection_help(endpoint: Endpoint, tables: list[str]) -> str:
    server = f"{endpoint.host}:{endpoint.port}"
    return "\n".join([
        f"DataFlix gold tables served over HiveServer2 (Spark Thrift server) on {server}",
        f"  database    {endpoint.database}: {len(tables)} tables ({', '.join(tables)})",
        "  transport   binary Thrift (TCP), no TLS, no authentication: any user name and password are accepted",
        f"  JDBC        {endpoint.jdbc_url}",
        f"  beeline     beeline -u {endpoint.jdbc_url} -n dataflix   (ships with PySpark; in the activated venv)",
        f"  Python      pyhive.hive.connect(host=\"{endpoint.host}\", port={endpoint.port}, username=\"dataflix\", "
        f"database=\"{endpoint.database}\")",
        f"  Power BI    Get data > Spark; Server {server}; Protocol Standard; Data Connectivity mode DirectQuery;",
        "              credentials: Username/password, any values (or open powerbi/DataFlix.pbip and set its",
        f"              Server parameter to {server})",
        "Stop with Ctrl-C.",
    ])


def _print_flushed(text: str) -> None:
    print(text, flush=True)  # stdout may be a pipe: the user (or a supervisor) must see it now


def serve(settings: SparkSettings, lakehouse: str, port: int = DEFAULT_PORT, host: str = HOST,
          announce=None, stop: threading.Event | None = None) -> int:
    """Serves the lakehouse's gold tables until SIGINT/SIGTERM (or `stop` is set); returns the exit code."""
    from dataflix_spark.session import check_java, get_spark

    if not 0 < port < 65536:
        raise ConfigError(f"--port must be from 1 to 65535, got {port}")
    remote = "://" in lakehouse
    if not remote:
        if not Path(lakehouse).is_dir():
            raise ConfigError(f"lakehouse folder not found: {lakehouse}")
        lakehouse = str(Path(lakehouse).resolve())
        tables = local_gold_tables(lakehouse)
        if not tables:
            raise ConfigError(f"lakehouse {lakehouse} has no gold tables: run `dataflix run` first")
    check_java()
    check_port_free(host, port)

    stop = stop or threading.Event()
    # Spark's driver and block manager bind to this address too (they also serve no one else).
    os.environ.setdefault("SPARK_LOCAL_IP", host)
    scratch = tempfile.TemporaryDirectory(prefix="dataflix-serve-")
    conf = serving_conf(host, port, scratch.name, resolve_delta_jars(settings))
    # Hive sessions list their pipeout files here when they close, and log an error if it is missing.
    os.makedirs(conf["spark.hadoop.hive.exec.local.scratchdir"])
    spark = get_spark(replace(settings, conf={**settings.conf, **conf}))
    # After get_spark: PySpark's SparkContext installs its own SIGINT handler (cancel jobs, raise).
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    server = None
    try:
        if remote:
            tables = remote_gold_tables(spark, lakehouse)
            if not tables:
                raise ConfigError(f"lakehouse {lakehouse} has no gold tables: run `dataflix run` first")
        missing = sorted(set(gold_tables()) - set(tables))
        if missing:
            log.warning("not served (no Delta table in the lakehouse yet): %s", ", ".join(missing))
        register_gold_tables(spark, lakehouse, tables)
        server = start_thrift_server(spark, scratch.name)
        if not wait_until_listening(host, port, stop):
            if stop.is_set():
                return 0
            raise ConfigError(f"the Thrift server did not start listening on {host}:{port}")
        log.info("serving %d gold tables from %s on %s:%d", len(tables), lakehouse, host, port)
        (announce or _print_flushed)(connection_help(Endpoint(host, port), tables))
        while not stop.wait(1.0):
            pass
        log.info("stopping the Thrift server")
        return 0
    finally:
        try:
            if server is not None:
                server.stop()
            spark.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            scratch.cleanup()
