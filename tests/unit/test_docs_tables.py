"""docs/tables.md and docs/documents.md hold every table, column and input field the code defines.

The code is the source of truth: each gold table of `gold.build.GOLD_TABLES` must have a section
headed "### `<table>`" in docs/tables.md whose column table (header `| column | type | definition |`)
lists exactly the columns of `schemas.GOLD_SCHEMAS[<table>]`, in order and with their Delta types. The
same holds for bronze, silver and the ops tables (their schemas are in the code too) and for the work
tables (`WORK_COLUMNS` below: their builders define no schema). Every input field of `schemas.FIELDS`
must be a row of its container's field table in docs/documents.md. No SparkSession: schemas and markdown only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import types as T

from dataflix_spark import schemas
from dataflix_spark.lakehouse import CONTAINERS
from dataflix_spark.gold.build import GOLD_TABLES, LIST_USERS, RANK_DAILY, USER_EVENT_COUNTRY, WORK_TABLES
from dataflix_spark.ops.gold_state import GOLD_STATE_SCHEMA
from dataflix_spark.sources.cosmos import PARTITION_KEYS

DOCS = Path(__file__).resolve().parents[2] / "docs"
TABLES_MD = DOCS / "tables.md"
DOCUMENTS_MD = DOCS / "documents.md"

# The work tables have no schema in dataflix_spark.schemas: their columns are those their builders give
# (gold.recommendations.rank_daily_from_counts, gold.dashboard.latest_event_country and lists_per_user).
WORK_COLUMNS: dict[str, list[tuple[str, str]]] = {
    RANK_DAILY: [("date", "date"), ("algorithm", "string"), ("rank", "integer"), ("impressions", "long"),
                 ("conversions", "long")],
    USER_EVENT_COUNTRY: [("user_key", "string"), ("event_ts", "timestamp"), ("doc_id", "string"),
                         ("country", "string")],
    LIST_USERS: [("user_key", "string"), ("lists", "long")],
}

# Every other table with a section in tables.md, by its heading, and the schema the code writes it with.
OTHER_SCHEMAS: dict[str, T.StructType] = {
    "bronze/<container>": schemas.BRONZE_SCHEMA,
    **{f"silver/{container}": schemas.SILVER_SCHEMAS[container] for container in CONTAINERS},
    "ops/run_log": schemas.RUN_LOG_SCHEMA,
    "ops/quarantine": schemas.QUARANTINE_SCHEMA,
    "ops/source_files": schemas.SOURCE_FILES_SCHEMA,
    "ops/cosmos_marks": schemas.COSMOS_MARKS_SCHEMA,
    "ops/gold_state": GOLD_STATE_SCHEMA,
}

ENUMS = [
    ("content", "contentType", schemas.CONTENT_TYPES),
    ("subscriptions", "plan", schemas.PLANS),
    ("subscriptions", "status", schemas.SUBSCRIPTION_STATUSES),
    ("playback_events", "eventType", schemas.EVENT_TYPES),
    ("playback_events", "deviceType", schemas.DEVICE_TYPES),
]
SYSTEM_PROPERTIES = ("_rid", "_self", "_etag", "_attachments", "_ts")


@dataclass(frozen=True)
class Section:
    level: int
    title: str
    body: str  # up to the next heading of the same or a higher level


def read_sections(path: Path) -> list[Section]:
    lines = path.read_text(encoding="utf-8").splitlines()
    headings, fenced = [], False
    for number, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else re.match(r"^(#{1,6})\s+(.*?)\s*$", line)
        if match:
            headings.append((number, len(match.group(1)), match.group(2)))
    sections = []
    for i, (number, level, title) in enumerate(headings):
        end = next((n for n, lvl, _ in headings[i + 1:] if lvl <= level), len(lines))
        sections.append(Section(level, title, "\n".join(lines[number + 1:end])))
    return sections


def section(path: Path, name: str) -> Section:
    """The one section headed `name` in backticks (e.g. "### `dim_user`")."""
    found = [s for s in read_sections(path) if s.title == f"`{name}`"]
    assert len(found) == 1, f"{path.name}: {len(found)} sections headed `{name}`, expected 1"
    return found[0]


def cells(line: str) -> list[str]:
    """A markdown table row's cells (`\\|` inside a cell is not a separator), backticks kept."""
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [c.strip() for c in re.split(r"(?<!\\)\|", inner)]


def tables(body: str, first_header: str) -> list[list[list[str]]]:
    """The rows (below the header and separator) of every markdown table whose first header cell is `first_header`."""
    lines, found, i = body.splitlines(), [], 0
    while i < len(lines):
        if lines[i].lstrip().startswith("|") and cells(lines[i])[0] == first_header:
            i += 2  # header and |---| separator
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            found.append(rows)
        else:
            i += 1
    return found


