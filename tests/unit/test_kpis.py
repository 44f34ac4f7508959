"""The demo's KPI lines say which period each covers."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dataflix_spark.serving.kpis import format_kpis


def test_each_kpi_line_names_its_period():
    text = format_kpis({
        "revenue": Decimal("1234.50"), "content": 65, "subscribers": 300, "new_subscribers": 410, "cancellations": 41,
        "buffer_events": 5120, "first_month": dt.date(2025, 11, 1), "last_month": dt.date(2026, 10, 1),
        "first_playback_month": dt.date(2026, 8, 1), "last_playback_month": dt.date(2026, 10, 1),
    })
    lines = dict((line[2:20].strip(), line[20:].split(maxsplit=1)) for line in text.splitlines()[1:])
    assert lines["Revenue"] == ["$1,234.50", "all months, 2025-11 to 2026-10"]
    assert lines["Content"] == ["65", "titles in the catalogue"]
    assert lines["Subscribers"] == ["300", "at the end of the as-of month 2026-10 (on the as-of date)"]
    assert lines["New subscribers"] == ["410", "all months, 2025-11 to 2026-10"]
    assert lines["Cancellations"] == ["41", "all months, 2025-11 to 2026-10"]
    assert lines["Buffer events"] == ["5,120", "months with playback, 2026-08 to 2026-10"]


def test_one_month_and_no_playback_are_said_so():
    text = format_kpis({"revenue": None, "first_month": dt.date(2026, 10, 1), "last_month": dt.date(2026, 10, 1),
                        "first_playback_month": None, "last_playback_month": None})
    assert "$0.00" in text and "all months, 2026-10\n" in text and text.endswith("months with playback, no months")
