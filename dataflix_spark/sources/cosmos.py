"""The Azure Cosmos DB source: the four containers of one database, read through a Spark data source.

Two readers, chosen by `cosmos.reader`:
- `datasource` (default): the PyPI package `cosmosdb-spark-datasource`, a PySpark Python data source (one Spark
  task per feed range, the document as JSON text in `body`). Runs on any Spark 4.0+, Databricks serverless too.
- `connector`: the JVM Azure Cosmos DB Spark connector's `cosmos.oltp` (`_rawBody`), for clusters that install its
  Maven library. Not served by the Maven Central reachable from our build machines: its options are unit-tested,
  it has never run here.

Incremental reads: `ops/cosmos_marks` keeps, per container, the greatest `_ts` bronze holds from this account
(the high-water mark). A run reads `_ts >= mark - overlap` (server-side query, and the same filter in Spark:
a server that answers the filter wrongly still gives the right rows), drops the versions bronze holds already
(same id and `_ts`), and records the new marks (one commit for the four containers) only once its silver is
committed.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import socket
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlparse

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dataflix_spark import python_workers
from dataflix_spark.config import ConfigError, CosmosConfig
from dataflix_spark.lakehouse import Lakehouse
from dataflix_spark.schemas import COSMOS_MARKS_SCHEMA
from dataflix_spark.sinks.delta import append_table, read_pinned, table_exists
from dataflix_spark.session import driver_rows
from dataflix_spark.sources import NewRows, SourceError, rows_of_unrecorded_runs

log = logging.getLogger("dataflix")

ENDPOINT_ENV = "DATAFLIX_COSMOS_ENDPOINT"
KEY_ENV = "DATAFLIX_COSMOS_KEY"
DATABASE_ENV = "DATAFLIX_COSMOS_DATABASE"
TENANT_ENV = "DATAFLIX_COSMOS_TENANT_ID"
CLIENT_ENV = "DATAFLIX_COSMOS_CLIENT_ID"
CLIENT_SECRET_ENV = "DATAFLIX_COSMOS_CLIENT_SECRET"
EMULATOR_ENV = "DATAFLIX_COSMOS_EMULATOR"
# The local emulator's well-known key, published by Microsoft; only ever used with the emulator setting.
EMULATOR_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

# The contract's containers and their partition keys (docs/documents.md).
PARTITION_KEYS = {
    "content": "/contentId",
    "subscriptions": "/userId",
    "playback_events": "/userId",
    "recommendations": "/userId",
}

_TRUE = ("1", "true", "yes", "on")
# azure-cosmos never verifies the certificate of these hosts (it takes them for the local emulator), so the data
# source's tls_verify=false, which logs a warning in every Python worker, is only set for other emulator hosts.
SDK_UNVERIFIED_HOSTS = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class CosmosAccount:
    """Where and how to connect, resolved once at the entry point. The secrets never reach `repr`."""

    endpoint: str
    database: str
    auth_type: str  # key | service_principal | default (managed identity, DefaultAzureCredential)
    key: str | None = field(default=None, repr=False)
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    emulator: bool = False

    @property
    def host(self) -> str:
        return urlparse(self.endpoint).netloc or self.endpoint

    def location(self, container: str) -> str:
        """The provenance kept in bronze's `source_file`: `cosmos://<host>/<database>/<container>`."""
        return f"cosmos://{self.host}/{self.database}/{container}"

    def secrets(self) -> list[str]:
        return [s for s in (self.key, self.client_secret) if s]


def databricks_secret(scope: str, key: str) -> str | None:
    """A secret from a Databricks secret scope; None elsewhere (only Databricks runtimes have dbutils)."""
    try:
        from pyspark.dbutils import DBUtils  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        return DBUtils(SparkSession.builder.getOrCreate()).secrets.get(scope=scope, key=key)
    except Exception:  # noqa: BLE001 - a key the scope does not hold: the caller says what is missing
        return None


def fabric_secret(vault: str, name: str) -> str | None:
    """A secret from an Azure Key Vault through Fabric's notebookutils; None elsewhere or when it is missing."""
    try:
        import notebookutils  # type: ignore[import-not-found]

        return notebookutils.credentials.getSecret(vault, name)
    except Exception:  # noqa: BLE001 - not on Fabric, or no such secret: the caller says what is missing
        return None


