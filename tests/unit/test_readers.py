"""silver/readers.py: JSON values, as text, read as the contract's types."""
from __future__ import annotations

from chispa import assert_column_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataflix_spark.silver.readers import read_boolean


def test_read_boolean_takes_true_and_false_in_any_letter_case_and_nothing_else(spark):
    cases = [
        ("true", True), ("false", False), ("TRUE", True), ("False", False), ("tRuE", True), ("  fAlSe  ", False),
        ("yes", None), ("1", None), ("0", None), ("", None), (None, None), ("truefalse", None), ("t", None),
        ("ＴＲＵＥ", None),  # full-width letters: not the JSON word, as `lower` read them too
        ("\ttrue", None),  # `trim` takes spaces only
        ("tru\u0065\u0301", None),  # an accent after the e
    ]
    schema = T.StructType([T.StructField("text", T.StringType()), T.StructField("expected", T.BooleanType())])
    df = spark.createDataFrame(cases, schema).withColumn("read", read_boolean(F.col("text")))
    assert_column_equality(df, "read", "expected")
    lowered = F.lower(F.trim(F.col("text")))
    by_lower = F.when(lowered == "true", True).when(lowered == "false", False)
    assert_column_equality(df.withColumn("by_lower", by_lower), "read", "by_lower")
