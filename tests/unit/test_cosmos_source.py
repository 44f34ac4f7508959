"""The Cosmos DB source's settings: the account from conf and environment, the options each reader gets (the JVM
connector's cannot run here: these tests are all it has), failures as one line, and secrets kept out of reprs."""
from __future__ import annotations

import json

import pytest

from dataflix_spark.config import ConfigError, CosmosConfig, load_settings, resolve_pepper
from dataflix_spark.sources import SourceError
from dataflix_spark.sources.cosmos import (
    EMULATOR_KEY,
    CosmosAccount,
    check_reachable,
    connector_options,
    datasource_options,
    describe_failure,
    resolve_account,
)

ENDPOINT = "https://acct.documents.azure.com:443/"
KEY_ACCOUNT = CosmosAccount(endpoint=ENDPOINT, database="dataflix", auth_type="key", key="s3cr3t-key==")


def test_the_environment_wins_over_conf_and_the_database_defaults_to_dataflix():
    config = CosmosConfig(endpoint="https://other.documents.azure.com:443/")
    account = resolve_account(config, {"DATAFLIX_COSMOS_ENDPOINT": ENDPOINT, "DATAFLIX_COSMOS_KEY": "k"})
    assert (account.endpoint, account.database, account.auth_type, account.key) == (ENDPOINT, "dataflix", "key", "k")
    named = resolve_account(config, {"DATAFLIX_COSMOS_KEY": "k", "DATAFLIX_COSMOS_DATABASE": "prod"})
    assert (named.endpoint, named.database) == ("https://other.documents.azure.com:443/", "prod")


def test_a_service_principal_and_a_managed_identity():
    env = {"DATAFLIX_COSMOS_ENDPOINT": ENDPOINT, "DATAFLIX_COSMOS_TENANT_ID": "t", "DATAFLIX_COSMOS_CLIENT_ID": "c",
           "DATAFLIX_COSMOS_CLIENT_SECRET": "cs"}
    principal = resolve_account(CosmosConfig(), env)
    assert (principal.auth_type, principal.tenant_id, principal.client_id, principal.client_secret) == (
        "service_principal", "t", "c", "cs")
    managed = resolve_account(CosmosConfig(auth="managed_identity"), {"DATAFLIX_COSMOS_ENDPOINT": ENDPOINT})
    assert managed.auth_type == "default" and managed.key is None


@pytest.mark.parametrize(
    ("config", "env", "message"),
    [
        (CosmosConfig(), {}, "no Cosmos DB endpoint: set DATAFLIX_COSMOS_ENDPOINT"),
        (CosmosConfig(), {"DATAFLIX_COSMOS_ENDPOINT": ENDPOINT}, "no Cosmos DB credentials"),
        (CosmosConfig(), {"DATAFLIX_COSMOS_ENDPOINT": "acct.documents.azure.com"}, "must be an https:// URL"),
        (CosmosConfig(), {"DATAFLIX_COSMOS_ENDPOINT": "http://acct:8081/", "DATAFLIX_COSMOS_KEY": "k"},
         "only for a local emulator"),
        (CosmosConfig(auth="key"), {"DATAFLIX_COSMOS_ENDPOINT": ENDPOINT}, "DATAFLIX_COSMOS_KEY is not set"),
        (CosmosConfig(auth="service_principal"), {"DATAFLIX_COSMOS_ENDPOINT": ENDPOINT, "DATAFLIX_COSMOS_TENANT_ID": "t"},
         "needs DATAFLIX_COSMOS_CLIENT_ID, DATAFLIX_COSMOS_CLIENT_SECRET"),
    ],
    ids=["no-endpoint", "no-credentials", "not-a-url", "http-outside-an-emulator", "key-auth-without-key",
         "incomplete-service-principal"],
)
def test_missing_or_bad_settings_are_one_line(config, env, message):
    with pytest.raises(ConfigError, match=message) as error:
        resolve_account(config, env)
    assert "\n" not in str(error.value)


def test_the_emulator_takes_its_published_key_and_the_flag_or_the_environment_turns_it_on():
    env = {"DATAFLIX_COSMOS_ENDPOINT": "https://localhost:8081/"}
    assert resolve_account(CosmosConfig(), env, emulator=True).key == EMULATOR_KEY
    on = resolve_account(CosmosConfig(), {**env, "DATAFLIX_COSMOS_EMULATOR": "1"})
    assert on.emulator and on.key == EMULATOR_KEY
    assert resolve_account(CosmosConfig(), {**env, "DATAFLIX_COSMOS_KEY": "mine"}, emulator=True).key == "mine"