_PROXIES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def check_reachable(account: CosmosAccount, timeout: float = 5.0, environ: dict[str, str] | None = None) -> None:
    """Raises SourceError when nothing accepts a TCP connection at the account's endpoint: said in a second,
    before Spark starts, rather than after the start and the SDK's retries. Skipped behind a proxy (the SDK
    reaches the account through it)."""
    if any((environ if environ is not None else os.environ).get(name) for name in _PROXIES):
        return
    parsed = urlparse(account.endpoint)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname or account.host, port), timeout=timeout).close()
    except OSError as error:
        raise SourceError(f"Cosmos DB account {account.host}, database {account.database}: the account is "
                          f"unreachable ({error.strerror or type(error).__name__}): check the endpoint and the "
                          "network") from None


def resolve_account(config: CosmosConfig, environ: dict[str, str] | None = None, emulator: bool = False,
                    secret: Callable[[str], str | None] | None = None) -> CosmosAccount:
    """The account from conf and the environment (which wins); a secret missing from the environment is asked of
    `secret` (a Databricks secret scope: `cosmos-key`, `cosmos-client-secret`). One-line ConfigError when
    something is missing."""
    env = dict(os.environ if environ is None else environ)
    for name, scoped in ((KEY_ENV, "cosmos-key"), (CLIENT_SECRET_ENV, "cosmos-client-secret")):
        if not env.get(name) and secret is not None:
            env[name] = secret(scoped) or ""
    endpoint = env.get(ENDPOINT_ENV) or config.endpoint
    if not endpoint:
        raise ConfigError(f"no Cosmos DB endpoint: set {ENDPOINT_ENV} (or cosmos.endpoint in the --conf file)")
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        raise ConfigError(f"the Cosmos DB endpoint must be an https:// URL, got {endpoint!r}")
    emulator = emulator or config.emulator or env.get(EMULATOR_ENV, "").lower() in _TRUE
    if parsed.scheme == "http" and not emulator:
        raise ConfigError("an http:// Cosmos DB endpoint is only for a local emulator (--cosmos-emulator)")
    database = env.get(DATABASE_ENV) or config.database
    key = env.get(KEY_ENV)
    principal = {name: env.get(name) for name in (TENANT_ENV, CLIENT_ENV, CLIENT_SECRET_ENV)}
    auth = config.auth
    if auth == "auto":
        auth = "key" if key else "service_principal" if any(principal.values()) else "key" if emulator else None
    if auth is None:
        raise ConfigError(f"no Cosmos DB credentials: set {KEY_ENV}, or {TENANT_ENV}, {CLIENT_ENV} and "
                          f"{CLIENT_SECRET_ENV}, or cosmos.auth: managed_identity in the --conf file")
    base = {"endpoint": endpoint, "database": database, "emulator": emulator}
    if auth == "key":
        if not key and emulator:
            log.warning("%s is not set: using the local emulator's published key", KEY_ENV)
            key = EMULATOR_KEY
        if not key:
            raise ConfigError(f"cosmos.auth is key but {KEY_ENV} is not set")
        return CosmosAccount(auth_type="key", key=key, **base)
    if auth == "service_principal":
        missing = [name for name, value in principal.items() if not value]
        if missing:
            raise ConfigError(f"a service principal needs {', '.join(missing)} (environment)")
        return CosmosAccount(auth_type="service_principal", tenant_id=principal[TENANT_ENV],
                             client_id=principal[CLIENT_ENV], client_secret=principal[CLIENT_SECRET_ENV], **base)
    return CosmosAccount(auth_type="default", **base)


def since_query(since: int | None) -> str:
    return "SELECT * FROM c" if since is None else f"SELECT * FROM c WHERE c._ts >= {int(since)}"


def datasource_options(account: CosmosAccount, config: CosmosConfig, container: str, since: int | None) -> dict[str, str]:
    """Options of `spark.read.format("cosmosdb")` (cosmosdb-spark-datasource) for one container."""
    opts = {"endpoint": account.endpoint, "database": account.database, "container": container,
            "auth_type": account.auth_type}
    if account.auth_type == "key":
        opts["account_key"] = account.key or ""
    elif account.auth_type == "service_principal":
        opts.update(tenant_id=account.tenant_id or "", client_id=account.client_id or "",
                    client_secret=account.client_secret or "")
    if account.emulator and urlparse(account.endpoint).hostname not in SDK_UNVERIFIED_HOSTS:
        opts["tls_verify"] = "false"
    if since is not None:
        opts["query"] = "SELECT * FROM c WHERE c._ts >= @since"
        opts["query_parameters"] = json.dumps([{"name": "@since", "value": int(since)}])
    settings = {"target_ru_per_second": config.target_ru_per_second, "priority": config.priority,
                "page_size": config.page_size, "max_retries": config.max_retries,
                "retry_max_backoff_seconds": config.retry_max_backoff_seconds}
    opts.update({name: str(value) for name, value in settings.items() if value is not None})
    return opts


