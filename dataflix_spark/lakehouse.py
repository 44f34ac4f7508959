"""Where each table lives under the lakehouse root."""
from __future__ import annotations

from dataclasses import dataclass

# The source's containers, each a bronze and a silver table. The catalogue first: run summaries and logs list it
# first (the pipeline ingests the four at once).
CONTAINERS = ("content", "subscriptions", "playback_events", "recommendations")


@dataclass(frozen=True)
class Lakehouse:
    root: str

    def _path(self, layer: str, table: str) -> str:
        return f"{self.root.rstrip('/')}/{layer}/{table}"

    def bronze(self, container: str) -> str:
        return self._path("bronze", container)

    def silver(self, container: str) -> str:
        return self._path("silver", container)

    def gold(self, table: str) -> str:
        return self._path("gold", table)

    def ops(self, table: str) -> str:
        return self._path("ops", table)

    def work(self, table: str) -> str:
        """Intermediate tables the pipeline keeps for itself (not part of the gold contract)."""
        return self._path("work", table)
