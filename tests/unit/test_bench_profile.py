"""bench/profile_run.py: the attribution of a run's seconds adds up what the event log and the samples say."""
from __future__ import annotations

import json

from bench.profile_run import driver_phases, summarise_event_log, thread_kind


def _lines(*events: dict) -> list[str]:
    return [json.dumps(event) for event in events]


def _task(launch: int, finish: int, run_ms: int, cpu_ns: int, deserialise_ms: int) -> dict:
    return {"Event": "SparkListenerTaskEnd", "Task Info": {"Launch Time": launch, "Finish Time": finish},
            "Task Metrics": {"Executor Run Time": run_ms, "Executor CPU Time": cpu_ns,
                             "Executor Deserialize Time": deserialise_ms}}


def test_event_log_counts_and_the_seconds_no_job_or_task_was_running():
    lines = _lines(
        {"Event": "SparkListenerJobStart", "Job ID": 0, "Submission Time": 0},
        {"Event": "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart", "executionId": 0},
        _task(100, 2_000, 1_800, 900_000_000, 100),
        {"Event": "SparkListenerJobEnd", "Job ID": 0, "Completion Time": 2_000},
        # Two overlapping jobs (two driver threads) from 5 s to 9 s: 3 s with no job, 3 s + 2 s with no task.
        {"Event": "SparkListenerJobStart", "Job ID": 1, "Submission Time": 5_000},
        {"Event": "SparkListenerJobStart", "Job ID": 2, "Submission Time": 6_000},
        _task(6_000, 7_000, 1_000, 500_000_000, 0),
        {"Event": "SparkListenerJobEnd", "Job ID": 1, "Completion Time": 8_000},
        {"Event": "SparkListenerJobEnd", "Job ID": 2, "Completion Time": 9_000},
        {"Event": "SparkListenerTaskEnd", "Task Info": {"Launch Time": 9_000, "Finish Time": 9_000}},  # no metrics
    )
    assert summarise_event_log(lines) == {
        "jobs": 3, "sql_executions": 1, "tasks": 3, "task_run_s": 2.8, "task_cpu_s": 1.4, "task_deserialise_s": 0.1,
        "jobs_span_s": 9.0, "no_job_running_s": 3.0, "no_task_running_s": 6.1,
    }


def test_an_empty_event_log_is_all_zeros():
    summary = summarise_event_log([])
    assert summary["jobs"] == summary["tasks"] == 0 and summary["no_job_running_s"] == 0


def test_threads_of_one_kind_share_a_name():
    assert thread_kind("Thread-12") == thread_kind("Thread-3") == "driver (py4j calls: planning, Delta)"
    assert thread_kind("C1 CompilerThre") == "JIT compiler"
    assert thread_kind("dag-scheduler-e") == "dag-scheduler-e"


def test_a_sample_counts_in_every_phase_its_stack_is_in():
    commit = "org.apache.spark.sql.delta.OptimisticTransactionImpl.commit"
    planned = "org.apache.spark.sql.execution.QueryExecution.executedPlan"
    samples = [[commit, planned], [planned], ["java.lang.Thread.run"], ["java.lang.Thread.run"]]
    phases = driver_phases(samples)
    assert phases["physical planning"] == 50.0
    assert phases["Delta: transaction commit"] == 25.0
    assert phases["analysis"] == 0.0
    assert driver_phases([])["analysis"] == 0.0
