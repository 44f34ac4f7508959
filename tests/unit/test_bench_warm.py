"""bench/warm_runs.py: the cold run against the median of the warm ones."""
from __future__ import annotations

from bench.warm_runs import summary


def _run(seconds: float, cpu: float) -> dict:
    return {"seconds": seconds, "jvm_cpu_s": cpu, "sql_executions": 250}


def test_the_cold_runs_extra_is_its_seconds_over_the_warm_runs_median():
    result = summary([_run(20.3, 30.8), _run(13.0, 19.5), _run(12.0, 18.0), _run(12.7, 19.2)])
    assert result == {"cold_s": 20.3, "cold_cpu_s": 30.8, "warm_s": 12.7, "warm_cpu_s": 19.2, "cold_extra_s": 7.6}


def test_one_run_is_only_the_cold_one():
    assert summary([_run(20.3, 30.8)]) == {"cold_s": 20.3, "cold_cpu_s": 30.8}