def test_a_databricks_secret_scope_gives_what_the_environment_lacks():
    scope = {"cosmos-key": "from-the-scope", "pepper": "scoped-pepper"}
    account = resolve_account(CosmosConfig(), {"DATAFLIX_COSMOS_ENDPOINT": ENDPOINT}, secret=scope.get)
    assert account.key == "from-the-scope"
    env_first = resolve_account(CosmosConfig(), {"DATAFLIX_COSMOS_ENDPOINT": ENDPOINT, "DATAFLIX_COSMOS_KEY": "env"},
                                secret=scope.get)
    assert env_first.key == "env"
    assert resolve_pepper({}, secret=scope.get) == "scoped-pepper"
    assert resolve_pepper({"DATAFLIX_PEPPER": "env-pepper"}, secret=scope.get) == "env-pepper"


def test_secrets_never_reach_repr():
    account = CosmosAccount(endpoint=ENDPOINT, database="d", auth_type="service_principal", key="k-secret",
                            tenant_id="t", client_id="c", client_secret="cs-secret")
    assert "k-secret" not in repr(account) and "cs-secret" not in repr(account)
    assert account.location("content") == "cosmos://acct.documents.azure.com:443/d/content"


def test_datasource_options_for_a_first_and_a_later_read():
    config = CosmosConfig(target_ru_per_second=2000, priority="Low", page_size=1000)
    first = datasource_options(KEY_ACCOUNT, config, "playback_events", None)
    assert first == {"endpoint": ENDPOINT, "database": "dataflix", "container": "playback_events", "auth_type": "key",
                     "account_key": "s3cr3t-key==", "target_ru_per_second": "2000", "priority": "Low",
                     "page_size": "1000"}
    later = datasource_options(KEY_ACCOUNT, CosmosConfig(), "content", 1790000000)
    assert later["query"] == "SELECT * FROM c WHERE c._ts >= @since"
    assert json.loads(later["query_parameters"]) == [{"name": "@since", "value": 1790000000}]


def test_datasource_options_for_a_service_principal_and_an_emulator():
    principal = CosmosAccount(endpoint=ENDPOINT, database="d", auth_type="service_principal", tenant_id="t",
                              client_id="c", client_secret="cs")
    opts = datasource_options(principal, CosmosConfig(), "content", None)
    assert (opts["auth_type"], opts["tenant_id"], opts["client_id"], opts["client_secret"]) == (
        "service_principal", "t", "c", "cs")
    assert "account_key" not in opts and "tls_verify" not in opts
    # The SDK never verifies localhost's certificate; another emulator host needs tls_verify=false.
    local = CosmosAccount(endpoint="https://127.0.0.1:8081/", database="d", auth_type="key", key="k", emulator=True)
    remote = CosmosAccount(endpoint="https://cosmos-emulator:8081/", database="d", auth_type="key", key="k",
                           emulator=True)
    assert "tls_verify" not in datasource_options(local, CosmosConfig(), "content", None)
    assert datasource_options(remote, CosmosConfig(), "content", None)["tls_verify"] == "false"
    managed = CosmosAccount(endpoint=ENDPOINT, database="d", auth_type="default")
    assert datasource_options(managed, CosmosConfig(), "content", None)["auth_type"] == "default"


def test_connector_options_read_raw_documents_since_the_mark():
    opts = connector_options(KEY_ACCOUNT, CosmosConfig(page_size=1000), "subscriptions", 1790000000)
    assert opts["spark.cosmos.read.inferSchema.enabled"] == "false"  # id, _rawBody, _ts
    assert opts["spark.cosmos.read.customQuery"] == "SELECT * FROM c WHERE c._ts >= 1790000000"
    assert (opts["spark.cosmos.accountEndpoint"], opts["spark.cosmos.database"], opts["spark.cosmos.container"]) == (
        ENDPOINT, "dataflix", "subscriptions")
    assert opts["spark.cosmos.accountKey"] == "s3cr3t-key=="
    assert opts["spark.cosmos.read.maxItemCount"] == "1000"
    assert not any("throughputControl" in name for name in opts)
    assert connector_options(KEY_ACCOUNT, CosmosConfig(), "content", None)["spark.cosmos.read.customQuery"] == (
        "SELECT * FROM c")


