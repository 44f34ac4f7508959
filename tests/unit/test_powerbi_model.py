"""The Power BI semantic model (powerbi/DataFlix.SemanticModel, TMDL) cannot drift from the gold tables: every table,
column, relationship and DAX reference exists in schemas.GOLD_SCHEMAS with a compatible type, every table is
DirectQuery over the Server/Database parameters, and every measure the teams asked for is there."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pyspark.sql import types as T

from dataflix_spark.schemas import GOLD_SCHEMAS

PBIP = Path(__file__).resolve().parents[2] / "powerbi"
MODEL = PBIP / "DataFlix.SemanticModel" / "definition"

REQUIRED_MEASURES = {
    "Revenue", "Subscribers", "New Subscribers", "Cancellations", "Churn Rate", "MRR", "Rebuffer Ratio",
    "Startup Time p90", "Exits Before Start %", "Playback Failure %", "Recommendation Conversion",
}
# TMDL dataType -> the Spark types it reads without loss.
COMPATIBLE = {
    "string": (T.StringType,),
    "int64": (T.IntegerType, T.LongType),
    "double": (T.DoubleType, T.FloatType),
    "boolean": (T.BooleanType,),
    "dateTime": (T.DateType, T.TimestampType),
    "decimal": (T.DecimalType,),  # fixed decimal: 4 places
}


@dataclass
class Table:
    name: str
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    measures: dict[str, str] = field(default_factory=dict)
    partitions: list[dict[str, str]] = field(default_factory=list)


def _name(raw: str) -> str:
    raw = raw.strip()
    return raw[1:-1].replace("''", "'") if raw.startswith("'") else raw


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip("\t"))


def parse_table(text: str) -> Table:
    """A minimal TMDL reader: the table, its columns' properties, measures' DAX and partitions' M."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("///")]
    table = Table(_name(next(line for line in lines if line.startswith("table ")).split(" ", 1)[1]))
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if _indent(line) == 1 and stripped.startswith(("column ", "measure ", "partition ")):
            kind, rest = stripped.split(" ", 1)
            name, _, expression = rest.partition("=")
            body, i = [], i + 1
            while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > 1):
                body.append(lines[i])
                i += 1
            properties = {}
            for child in body:
                if _indent(child) != 2 or not child.strip() or child.strip().startswith("annotation "):
                    continue
                if ":" in child:
                    key, _, value = child.strip().partition(":")
                    properties[key] = value.strip()
                else:  # a flag such as isKey
                    properties[child.strip().split(" ")[0]] = "true"
            deeper = "\n".join(child.strip() for child in body if _indent(child) >= 3)
            if kind == "column":
                table.columns[_name(name)] = properties
            elif kind == "measure":
                table.measures[_name(name)] = (expression.strip() + "\n" + deeper).strip()
            else:
                table.partitions.append({**properties, "kind": expression.strip(), "source": deeper})
            continue
        i += 1
    return table


@pytest.fixture(scope="module")
def tables() -> dict[str, Table]:
    parsed = [parse_table(path.read_text()) for path in sorted((MODEL / "tables").glob("*.tmdl"))]
    return {t.name: t for t in parsed}


def relationships() -> list[dict[str, str]]:
    found = []
    for block in (MODEL / "relationships.tmdl").read_text().split("relationship ")[1:]:
        props = dict(line.strip().partition(": ")[::2] for line in block.splitlines()[1:] if ": " in line)
        found.append(props)
    return found


def _column_ref(ref: str) -> tuple[str, str]:
    table, _, column = ref.partition(".")
    return _name(table), _name(column)


def _compatible(tmdl_type: str, spark_type: T.DataType) -> bool:
    if isinstance(spark_type, T.DecimalType) and tmdl_type == "decimal":
        return spark_type.scale <= 4
    return isinstance(spark_type, COMPATIBLE.get(tmdl_type, ()))


def test_model_tables_are_gold_tables_with_their_columns_and_types(tables):
    assert set(tables) == set(GOLD_SCHEMAS), "every gold table is in the model, the three QoE-business ones included"
    for table in tables.values():
        assert table.name in GOLD_SCHEMAS, f"{table.name} is not a gold table"
        schema = {f.name: f.dataType for f in GOLD_SCHEMAS[table.name].fields}
        assert table.columns, table.name
        for column, props in table.columns.items():
            source = _name(props["sourceColumn"].strip('"'))
            assert source in schema, f"{table.name}.{source} is not in the gold schema"
            assert _compatible(props["dataType"], schema[source]), (
                f"{table.name}.{column}: {props['dataType']} cannot hold {schema[source].simpleString()}")


def test_every_table_is_directquery_over_the_server_and_database_parameters(tables):
    for table in tables.values():
        assert len(table.partitions) == 1, table.name
        partition = table.partitions[0]
        assert partition["kind"] == "m" and partition["mode"] == "directQuery", table.name
        source = partition["source"]
        assert "ApacheSpark.Tables(Server," in source, table.name
        assert f'Source{{[Schema = Database, Item = "{table.name}"]}}[Data]' in source, table.name


def test_server_and_database_are_m_parameters():
    text = (MODEL / "expressions.tmdl").read_text()
    for name in ("Server", "Database"):
        match = re.search(rf'^expression {name} = "[^"]+" meta \[(.*)\]$', text, re.MULTILINE)
        assert match and "IsParameterQuery = true" in match[1] and 'Type = "Text"' in match[1], name
    assert re.search(r'^expression Server = "127\.0\.0\.1:10000"', text, re.MULTILINE)  # `dataflix serve`'s default