def unquoted(cell: str) -> str:
    return cell.strip().strip("`")


def delta_type(data_type: T.DataType) -> str:
    """The type as tables.md writes it: Delta's name (`long`, `integer`, `decimal(18,2)`), arrays and
    structs spelled out."""
    if isinstance(data_type, T.ArrayType):
        return f"array<{delta_type(data_type.elementType)}>"
    if isinstance(data_type, T.StructType):
        return "struct<" + ",".join(f"{f.name}:{delta_type(f.dataType)}" for f in data_type.fields) + ">"
    return data_type.jsonValue()


def columns_of(schema: T.StructType) -> list[tuple[str, str]]:
    return [(f.name, delta_type(f.dataType)) for f in schema.fields]


def documented_columns(heading: str) -> list[tuple[str, str]]:
    """(column, type) of the one column table in the section headed `heading` of tables.md."""
    found = tables(section(TABLES_MD, heading).body, "column")
    assert len(found) == 1, f"tables.md, `{heading}`: {len(found)} column tables, expected 1"
    rows = found[0]
    assert all(len(row) == 3 and row[2] for row in rows), f"`{heading}`: a row without a type or a definition"
    return [(unquoted(row[0]), unquoted(row[1])) for row in rows]


@pytest.mark.parametrize("table", GOLD_TABLES)
def test_every_gold_column_is_documented_with_its_type(table):
    assert documented_columns(table) == columns_of(schemas.GOLD_SCHEMAS[table])


def test_the_gold_overview_lists_every_gold_table():
    gold = [s for s in read_sections(TABLES_MD) if s.level == 2 and s.title == "Gold"]
    assert len(gold) == 1
    overview = tables(gold[0].body, "table")
    assert len(overview) == 1
    assert sorted(unquoted(row[0]) for row in overview[0]) == sorted(GOLD_TABLES)


def test_work_tables_are_documented():
    assert set(WORK_COLUMNS) == set(WORK_TABLES), "a work table was added or removed: update WORK_COLUMNS and tables.md"
    for table, columns in WORK_COLUMNS.items():
        assert documented_columns(f"work/{table}") == columns


@pytest.mark.parametrize("heading", OTHER_SCHEMAS)
def test_bronze_silver_and_ops_tables_are_documented(heading):
    assert documented_columns(heading) == columns_of(OTHER_SCHEMAS[heading])


def test_tables_md_documents_no_other_table():
    # A section for a table the code no longer writes would be stale.
    expected = {f"`{name}`" for name in GOLD_TABLES} | {f"`work/{name}`" for name in WORK_TABLES} | {
        f"`{heading}`" for heading in OTHER_SCHEMAS
    }
    headed = {s.title for s in read_sections(TABLES_MD) if s.title.startswith("`")}
    assert headed == expected


def documented_fields(container: str) -> dict[str, list[str]]:
    found = tables(section(DOCUMENTS_MD, container).body, "field")
    assert len(found) == 1, f"documents.md, `{container}`: {len(found)} field tables, expected 1"
    return {unquoted(row[0]): row for row in found[0]}


@pytest.mark.parametrize("container", CONTAINERS)
def test_every_input_field_is_documented(container):
    rows = documented_fields(container)
    assert list(rows) == [f.name for f in schemas.FIELDS[container]]
    silver = set(schemas.SILVER_SCHEMAS[container].names)
    for field in schemas.FIELDS[container]:
        _, _, required, silver_column, *_ = rows[field.name]
        # "yes" exactly for the fields validation requires on every document.
        assert (required == "yes") == field.required, (container, field.name, required)
        # userId reaches silver pseudonymised; customer and payment do not reach it (only customer.country).
        column = "user_key" if field.column == "user_id" else field.column
        if column in silver:
            assert unquoted(silver_column) == column, (container, field.name, silver_column)
        else:
            assert silver_column.startswith("—"), (container, field.name, silver_column)


@pytest.mark.parametrize("container, field, values", ENUMS)
def test_enumerated_values_are_documented(container, field, values):
    row = " | ".join(documented_fields(container)[field])
    assert [v for v in values if f"`{v}`" not in row] == []


@pytest.mark.parametrize("container", CONTAINERS)
def test_partition_keys_are_documented(container):
    assert f"`{PARTITION_KEYS[container]}`" in section(DOCUMENTS_MD, container).body


def test_cosmos_system_properties_are_documented():
    text = DOCUMENTS_MD.read_text(encoding="utf-8")
    assert [p for p in SYSTEM_PROPERTIES if f"`{p}`" not in text] == []
