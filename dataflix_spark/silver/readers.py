"""Column functions that read a JSON value (as text) as the contract's type.

Each returns null when the text cannot be read as that type, so validation can tell
"missing" (the text is null) from "wrong type" (text present, typed value null).
"""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from dataflix_spark.schemas import MONEY

_NUMBER = r"^\s*-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\s*$"
# ISO-8601 date-time; a missing zone designator is read as UTC (the session time zone).
_TIMESTAMP = (
    r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?\s*$"
)
_DATE = r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*$"


def read_double(text: Column) -> Column:
    """A JSON number (or numeric string); NaN and Infinity are not numbers here."""
    return F.when(text.rlike(_NUMBER), text.try_cast("double"))


def read_long(text: Column) -> Column:
    """A whole number; `1500.0` reads as 1500, `1500.7` does not read."""
    value = read_double(text)
    return F.when(value == F.floor(value), value.try_cast("long"))


def read_int(text: Column) -> Column:
    return read_long(text).try_cast("int")


def read_money(text: Column) -> Column:
    return F.when(text.rlike(_NUMBER), F.trim(text).try_cast(MONEY))


def read_boolean(text: Column) -> Column:
    """`true` or `false` in any letter case, spaces around allowed."""
    # Only ASCII letters lower-case to these words, so `translate` reads the same as `lower`, without the ICU case
    # mapping `lower` starts (0.8 CPU-s of a new JVM's small run, for this function alone).
    lowered = F.translate(F.trim(text), "TRUEFALS", "truefals")
    return F.when(lowered == "true", F.lit(True)).when(lowered == "false", F.lit(False))


def read_timestamp(text: Column) -> Column:
    return F.when(text.rlike(_TIMESTAMP), F.trim(text).try_cast("timestamp"))


def read_date(text: Column) -> Column:
    return F.when(text.rlike(_DATE), F.trim(text).try_cast("date"))


def read_object(text: Column) -> Column:
    """The JSON text itself when it is an object, else null."""
    return F.when(F.json_object_keys(text).isNotNull(), text)


def read_string(text: Column) -> Column:
    return text


READERS = {
    "string": read_string,
    "int": read_int,
    "long": read_long,
    "double": read_double,
    "money": read_money,
    "boolean": read_boolean,
    "timestamp": read_timestamp,
    "date": read_date,
    "object": read_object,
}