def connector_options(account: CosmosAccount, config: CosmosConfig, container: str, since: int | None) -> dict[str, str]:
    """Options of the JVM connector's `spark.read.format("cosmos.oltp")`: raw documents (`_rawBody`, `id`, `_ts`)."""
    opts = {"spark.cosmos.accountEndpoint": account.endpoint, "spark.cosmos.database": account.database,
            "spark.cosmos.container": container, "spark.cosmos.read.inferSchema.enabled": "false",
            "spark.cosmos.read.customQuery": since_query(since),
            "spark.cosmos.applicationName": "dataflix"}
    if account.auth_type == "key":
        opts["spark.cosmos.accountKey"] = account.key or ""
    elif account.auth_type == "service_principal":
        opts.update({"spark.cosmos.auth.type": "ServicePrincipal", "spark.cosmos.account.tenantId": account.tenant_id or "",
                     "spark.cosmos.auth.aad.clientId": account.client_id or "",
                     "spark.cosmos.auth.aad.clientSecret": account.client_secret or ""})
    else:
        opts["spark.cosmos.auth.type"] = "ManagedIdentity"
    if config.page_size is not None:
        opts["spark.cosmos.read.maxItemCount"] = str(config.page_size)
    if config.target_ru_per_second is not None or config.priority is not None:
        # Local throughput control (no global control container): caps this job's reads only.
        opts.update({"spark.cosmos.throughputControl.enabled": "true",
                     "spark.cosmos.throughputControl.name": f"dataflix-{container}",
                     "spark.cosmos.throughputControl.globalControl.useDedicatedContainer": "false"})
        if config.target_ru_per_second is not None:
            opts["spark.cosmos.throughputControl.targetThroughput"] = str(config.target_ru_per_second)
        if config.priority is not None:
            opts["spark.cosmos.throughputControl.priorityLevel"] = config.priority
    return opts


def sdk_client(account: CosmosAccount, purpose: str, **options):
    """An azure-cosmos client of the account (admin tooling and sizing; the pipeline reads through Spark)."""
    from azure.cosmos import CosmosClient

    if account.emulator:  # its self-signed certificate is not verified: urllib3 would warn on every request
        warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    if account.auth_type == "key":
        credential = account.key
    else:
        from azure.identity import ClientSecretCredential, DefaultAzureCredential

        credential = (ClientSecretCredential(account.tenant_id, account.client_id, account.client_secret)
                      if account.auth_type == "service_principal" else DefaultAzureCredential())
    return CosmosClient(account.endpoint, credential=credential, connection_verify=not account.emulator,
                        user_agent_suffix=f"dataflix-{purpose}", **options)


# What a document is taken to weigh where only a count is known: the contract's documents are 0.4-0.7 KB of JSON.
COUNTED_DOCUMENT_BYTES = 1024


def documents_kilobytes(usage: str | None) -> int | None:
    """`documentsSize` (KB, every document of the container) of an `x-ms-resource-usage` header, e.g.
    "documentSize=0;documentsSize=112;documentsCount=33;collectionSize=129"; None when it has none."""
    fields = dict(part.split("=", 1) for part in (usage or "").split(";") if "=" in part)
    value = fields.get("documentsSize", "").strip()
    return int(value) if value.isdigit() else None


def container_bytes(container, emulator: bool) -> int | None:
    """About how many bytes of documents a container (an azure-cosmos ContainerProxy) holds: the account's own
    figure (a container read with its quota information: one metadata request, whatever the size); where there is
    none, an emulator's document count times COUNTED_DOCUMENT_BYTES (a count query reads the index entry of every
    document: not asked of a billed account); None otherwise."""
    headers: dict[str, str] = {}
    container.read(populate_quota_info=True, response_hook=lambda found, _: headers.update(found))
    kilobytes = documents_kilobytes(headers.get("x-ms-resource-usage"))
    if kilobytes is not None:
        return kilobytes * 1024
    if not emulator:
        return None
    (count,) = container.query_items("SELECT VALUE COUNT(1) FROM c", enable_cross_partition_query=True)
    return int(count) * COUNTED_DOCUMENT_BYTES


