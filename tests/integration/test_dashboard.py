"""The dashboard of the shared built lakehouse, opened from disk in headless Chromium (Debian's `chromium`,
driven by Playwright): it loads nothing from the network, logs no error, draws every chart with data,
its KPI cards and filtered charts equal the gold tables (read here with delta-rs, not Spark).

Set DATAFLIX_DOCS_SCREENSHOT=1 to also refresh docs/dashboard.png (the README's picture).
"""
from __future__ import annotations

import json
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from deltalake import DeltaTable
from playwright.sync_api import sync_playwright

from dataflix_spark.serving.dashboard import dashboard_data, write_dashboard
from dataflix_spark.serving.kpis import headline_kpis
from tests.integration.built import embedded_data

CHROMIUM = "/usr/bin/chromium"
CHARTS = [
    "chart-errors", "chart-devices", "chart-startup", "chart-rebuffer", "chart-plans", "chart-subscribers",
    "chart-churn", "chart-mrr", "chart-titles", "chart-rec-algorithm", "chart-rec-rank",
    "chart-qoe-churn", "chart-revenue-risk", "chart-rec-qoe",
]
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"


def gold(lakehouse: Path, table: str):
    return DeltaTable(str(lakehouse / "gold" / table)).to_pandas()


@pytest.fixture(scope="module")
def lakehouse(built_lakehouse) -> Path:
    return Path(built_lakehouse["path"])


@pytest.fixture(scope="module")
def dashboard_file(spark, lakehouse, tmp_path_factory) -> Path:
    return write_dashboard(spark, str(lakehouse), tmp_path_factory.mktemp("dashboard") / "dashboard.html")


