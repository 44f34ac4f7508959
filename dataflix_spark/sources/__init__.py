"""Sources: where the documents come from. Each source is one module answering two questions: per container, which
rows are new since the last run (`Source.take`); for the whole run, how to record what was taken (`Source.record`,
one commit for every container, called only after the containers' bronze and silver are committed).

The pipeline asks those questions and knows no files or accounts:
- `local_json.LocalJsonSource`: JSON Lines files, tracked by path in `ops/source_files` (as Auto Loader does);
- `cosmos.CosmosSource`: an Azure Cosmos DB account, a `_ts` high-water mark per container in `ops/cosmos_marks`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the CLI imports SourceError before it knows whether PySpark is installed
    from pyspark.sql import DataFrame, SparkSession

    from dataflix_spark.lakehouse import Lakehouse


class SourceError(Exception):
    """The source cannot be read (unreachable, credentials refused, container missing, throttled past the
    retries): reported as one line, nothing committed."""


def _nothing() -> None:
    return None


@dataclass
class NewRows:
    """What a source found for one container.

    rows: the new documents as `raw` (the document's text) and `source_file` (provenance), or None;
    label: what they are, for the progress line ("3 new files", "1,204 new versions");
    bronze_runs: the runs whose rows bronze holds for the container (also those of killed runs);
    record: the rows of the source's record table that say what was taken, written by `Source.record`;
    release: frees what the source staged (called once the container is done, or on failure);
    warned: the source warned about this input (a file changed after it was read), so the next run must look
    again rather than trust an unchanged description of it (`Source.offered`).
    """

    rows: DataFrame | None
    label: str
    bronze_runs: frozenset[str] = frozenset()
    record: tuple[tuple, ...] = ()
    release: Callable[[], None] = _nothing
    warned: bool = False


class Source(Protocol):
    """A place documents come from (see the module docstring)."""

    def describe(self) -> str:
        """Where the documents come from, for the run's first log line (no secret in it)."""

    def take(self, spark: SparkSession, lake: Lakehouse, container: str, run_id: str,
             settled: bool = False) -> NewRows:
        """The container's rows not in bronze yet; reading them must not write anything. `settled`: every table is as
        the last completed run left it (`last_run.settled`), so bronze holds no killed run's rows to look for."""

    def record(self, spark: SparkSession, lake: Lakehouse, taken: Sequence[NewRows]) -> None:
        """Records what every container's `take` took, in one commit. A run that ends before it leaves its rows in
        bronze unrecorded: the next run's `take` finds them there (`rows_of_unrecorded_runs`) and records them."""

    def offered(self) -> dict | None:
        """What the source offers now, described without Spark and as JSON (a file listing), or None when only
        a read can tell. Equal descriptions mean equal documents: a run may then skip the read (ops/last_run)."""

    def offered_bytes(self) -> int | None:
        """About how many bytes of documents the source holds now, found without Spark in about a second, or None
        when it cannot tell. The CLI sizes a run by it, with bronze's bytes, before Spark starts (`is_short_run`)."""

    def offered_since(self, earlier: dict, now: dict) -> int | None:
        """Bytes of the documents `now` (an `offered()` taken now) holds that `earlier` (one of a completed run) did
        not; None when it cannot tell. The CLI sizes a run that follows a completed one by it."""


def rows_of_unrecorded_runs(bronze: DataFrame, recorded: set[str]) -> DataFrame:
    """Bronze rows of runs a source's record does not list: runs killed between their bronze append and their
    record. Every bronze file holds one run's rows, so Delta skips the recorded runs' files by `run_id` stats."""
    from pyspark.sql import functions as F

    return bronze.where(~F.col("run_id").isin(sorted(recorded))) if recorded else bronze