def account_bytes(account: CosmosAccount) -> int | None:
    """`container_bytes` of the four containers added up; None when one cannot tell or the account does not answer
    (the run's read then says why, in its one line)."""
    sdk_log = logging.getLogger("azure")
    level = sdk_log.level
    sdk_log.setLevel(logging.CRITICAL)  # a credential's failure is the read's to say, in its one line
    try:
        client = sdk_client(account, "size", connection_timeout=10, retry_total=0)
        database = client.get_database_client(account.database)
        sizes = [container_bytes(database.get_container_client(name), account.emulator) for name in PARTITION_KEYS]
    except Exception as error:  # noqa: BLE001 - sizing only picks settings; the read reports the fault
        log.debug("Cosmos DB account %s: not sized (%s)", account.host, type(error).__name__)
        return None
    finally:
        sdk_log.setLevel(level)
    return None if None in sizes else sum(sizes)


# What the data source's read imports in each Python worker (its client, the Cosmos DB SDK, Arrow).
DATASOURCE_MODULES = ("cosmosdb_datasource", "azure.cosmos", "pyarrow")


def register_datasource(spark: SparkSession) -> None:
    try:
        from cosmosdb_datasource import CosmosDBDataSource
    except ImportError:
        raise ConfigError("the Cosmos DB data source is not installed: pip install 'dataflix-spark[cosmos]' "
                          "(or set cosmos.reader: connector on a cluster with the Maven connector)") from None
    spark.dataSource.register(CosmosDBDataSource)


def read_documents(spark: SparkSession, account: CosmosAccount, config: CosmosConfig, container: str,
                   since: int | None) -> DataFrame:
    """The container's documents with `_ts >= since` (all when None) as `id`, `_ts`, `raw` (the document's JSON)."""
    if config.reader == "connector":
        read = spark.read.format("cosmos.oltp").options(**connector_options(account, config, container, since)).load()
        documents = read.select("id", F.col("_ts").cast("long").alias("_ts"), F.col("_rawBody").alias("raw"))
    else:
        register_datasource(spark)
        read = spark.read.format("cosmosdb").options(**datasource_options(account, config, container, since)).load()
        documents = read.select("id", "_ts", F.col("body").alias("raw"))
    # Again in Spark: the server-side filter is only an optimisation (a local emulator answers it wrongly).
    return documents if since is None else documents.where(F.col("_ts") >= F.lit(since))


_FAILURES = (
    # Status codes only where the SDK names them: a traceback's line numbers hold such numbers too.
    (re.compile(r"(Status code|Code): 40[13]\b|Unauthorized|Forbidden|authorization token", re.I),
     "the credentials were refused (check DATAFLIX_COSMOS_KEY or the service principal's data-plane role)"),
    (re.compile(r"CERTIFICATE_VERIFY_FAILED|SSLError|certificate verify", re.I),
     "its TLS certificate is not trusted (a local emulator? use --cosmos-emulator)"),
    (re.compile(r"(Status code|Code): 404\b|NotFound|Resource Not Found|does not exist", re.I),
     "the database or the container does not exist"),
    (re.compile(r"(Status code|Code): 429\b|TooManyRequests|Request rate is large", re.I),
     "throttled (HTTP 429) past the retries: raise the container's RU/s, or lower cosmos.target_ru_per_second"),
    (re.compile(r"Connection refused|Failed to establish|ServiceRequestError|ServiceResponseError|"
                r"Name or service not known|RemoteDisconnected|Connection aborted|Connection reset|"
                r"Max retries exceeded|timed out|ConnectionError|Temporary failure in name resolution", re.I),
     "the account is unreachable or stopped answering (check DATAFLIX_COSMOS_ENDPOINT and the network)"),
)


def describe_failure(error: BaseException, account: CosmosAccount, container: str) -> str:
    """One line naming the account and the container, never a secret."""
    text = str(error)
    for secret in account.secrets():
        text = text.replace(secret, "***")
    reason = next((why for pattern, why in _FAILURES if pattern.search(text)), None)
    if reason is None:
        last = [line.strip() for line in text.splitlines() if line.strip()]
        reason = "the read failed: " + (last[-1][:200] if last else type(error).__name__)
    return f"Cosmos DB account {account.host}, database {account.database}, container {container}: {reason}"


