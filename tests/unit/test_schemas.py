"""The gold schemas: one per gold table, flat, portable column types and snake_case names."""
from __future__ import annotations

import re

from pyspark.sql import types as T

from dataflix_spark.gold.build import GOLD_TABLES
from dataflix_spark.schemas import GOLD_SCHEMAS

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
NOT_SCALAR = (T.ArrayType, T.MapType, T.StructType)


def test_one_gold_schema_per_gold_table():
    assert set(GOLD_SCHEMAS) == set(GOLD_TABLES)


def test_gold_columns_are_scalar_portable_and_snake_case():
    # Power BI and SQL endpoints read flat tables; timestamp_ntz needs a newer Delta reader (sinks.delta).
    bad = [
        (table, field.name, field.dataType.simpleString())
        for table, schema in GOLD_SCHEMAS.items()
        for field in schema.fields
        if isinstance(field.dataType, NOT_SCALAR + (T.TimestampNTZType,)) or not SNAKE_CASE.match(field.name)
    ]
    assert bad == []
