"""The shipped DDL is what the generator writes, and the Synapse serverless views (T-SQL, which cannot run here)
name every gold table and column, in order, with a type that reads the Delta column without loss."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from pyspark.sql import types as T

from dataflix_spark.gold.build import GOLD_TABLES
from dataflix_spark.schemas import GOLD_SCHEMAS
from dataflix_spark.serving import ddl

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"

VIEW = re.compile(
    r"CREATE OR ALTER VIEW dbo\.(?P<view>\w+) AS\s+SELECT \*\s+"
    r"FROM OPENROWSET\(BULK '(?P<path>[^']+)', DATA_SOURCE = 'dataflix_lake', FORMAT = 'DELTA'\)\s+"
    r"WITH \((?P<columns>.*?)\) AS \[rows\];\s+GO",
    re.DOTALL,
)
COLUMN = re.compile(r"^\s*\[(?P<name>\w+)\] (?P<type>.+?),?$")


def compatible(tsql: str, kind: T.DataType) -> bool:
    """Independent of the generator: which serverless types hold each Spark type exactly."""
    if isinstance(kind, T.StringType):
        return re.fullmatch(r"(N?VARCHAR\((\d+|MAX)\))( COLLATE \w+_UTF8)?", tsql) is not None
    if isinstance(kind, T.DecimalType):
        match = re.fullmatch(r"DECIMAL\((\d+), ?(\d+)\)", tsql)
        if not match:
            return False
        precision, scale = int(match[1]), int(match[2])
        return scale >= kind.scale and precision - scale >= kind.precision - kind.scale
    exact = {T.IntegerType: {"INT", "BIGINT"}, T.LongType: {"BIGINT"}, T.DoubleType: {"FLOAT"}, T.BooleanType: {"BIT"},
             T.DateType: {"DATE"}}
    for spark_type, allowed in exact.items():
        if isinstance(kind, spark_type):
            return tsql in allowed
    if isinstance(kind, T.TimestampType):
        return re.fullmatch(r"DATETIME2\([67]\)", tsql) is not None  # microseconds need a precision of 6 or more
    return False


def synapse_views() -> dict[str, tuple[str, list[tuple[str, str]]]]:
    text = (SQL_DIR / "synapse" / "register_gold_views.sql").read_text()
    views = {}
    for match in VIEW.finditer(text):
        columns = [COLUMN.match(line) for line in match["columns"].strip().splitlines()]
        assert all(columns), match["columns"]
        views[match["view"]] = (match["path"], [(c["name"], c["type"]) for c in columns])
    return views


@pytest.mark.parametrize("relative", sorted(ddl.FILES))
def test_shipped_ddl_is_generated_from_the_gold_schemas(relative):
    shipped = (SQL_DIR / relative).read_text()
    assert shipped == ddl.FILES[relative](), f"sql/{relative} is stale: run python -m dataflix_spark.serving.ddl sql/"


def test_synapse_views_cover_every_gold_table():
    assert sorted(synapse_views()) == sorted(GOLD_TABLES)


@pytest.mark.parametrize("name", GOLD_TABLES)
def test_synapse_view_columns_match_the_gold_schema(name):
    path, columns = synapse_views()[name]
    assert path == f"gold/{name}/"
    schema = GOLD_SCHEMAS[name]
    assert [c for c, _ in columns] == schema.fieldNames()
    for (column, tsql), field in zip(columns, schema.fields):
        assert compatible(tsql, field.dataType), f"{name}.{column}: {tsql} cannot hold {field.dataType.simpleString()}"


def test_compatibility_rules_reject_lossy_types():
    assert not compatible("INT", T.LongType())
    assert not compatible("REAL", T.DoubleType())
    assert not compatible("DECIMAL(10, 2)", T.DecimalType(18, 2))
    assert not compatible("DATETIME2(3)", T.TimestampType())
    assert not compatible("VARCHAR(256) COLLATE Latin1_General_CI_AS", T.StringType())  # not UTF-8: mangles text
