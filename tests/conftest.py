"""One session-scoped SparkSession for the whole suite: local[2], few shuffle partitions, UI off, Delta on."""
from __future__ import annotations

import pytest

from dataflix_spark.config import SparkSettings
from dataflix_spark.session import get_spark


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("warehouse")
    settings = SparkSettings(
        master="local[2]",
        app_name="dataflix-tests",
        driver_memory="2g",
        shuffle_partitions=2,
        conf={
            "spark.ui.enabled": "false",
            "spark.sql.warehouse.dir": str(warehouse),
            "spark.default.parallelism": "2",
            # As a small `dataflix run` does (cli.SMALL_RUN_SQL): interpreted, not generated, code for tiny
            # DataFrames (the unit tests: 336 -> 320 s). Generated code still runs in the suite: the first Cosmos DB
            # run (tests/integration/test_cosmos.py) turns it on and gives the same gold as in-process runs here.
            "spark.sql.codegen.wholeStage": "false",
            "spark.sql.codegen.factoryMode": "NO_CODEGEN",
            # And its Delta settings: no per-file statistics, one task to rebuild a table's log. Statistics are still
            # written in the suite: the first Cosmos DB run turns them on, and its gold is compared with runs here.
            "spark.databricks.delta.stats.collect": "false",
            "spark.databricks.delta.snapshotPartitions": "1",
            "spark.sql.adaptive.coalescePartitions.enabled": "true",
        },
    )
    session = get_spark(settings)
    yield session
    session.stop()
