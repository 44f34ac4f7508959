"""`dataflix demo` as a user runs it (smaller than the default sample, same code path)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from deltalake import DeltaTable


def test_demo_generates_runs_and_prints_headline_kpis(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dataflix_spark.cli", "demo", "--users", "40", "--days", "3", "--master", "local[2]",
         "--out", str(tmp_path / "sample"), "--lakehouse", str(tmp_path / "lakehouse")],
        capture_output=True, text=True, timeout=900, env={k: v for k, v in os.environ.items() if k != "DATAFLIX_PEPPER"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "public demo pepper" in result.stderr
    kpi = DeltaTable(str(tmp_path / "lakehouse" / "gold" / "kpi_monthly")).to_pandas()
    printed = dict(re.findall(r"^  (Revenue|Content|New subscribers|Cancellations|Buffer events)\s+\$?([\d,.]+)",
                              result.stdout, flags=re.M))
    assert float(printed["Revenue"].replace(",", "")) == float(kpi["revenue"].sum())
    assert int(printed["Content"].replace(",", "")) == int(kpi["content_count"].max()) > 0
    assert int(printed["New subscribers"].replace(",", "")) == int(kpi["new_subscribers"].sum())
    assert int(printed["Buffer events"].replace(",", "")) == int(kpi["buffer_events"].sum())
    assert str(tmp_path / "lakehouse") in result.stdout
    dashboard = tmp_path / "dashboard.html"  # next to the lakehouse
    assert f"Dashboard: {dashboard}" in result.stdout
    assert '<div class="chart" id="chart-errors">' in dashboard.read_text()
