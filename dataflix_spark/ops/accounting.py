"""Run accounting: `ops/run_log` rows (read = accepted + quarantined + duplicates) and the printed summary."""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from pyspark.sql import DataFrame, SparkSession

from dataflix_spark.schemas import RUN_LOG_SCHEMA
from dataflix_spark.session import driver_rows


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
    # Killed runs whose bronze rows this run processed (and counted) for the container.
    resumed: tuple[str, ...] = field(default=())

    def balanced(self) -> bool:
        return self.read == self.accepted + self.quarantined + self.duplicates


def run_log_rows(spark: SparkSession, counts: list[ContainerCounts], as_of: dt.date) -> DataFrame:
    """The run's `ops/run_log` rows: one per container (`as_of` is an extra column), and one with zero counts
    per killed run it resumed, whose documents it counted: the killed run is then logged, so no later run
    processes its rows again."""
    zero = dict.fromkeys(("read", "accepted", "quarantined", "duplicates", "unknown_content"), 0)
    rows = []
    for c in counts:
        row = {**asdict(c), "as_of": as_of}
        del row["resumed"]
        rows.append(row)
        rows.extend({**row, **zero, "run_id": killed} for killed in c.resumed)
    return driver_rows(spark, rows, RUN_LOG_SCHEMA)


def format_summary(counts: list[ContainerCounts]) -> str:
    header = f"{'container':<16}{'read':>12}{'accepted':>12}{'quarantined':>13}{'duplicates':>12}{'unknown_content':>17}"
    lines = [header, "-" * len(header)]
    for c in counts:
        lines.append(
            f"{c.container:<16}{c.read:>12,}{c.accepted:>12,}{c.quarantined:>13,}{c.duplicates:>12,}{c.unknown_content:>17,}"
        )
    lines.append("duplicates: valid documents not newer than the version silver keeps (delivered twice, or an older "
                 "version of an updated document: subscriptions change)")
    return "\n".join(lines)
