"""`dataflix demo` as a user runs it (smaller than the default sample, same code path), twice in the same folders."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from deltalake import DeltaTable

from tests.integration.built import embedded_data


def _demo(tmp_path, *options: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "dataflix_spark.cli", "demo", *options, "--master", "local[2]",
         "--out", str(tmp_path / "sample"), "--lakehouse", str(tmp_path / "lakehouse")],
        capture_output=True, text=True, timeout=900, env={k: v for k, v in os.environ.items() if k != "DATAFLIX_PEPPER"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _printed(result: subprocess.CompletedProcess) -> dict[str, float]:
    found = re.findall(r"^  (Revenue|Content|Subscribers|New subscribers|Cancellations|Buffer events)\s+\$?([\d,.]+)",
                       result.stdout, flags=re.M)
    return {name: float(value.replace(",", "")) for name, value in found}


def test_demo_prints_the_kpis_of_its_data_and_every_chart_has_data_then_a_rerun_starts_fresh(tmp_path):
    # Two months (Sep and Oct 2026): September's churn is known, so the QoE × business charts have data.
    first = _demo(tmp_path, "--users", "30", "--days", "61")
    assert "public demo pepper" in first.stderr
    kpi = DeltaTable(str(tmp_path / "lakehouse" / "gold" / "kpi_monthly")).to_pandas()
    printed = _printed(first)
    assert printed["Revenue"] == float(kpi["revenue"].sum())
    assert printed["Content"] == int(kpi["content_count"].max()) > 0
    assert printed["New subscribers"] == int(kpi["new_subscribers"].sum())
    assert printed["Buffer events"] == int(kpi["buffer_events"].sum())
    # Each line says which period it covers.
    assert re.search(r"^  Revenue .* all months, \d{4}-\d\d to 2026-10$", first.stdout, flags=re.M), first.stdout
    assert re.search(r"^  Buffer events .* months with playback, 2026-0[89] to 2026-10$", first.stdout, flags=re.M)
    assert str(tmp_path / "lakehouse") in first.stdout
    dashboard = tmp_path / "dashboard.html"  # next to the lakehouse
    assert f"Dashboard: {dashboard}" in first.stdout

    data = embedded_data(dashboard)
    for chart in ("months", "devices", "buffers", "errors", "qoe", "plans", "subscriptions", "titles",
                  "recommendations", "recommendation_rank", "qoe_churn", "revenue_at_risk", "recommendation_qoe"):
        assert data[chart], f"the demo's {chart} chart has no data"
    known = [r for r in data["qoe_churn"] if r["churned"] is not None and r["qoe_bucket"] != "no_playback"]
    assert known, "no month before the as-of month with playback: the QoE × churn chart would be empty"
    assert any(r["churn_rate"] is not None for r in data["subscriptions"])

    # Again with other options, in the same folders: the KPIs of the new data, from a fresh lakehouse.
    second = _demo(tmp_path, "--users", "6", "--days", "2")
    assert "replacing the earlier demo lakehouse" in second.stderr and "replacing the earlier demo sample" in second.stderr
    assert "0 new files" not in second.stderr
    kpi = DeltaTable(str(tmp_path / "lakehouse" / "gold" / "kpi_monthly")).to_pandas()
    again = _printed(second)
    assert again["New subscribers"] == int(kpi["new_subscribers"].sum()) < printed["New subscribers"]
    assert again["Revenue"] == float(kpi["revenue"].sum())
