"""sql/spark/register_gold_tables.sql, run as shipped on Spark SQL over the built lakehouse, registers every gold
table so that reading it back gives the Delta table."""
from __future__ import annotations

from pathlib import Path

import pytest
from chispa import assert_df_equality

from dataflix_spark.gold.build import GOLD_TABLES
from dataflix_spark.schemas import GOLD_SCHEMAS

DDL = Path(__file__).resolve().parents[2] / "sql" / "spark" / "register_gold_tables.sql"


def statements(sql: str) -> list[str]:
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


@pytest.fixture(scope="module")
def registered(spark, built_lakehouse):
    spark.conf.set("storage_root", str(built_lakehouse["path"]))  # ${storage_root} in the file
    try:
        for statement in statements(DDL.read_text()):
            spark.sql(statement)
        yield spark
    finally:
        spark.sql("DROP SCHEMA IF EXISTS dataflix CASCADE")  # external tables: the data stays
        spark.conf.unset("storage_root")


def test_ddl_registers_every_gold_table(registered):
    tables = {row.tableName for row in registered.sql("SHOW TABLES IN dataflix").collect()}
    assert tables == set(GOLD_TABLES)


def test_registered_tables_point_at_their_gold_folders(registered, built_lakehouse):
    for name in GOLD_TABLES:
        jvm = registered._jvm
        identifier = jvm.org.apache.spark.sql.catalyst.TableIdentifier(name, jvm.scala.Some("dataflix"))
        location = registered._jsparkSession.sessionState().catalog().getTableMetadata(identifier).location().getPath()
        assert Path(location) == Path(built_lakehouse["path"]) / "gold" / name
        schema = registered.table(f"dataflix.{name}").schema
        assert [(f.name, f.dataType) for f in schema] == [(f.name, f.dataType) for f in GOLD_SCHEMAS[name]]


# Full row equality where a wrong declaration would show: the partitioned facts, money, dates.
@pytest.mark.parametrize("name", ["fact_playback_sessions", "fact_engagement_sessions", "agg_subscriptions_monthly",
                                  "dim_date"])
def test_registered_table_reads_back_the_delta_table(registered, built_lakehouse, name):
    table = registered.table(f"dataflix.{name}")
    delta = registered.read.format("delta").load(str(Path(built_lakehouse["path"]) / "gold" / name))
    assert_df_equality(table, delta, ignore_row_order=True, ignore_nullable=True)