def test_connector_options_for_entra_id_and_throughput_control():
    principal = CosmosAccount(endpoint=ENDPOINT, database="d", auth_type="service_principal", tenant_id="t",
                              client_id="c", client_secret="cs")
    opts = connector_options(principal, CosmosConfig(target_ru_per_second=500, priority="Low"), "content", None)
    assert {k: opts[k] for k in opts if k.startswith("spark.cosmos.auth") or "tenant" in k} == {
        "spark.cosmos.auth.type": "ServicePrincipal", "spark.cosmos.account.tenantId": "t",
        "spark.cosmos.auth.aad.clientId": "c", "spark.cosmos.auth.aad.clientSecret": "cs"}
    assert opts["spark.cosmos.throughputControl.enabled"] == "true"
    assert opts["spark.cosmos.throughputControl.targetThroughput"] == "500"
    assert opts["spark.cosmos.throughputControl.priorityLevel"] == "Low"
    assert opts["spark.cosmos.throughputControl.globalControl.useDedicatedContainer"] == "false"
    managed = connector_options(CosmosAccount(endpoint=ENDPOINT, database="d", auth_type="default"), CosmosConfig(),
                                "content", None)
    assert managed["spark.cosmos.auth.type"] == "ManagedIdentity" and "spark.cosmos.accountKey" not in managed


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("CosmosHttpResponseError: (Unauthorized) The input authorization token can't serve the request. Code: 401",
         "the credentials were refused"),
        ("azure.cosmos.exceptions.CosmosResourceNotFoundError: Status code: 404\nResource Not Found",
         "the database or the container does not exist"),
        ("CosmosHttpResponseError: (TooManyRequests) Request rate is large. Status code: 429",
         "throttled (HTTP 429) past the retries"),
        ("azure.core.exceptions.ServiceRequestError: <urllib3.connection.HTTPSConnection>: Failed to establish a new "
         "connection: [Errno 111] Connection refused", "unreachable"),
        ("ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] self-signed certificate",
         "its TLS certificate is not trusted"),
        ("Traceback (most recent call last):\n  File x\nValueError: something odd", "the read failed: ValueError: "
                                                                                     "something odd"),
    ],
    ids=["refused-key", "missing", "throttled", "unreachable", "untrusted-certificate", "other"],
)
def test_failures_are_one_line_naming_account_and_container_never_the_key(error, reason):
    line = describe_failure(RuntimeError(error + " key=s3cr3t-key=="), KEY_ACCOUNT, "playback_events")
    assert line.startswith("Cosmos DB account acct.documents.azure.com:443, database dataflix, container "
                           "playback_events: ")
    assert reason in line and "\n" not in line and "s3cr3t-key==" not in line


def test_cosmos_settings_in_conf_are_checked(tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text("source: cosmos\ncosmos:\n  reader: connector\n  target_ru_per_second: 400\n  priority: Low\n")
    settings = load_settings(str(conf))
    assert (settings.source, settings.cosmos.reader, settings.cosmos.target_ru_per_second) == ("cosmos", "connector", 400)
    for bad, message in (("reader: jdbc", "cosmos.reader must be one of datasource, connector"),
                         ("priority: urgent", "cosmos.priority must be Low or High"),
                         ("page_size: -1", "cosmos.page_size must be a whole number"),
                         ("overlap_seconds: soon", "cosmos.overlap_seconds must be a whole number")):
        conf.write_text(f"cosmos:\n  {bad}\n")
        with pytest.raises(ConfigError, match=message):
            load_settings(str(conf))
    conf.write_text("source: mongodb\n")
    with pytest.raises(ConfigError, match="unknown source 'mongodb': use one of local, cosmos"):
        load_settings(str(conf))


def test_an_endpoint_nothing_listens_on_is_said_before_spark_starts():
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    account = CosmosAccount(endpoint=f"https://127.0.0.1:{port}/", database="db", auth_type="key", key="k")
    with pytest.raises(SourceError, match=rf"^Cosmos DB account 127\.0\.0\.1:{port}, database db: the account is "
                                          r"unreachable \(Connection refused\)"):
        check_reachable(account, environ={})
    check_reachable(account, environ={"HTTPS_PROXY": "http://proxy:3128"})  # through a proxy: the SDK's to say


def test_a_listening_endpoint_passes_the_check():
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        account = CosmosAccount(endpoint=f"https://127.0.0.1:{server.getsockname()[1]}/", database="db",
                                auth_type="key", key="k")
        check_reachable(account, environ={})
