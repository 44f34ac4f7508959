"""Run accounting: `ops/run_log` rows (read = accepted + quarantined + duplicates) and the printed summary."""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from pyspark.sql import DataFrame, SparkSession

from dataflix_spark.schemas import RUN_LOG_SCHEMA


@dataclass
class ContainerCounts:
    run_id: str
    container: str
    read: int
    accepted: int
    quarantined: int
    duplicates: int
    unknown_content: int
    started_at: dt.datetime
    finished_at: dt.datetime

    def balanced(self) -> bool:
        return self.read == self.accepted + self.quarantined + self.duplicates


def run_log_rows(spark: SparkSession, counts: list[ContainerCounts], as_of: dt.date) -> DataFrame:
    """The run's `ops/run_log` rows (one per container; `as_of` is an extra column)."""
    return spark.createDataFrame([{**asdict(c), "as_of": as_of} for c in counts], RUN_LOG_SCHEMA)


def format_summary(counts: list[ContainerCounts]) -> str:
    header = f"{'container':<16}{'read':>12}{'accepted':>12}{'quarantined':>13}{'duplicates':>12}{'unknown_content':>17}"
    lines = [header, "-" * len(header)]
    for c in counts:
        lines.append(
            f"{c.container:<16}{c.read:>12,}{c.accepted:>12,}{c.quarantined:>13,}{c.duplicates:>12,}{c.unknown_content:>17,}"
        )
    return "\n".join(lines)
