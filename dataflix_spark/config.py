"""Settings: YAML in conf/, overridden by command-line flags; secrets only from the environment."""
from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

log = logging.getLogger(__name__)

PEPPER_ENV = "DATAFLIX_PEPPER"
# Public on purpose: only for local demos, where user keys need not be secret.
DEMO_PEPPER = "dataflix-local-demo-pepper"


class ConfigError(Exception):
    """A bad invocation or setting, reported as one line without a stack trace."""


@dataclass
class SparkSettings:
    master: str = "local[*]"
    app_name: str = "dataflix"
    driver_memory: str = "3g"  # local mode: heap + JVM overhead peaked at 3.56 GiB on 11.5M events
    shuffle_partitions: int = 8
    show_progress_bar: bool = False
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class QoeThresholds:
    """When a viewer's experience counts as poor (gold/qoe_churn.py): a value strictly above a threshold."""

    rebuffer_ratio: float = 0.02
    startup_p90_ms: int = 4000

    def __post_init__(self) -> None:
        ratio, startup = self.rebuffer_ratio, self.startup_p90_ms
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
            raise ConfigError(f"qoe.rebuffer_ratio must be a number from 0 to 1, got {ratio!r}")
        if isinstance(startup, bool) or not isinstance(startup, int) or startup < 0:
            raise ConfigError(f"qoe.startup_p90_ms must be a whole number of milliseconds >= 0, got {startup!r}")


SOURCES = ("local", "cosmos")
COSMOS_READERS = ("datasource", "connector")
COSMOS_AUTH = ("auto", "key", "service_principal", "managed_identity")
COSMOS_PRIORITIES = ("Low", "High")


@dataclass(frozen=True)
class CosmosConfig:
    """The `cosmos:` block: everything about the account that is not a secret (secrets: sources/cosmos.py)."""

    reader: str = "datasource"  # the PyPI data source; `connector`: the JVM connector's cosmos.oltp
    endpoint: str | None = None  # DATAFLIX_COSMOS_ENDPOINT wins
    database: str = "dataflix"  # DATAFLIX_COSMOS_DATABASE wins
    auth: str = "auto"  # a key when DATAFLIX_COSMOS_KEY is set, else a service principal, else an error
    emulator: bool = False  # accept a local emulator's self-signed certificate
    overlap_seconds: int = 300  # each read starts this long before the last mark (replication lag, 1 s `_ts`)
    target_ru_per_second: int | None = None
    priority: str | None = None
    page_size: int | None = None
    max_retries: int | None = None  # the data source's retries after the SDK's own (default 8)
    retry_max_backoff_seconds: float | None = None

    def __post_init__(self) -> None:
        for name, allowed in (("reader", COSMOS_READERS), ("auth", COSMOS_AUTH)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"cosmos.{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.priority is not None and self.priority not in COSMOS_PRIORITIES:
            raise ConfigError(f"cosmos.priority must be Low or High, got {self.priority!r}")
        for name in ("overlap_seconds", "target_ru_per_second", "page_size", "max_retries"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ConfigError(f"cosmos.{name} must be a whole number >= 0, got {value!r}")
        if self.page_size == 0 or self.target_ru_per_second == 0:
            raise ConfigError("cosmos.page_size and cosmos.target_ru_per_second must be above 0 when set")


@dataclass
class Settings:
    spark: SparkSettings = field(default_factory=SparkSettings)
    qoe: QoeThresholds = field(default_factory=QoeThresholds)
    cosmos: CosmosConfig = field(default_factory=CosmosConfig)
    source: str = "local"
    # Databricks: the secrets not set in the environment come from this secret scope (keys `pepper`, `cosmos-key`,
    # `cosmos-client-secret`), for serverless jobs, which take no environment variables.
    secret_scope: str | None = None
    # Fabric: the same, from this Azure Key Vault (https://<vault>.vault.azure.net/), with the same secret names.
    key_vault: str | None = None
    input: str | None = None
    lakehouse: str = "./lakehouse"


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict):
            # Unset flags (None) inside a block leave the defaults, with or without that block in the file.
            below = merged.get(key)
            merged[key] = _merge(below if isinstance(below, dict) else {}, value)
        elif value is not None:
            merged[key] = value
    return merged


def load_settings(conf_file: str | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Settings from a YAML file (optional) with `overrides` (from flags) applied on top."""
    data: dict[str, Any] = {}
    if conf_file:
        path = Path(conf_file)
        if not path.is_file():
            raise ConfigError(f"config file not found: {conf_file}")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {conf_file} is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {conf_file} must hold a mapping of settings")
    data = _merge(data, overrides or {})
    spark = data.pop("spark", {}) or {}
    qoe = data.pop("qoe", {}) or {}
    cosmos = data.pop("cosmos", {}) or {}
    try:
        settings = Settings(spark=SparkSettings(**spark), qoe=QoeThresholds(**qoe), cosmos=CosmosConfig(**cosmos),
                            **data)
    except TypeError as exc:
        raise ConfigError(f"unknown or invalid setting in {conf_file or 'flags'}: {exc}") from None
    if settings.source not in SOURCES:
        raise ConfigError(f"unknown source {settings.source!r}: use one of {', '.join(SOURCES)}")
    return settings


def parse_as_of(text: str | None, today: dt.date | None = None) -> dt.date:
    """The run's as-of date: `--as-of` when given, else the current UTC date."""
    if text is None:
        return today or dt.datetime.now(dt.timezone.utc).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--as-of must be a date YYYY-MM-DD, got {text!r}") from None


def resolve_pepper(environ: dict[str, str] | None = None, secret: Callable[[str], str | None] | None = None) -> str:
    """The pepper for user keys (environment, else the secret scope's `pepper`); the public demo pepper, with a
    warning, when neither has one."""
    pepper = (environ if environ is not None else os.environ).get(PEPPER_ENV) or (secret("pepper") if secret else None)
    if pepper:
        return pepper
    log.warning("%s is not set: using the public demo pepper, fit for local demos only", PEPPER_ENV)
    return DEMO_PEPPER
