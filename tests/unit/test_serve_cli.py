"""`dataflix serve` refuses a lakehouse without gold tables, a bad port or a taken one, before Spark starts."""
from __future__ import annotations

import socket

from tests.unit.test_cli import assert_one_line_error, dataflix


def test_lakehouse_without_gold_tables(tmp_path):
    (tmp_path / "gold" / "dim_date").mkdir(parents=True)  # a folder, but no Delta log
    result = dataflix("serve", "--lakehouse", str(tmp_path))
    assert_one_line_error(result, "has no gold tables: run `dataflix run` first")


def test_missing_lakehouse(tmp_path):
    result = dataflix("serve", "--lakehouse", str(tmp_path / "nope"))
    assert_one_line_error(result, "lakehouse folder not found")


def test_port_out_of_range(tmp_path):
    result = dataflix("serve", "--lakehouse", str(tmp_path), "--port", "70000")
    assert_one_line_error(result, "argument --port: must be >= 1 and <= 65535, got 70000 (see dataflix serve --help)")


def test_port_in_use(tmp_path):
    (tmp_path / "gold" / "dim_date" / "_delta_log").mkdir(parents=True)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = dataflix("serve", "--lakehouse", str(tmp_path), "--port", str(port))
    assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}")