@pytest.fixture(scope="module")
def browser_page(dashboard_file):
    """The page as loaded, with every console message, page error and request it produced."""
    seen = {"console": [], "errors": [], "requests": [], "failed": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("console", lambda msg: seen["console"].append((msg.type, msg.text)))
        page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
        page.on("request", lambda req: seen["requests"].append(req.url))
        page.on("requestfailed", lambda req: seen["failed"].append(req.url))
        page.goto(dashboard_file.as_uri())
        page.wait_for_selector("body[data-rendered='all|all']", timeout=10_000)
        yield page, seen
        browser.close()


def kpi_cards(page) -> dict[str, float]:
    return {
        card.get_attribute("data-kpi"): float(card.query_selector(".value").get_attribute("data-value"))
        for card in page.query_selector_all(".kpi")
    }


def marks(page, chart: str) -> list[tuple[str | None, str | None, float]]:
    """(series, category, value) of every mark drawn in a chart."""
    return [
        (m.get_attribute("data-series"), m.get_attribute("data-category"), float(m.get_attribute("data-value")))
        for m in page.query_selector_all(f"#{chart} svg .mark")
    ]


def test_self_contained_file_loads_offline_without_errors(dashboard_file, browser_page, tmp_path_factory):
    page, seen = browser_page
    text = dashboard_file.read_text()
    assert "<script src" not in text and "<link rel=\"stylesheet\"" not in text and "@import" not in text
    assert seen["requests"] == [dashboard_file.as_uri()]  # the file itself, nothing else
    assert seen["failed"] == [] and seen["errors"] == []
    assert [m for m in seen["console"] if m[0] in ("error", "warning")] == []
    shot = tmp_path_factory.mktemp("screenshots") / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    if os.environ.get("DATAFLIX_DOCS_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_SCREENSHOT)


def test_every_chart_draws_marks(browser_page):
    page, _ = browser_page
    for chart in CHARTS:
        assert page.query_selector(f"#{chart} svg") is not None, chart
        assert len(marks(page, chart)) > 0, chart


def test_kpi_cards_equal_the_gold_tables(browser_page, lakehouse):
    page, _ = browser_page
    kpi = gold(lakehouse, "kpi_monthly").sort_values("month")
    assert kpi_cards(page) == {
        "revenue": float(sum(kpi["revenue"], Decimal(0))),
        "content": int(kpi["content_count"].max()),
        "subscribers": int(kpi["subscribers"].iloc[-1]),
        "new_subscribers": int(kpi["new_subscribers"].sum()),
        "cancellations": int(kpi["cancellations"].sum()),
        "buffer_events": int(kpi["buffer_events"].sum()),
    }
    errors = gold(lakehouse, "agg_errors_daily")
    assert sum(v for _, _, v in marks(page, "chart-errors")) == errors["error_events"].sum() > 0


def test_qoe_business_charts_equal_gold(browser_page, lakehouse):
    page, _ = browser_page
    churn = gold(lakehouse, "agg_qoe_churn_monthly")
    observed = churn[churn["churned"].notna()].groupby("qoe_bucket")[["subscribers", "churned"]].sum()
    expected = {b: r["churned"] / r["subscribers"] for b, r in observed.iterrows() if r["subscribers"] > 0}
    assert expected  # the fixture's months hold at least one observed bucket
    assert {bucket: value for _, bucket, value in marks(page, "chart-qoe-churn")} == pytest.approx(expected)

    risk = gold(lakehouse, "revenue_at_risk_daily")
    drawn = marks(page, "chart-revenue-risk")
    assert len(drawn) == len(risk[["date", "device_type"]].drop_duplicates())
    at_risk = float(sum(risk["attributed_mrr_at_risk"], Decimal(0)))
    assert at_risk > 0 and sum(v for _, _, v in drawn) == pytest.approx(at_risk)

    plays = gold(lakehouse, "agg_recommendation_qoe").groupby(["device_type", "play_source"])[
        ["completions", "sessions"]].sum()
    assert {(source, device): value for source, device, value in marks(page, "chart-rec-qoe")} == pytest.approx(
        {(source, device): r["completions"] / r["sessions"] for (device, source), r in plays.iterrows()})


def test_month_and_device_filters_rerender_from_gold(browser_page, lakehouse, built_lakehouse):
    page, _ = browser_page
    month = built_lakehouse["as_of"][:7]
    errors = gold(lakehouse, "agg_errors_daily")
    errors = errors[errors["date"].map(lambda d: d.isoformat()[:7]) == month]
    device = errors.groupby("device_type")["error_events"].sum().idxmax()
    page.select_option("#filter-month", month)
    page.select_option("#filter-device", device)
    page.wait_for_selector(f"body[data-rendered='{month}|{device}']", timeout=10_000)

    kpi = gold(lakehouse, "kpi_monthly")
    row = kpi[kpi["month"].map(lambda d: d.isoformat()[:7]) == month].iloc[0]
    buffering = gold(lakehouse, "agg_buffering_daily")
    buffering = buffering[(buffering["date"].map(lambda d: d.isoformat()[:7]) == month)
                          & (buffering["device_type"] == device)]
    cards = kpi_cards(page)
    assert cards["revenue"] == float(row["revenue"])
    assert cards["subscribers"] == row["subscribers"]
    assert cards["buffer_events"] == buffering["buffer_events"].sum()

    drawn = marks(page, "chart-errors")
    assert {series for series, _, _ in drawn} == {device}
    by_code = errors[errors["device_type"] == device].groupby("error_code")["error_events"].sum()
    assert {code: value for _, code, value in drawn} == {code: float(v) for code, v in by_code.items()}
    assert {series for series, _, _ in marks(page, "chart-startup")} == {device}

    sessions = gold(lakehouse, "fact_playback_sessions")
    sessions = sessions[(sessions["session_date"].map(lambda d: d.isoformat()[:7]) == month)
                        & (sessions["device_type"] == device)]
    watch = sessions.groupby("content_id")["watch_time_ms"].sum().reset_index()
    top = watch.sort_values(["watch_time_ms", "content_id"], ascending=[False, True]).head(10)
    titles = gold(lakehouse, "dim_content").set_index("content_id")["title"]
    expected = [(titles.get(c, c), ms / 3_600_000) for c, ms in zip(top["content_id"], top["watch_time_ms"])]
    actual = [(title, value) for _, title, value in marks(page, "chart-titles")]
    assert [t for t, _ in actual] == [t for t, _ in expected]
    assert [v for _, v in actual] == pytest.approx([v for _, v in expected])

    page.select_option("#filter-month", "all")
    page.select_option("#filter-device", "all")
    page.wait_for_selector("body[data-rendered='all|all']", timeout=10_000)


def test_headline_kpis_handed_over_are_the_ones_shown_and_the_datasets_stay_the_same(spark, lakehouse, dashboard_file):
    """The demo prints the headline KPIs, then hands them to the dashboard instead of computing them again; the
    datasets, collected side by side, are the ones the file embeds."""
    embedded = embedded_data(dashboard_file)
    handed = {**headline_kpis(spark, str(lakehouse)), "revenue": Decimal("1.50")}
    data = json.loads(json.dumps(dashboard_data(spark, str(lakehouse), headline=handed)))
    assert data["kpis"]["all"] == {**embedded["kpis"]["all"], "revenue": 1.5} != embedded["kpis"]["all"]
    assert {**data, "kpis": None} == {**embedded, "kpis": None} and data["kpis"]["monthly"] == embedded["kpis"]["monthly"]