def read_marks(spark: SparkSession, lake: Lakehouse, container: str, location: str) -> tuple[int | None, set[str]]:
    """The greatest `_ts` bronze holds for the container from this account (None: nothing read yet), and the runs
    recorded for the container (one small row per run)."""
    if not table_exists(spark, lake.ops("cosmos_marks")):
        return None, set()
    rows = (read_pinned(spark, lake.ops("cosmos_marks")).where(F.col("container") == container)
            .select("run_id", "source", "high_water_ts").collect())
    marks = [r["high_water_ts"] for r in rows if r["source"] == location and r["high_water_ts"] is not None]
    return (max(marks) if marks else None), {r["run_id"] for r in rows}


def record_marks(spark: SparkSession, lake: Lakehouse, rows: list[tuple]) -> None:
    """Appends mark rows (COSMOS_MARKS_SCHEMA) to ops/cosmos_marks, in one commit; nothing when there are none."""
    if rows:
        append_table(driver_rows(spark, rows, COSMOS_MARKS_SCHEMA), lake.ops("cosmos_marks"))


@dataclass(frozen=True)
class CosmosSource:
    """The database's four containers (named as the contract's containers)."""

    account: CosmosAccount
    config: CosmosConfig = CosmosConfig()

    def describe(self) -> str:
        return f"Cosmos DB {self.account.host}/{self.account.database} ({self.config.reader})"

    def offered(self) -> None:
        return None  # what changed is known only by reading the change feed

    def offered_bytes(self) -> int | None:
        return account_bytes(self.account)

    def offered_since(self, earlier: dict, now: dict) -> None:
        return None  # never asked: `offered` describes nothing

    def record(self, spark: SparkSession, lake: Lakehouse, taken: Sequence[NewRows]) -> None:
        record_marks(spark, lake, [row for t in taken for row in t.record])

    def take(self, spark: SparkSession, lake: Lakehouse, container: str, run_id: str,
             settled: bool = False) -> NewRows:
        if self.config.reader == "datasource":
            # The read's Python workers start while the source is looked up, created and planned (the four
            # containers are read at once: four workers at most).
            python_workers.start_importing(spark, DATASOURCE_MODULES, workers=4)
        location = self.account.location(container)
        mark, recorded = read_marks(spark, lake, container, location)
        since = None if mark is None else mark - self.config.overlap_seconds
        log.info("%s: reading %s (%s)", container, location, "every document" if since is None else f"_ts >= {since}")
        # Read once, here (the fault, if any, surfaces now, before anything is written); on disk, as the local
        # source's batch is (10M documents' text overflowed a 4 GiB heap in memory).
        staged = None
        try:
            staged = read_documents(spark, self.account, self.config, container, since).persist(StorageLevel.DISK_ONLY)
            returned, high = staged.agg(F.count(F.lit(1)), F.max("_ts")).head()
        except ConfigError:
            raise
        except Exception as error:  # noqa: BLE001 - Py4J, analysis and Python worker errors alike
            if staged is not None:
                staged.unpersist()
            raise SourceError(describe_failure(error, self.account, container)) from None
        new, bronze_runs, count = staged, set(recorded), returned
        if table_exists(spark, lake.bronze(container)):
            bronze = read_pinned(spark, lake.bronze(container), data_skipping=True)
            # Killed runs' rows are in bronze without a mark: processed by this run, their versions not read again.
            # Looked for even when `settled`: a Cosmos DB run leaves no last-run state, so a settled lakehouse was
            # left by another source's run, whose rows carry no mark either.
            unmarked = rows_of_unrecorded_runs(bronze, recorded)
            bronze_runs |= {row[0] for row in unmarked.select("run_id").distinct().collect()}
            if returned:
                held = bronze if since is None else bronze.where(F.col("cosmos_ts") >= since)
                held = held.select(F.col("doc_id").alias("id"), F.col("cosmos_ts").alias("_ts"))
                new = staged.join(held, on=["id", "_ts"], how="left_anti")
                count = new.count()
        new_mark = max(v for v in (mark, high) if v is not None) if returned else mark
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        marks = [(run_id, container, location, new_mark, count, now)] if count or new_mark != mark else []
        marks += [(run, container, location, new_mark, None, now) for run in sorted(bronze_runs - recorded)]
        return NewRows(
            rows=new.select("raw", F.lit(location).alias("source_file")) if count else None,
            label=f"{count:,} new versions",
            bronze_runs=frozenset(bronze_runs),
            record=tuple(marks),
            release=staged.unpersist,
        )