def test_relationships_join_facts_to_dimensions_on_existing_columns_of_one_type(tables):
    found = relationships()
    pairs = set()
    for rel in found:
        (from_table, from_column), (to_table, to_column) = _column_ref(rel["fromColumn"]), _column_ref(rel["toColumn"])
        for table, column in ((from_table, from_column), (to_table, to_column)):
            assert column in tables[table].columns, f"{table}.{column} is not in the model"
            assert column in GOLD_SCHEMAS[table].fieldNames(), f"{table}.{column} is not in the gold schema"
        assert tables[from_table].columns[from_column]["dataType"] == tables[to_table].columns[to_column]["dataType"]
        assert to_table in {"dim_date", "dim_content", "dim_user"} and tables[to_table].columns[to_column].get("isKey")
        pairs.add((from_table, to_table))
    for fact in ("fact_playback_sessions", "fact_engagement_sessions", "fact_subscriptions"):
        assert (fact, "dim_date") in pairs and (fact, "dim_user") in pairs, fact
    assert ("fact_playback_sessions", "dim_content") in pairs
    for daily in ("agg_qoe_daily", "agg_content_daily", "agg_recommendations_daily", "agg_subscriptions_monthly",
                  "agg_qoe_churn_monthly", "revenue_at_risk_daily", "agg_recommendation_qoe"):
        assert (daily, "dim_date") in pairs, daily


def test_dax_references_existing_columns_and_measures(tables):
    measures = {name for t in tables.values() for name in t.measures}
    numeric = (T.IntegerType, T.LongType, T.DoubleType, T.DecimalType)
    for table in tables.values():
        for measure, dax in table.measures.items():
            column_refs = re.findall(r"('(?:[^']|'')+'|\b[A-Za-z_]\w*)\[([^\]]+)\]", dax)
            assert column_refs, f"{measure} references no column"
            for ref_table, column in column_refs:
                ref_table = _name(ref_table)
                assert ref_table in tables and column in tables[ref_table].columns, f"{measure}: {ref_table}[{column}]"
                spark_type = {f.name: f.dataType for f in GOLD_SCHEMAS[ref_table].fields}[column]
                summed = re.search(rf"\b(SUM|MAX|MIN)\s*\(\s*{re.escape(ref_table)}\[{re.escape(column)}\]", dax)
                if summed:
                    assert isinstance(spark_type, numeric + (T.DateType,)), f"{measure}: {summed[1]} of {column}"
            for name in re.findall(r"(?<![\w'\]])\[([^\]]+)\]", dax):
                assert name in measures, f"{measure} references unknown measure [{name}]"


def test_every_asked_for_measure_exists_once(tables):
    names = [name for t in tables.values() for name in t.measures]
    assert REQUIRED_MEASURES <= set(names)
    assert len(names) == len(set(names))


def test_ratios_are_recomputed_from_sums_not_averaged(tables):
    """The contract gives numerator and denominator columns: a ratio over several days divides their sums."""
    dax = {name: expr for t in tables.values() for name, expr in t.measures.items()}
    for measure, (numerator, denominator) in {
        "Rebuffer Ratio": ("rebuffer_ms", "watch_time_ms"),
        "Exits Before Start %": ("exits_before_start", "sessions_with_start"),
        "Playback Failure %": ("failures", "sessions"),
        "Recommendation Conversion": ("conversions", "impressions"),
        "Churn Rate": ("churned", "subscribers_start"),
        "QoE Churn Rate": ("churned", "subscribers"),
        "Recommended Plays Rebuffer Ratio": ("rebuffer_ms", "watch_time_ms"),
        "Play Completion %": ("completions", "sessions"),
    }.items():
        assert dax[measure].startswith("DIVIDE"), measure
        assert f"[{numerator}]" in dax[measure] and f"[{denominator}]" in dax[measure], measure
        assert not re.search(r"AVERAGE|_rate\]|ratio\]", dax[measure]), f"{measure} averages a stored ratio"


def test_revenue_at_risk_is_a_stock_of_the_attributed_columns(tables):
    """Summing mrr_at_risk over devices double counts a subscriber at risk on two; over dates, every day of a week."""
    for measure in ("Revenue at Risk", "Subscribers at Risk"):
        dax = tables["revenue_at_risk_daily"].measures[measure]
        assert "[attributed_" in dax and "MAX ( revenue_at_risk_daily[date] )" in dax, measure
        assert not re.search(r"\[(mrr|subscribers)_at_risk\]", dax), measure


def test_model_lists_every_table_and_the_project_files_point_at_each_other(tables):
    model = (MODEL / "model.tmdl").read_text()
    assert set(re.findall(r"^ref table (\S+)$", model, re.MULTILINE)) == set(tables)
    assert re.search(r"^\tdefaultMode: directQuery$", model, re.MULTILINE)
    pbip = json.loads((PBIP / "DataFlix.pbip").read_text())
    report = PBIP / pbip["artifacts"][0]["report"]["path"]
    pbir = json.loads((report / "definition.pbir").read_text())
    assert (report / pbir["datasetReference"]["byPath"]["path"] / "definition.pbism").is_file()
    assert json.loads((report.parent / "DataFlix.SemanticModel" / "definition.pbism").read_text())["version"] >= "4.0"
