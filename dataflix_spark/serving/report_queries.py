"""The SQL a DirectQuery report on powerbi/DataFlix.pbip sends to `dataflix serve`, one query per visual.

Written the way Power BI's Spark connector writes them (back-quoted names, the table as a sub-select,
`limit 1000001` on visuals without a top-N), for a report filtered to one month. Used by the serving
integration test (each result is checked against the Delta tables) and by bench/serve_latency.py.
"""
from __future__ import annotations

import datetime as dt

DB = "`dataflix`"


def _month_range(month: dt.date) -> tuple[str, str]:
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first.isoformat(), following.isoformat()


def report_queries(month: dt.date, plans: tuple[str, ...] = ("Basic", "Premium"),
                   devices: tuple[str, ...] = ("mobile", "tv")) -> dict[str, str]:
    """Name → SQL for the report page filtered to `month` (and, where a visual has them, plans/devices)."""
    first, following = _month_range(month)
    plan_list = ", ".join(f"'{p}'" for p in plans)
    device_list = ", ".join(f"'{d}'" for d in devices)
    return {
        # Slicers: the values they list, and the range a date slicer shows.
        "slicer_month": f"select `month` from {DB}.`dim_date` group by `month` order by `month` limit 1000001",
        "slicer_date_range": f"select min(`date`) as `a0`, max(`date`) as `a1` from {DB}.`dim_date`",
        "slicer_plan": f"select `plan` from {DB}.`agg_subscriptions_monthly` group by `plan` limit 1000001",
        "slicer_device": f"select `device_type` from {DB}.`agg_qoe_daily` group by `device_type` limit 1000001",
        # KPI cards for the month (subscription cards filtered by the plan slicer).
        "kpi_subscriptions": (
            "select sum(`s`.`revenue`) as `a0`, sum(`s`.`new_subscribers`) as `a1`, sum(`s`.`cancellations`) as `a2`,"
            " sum(`s`.`subscribers_end`) as `a3`, sum(`s`.`churned`) as `a4`, sum(`s`.`subscribers_start`) as `a5`,"
            " sum(`s`.`mrr`) as `a6`"
            f" from (select * from {DB}.`agg_subscriptions_monthly`) `s`"
            f" where `s`.`month` = date '{first}' and `s`.`plan` in ({plan_list})"
        ),
        "kpi_qoe": (
            "select sum(`q`.`rebuffer_ms`) as `a0`, sum(`q`.`watch_time_ms`) as `a1`,"
            " sum(`q`.`exits_before_start`) as `a2`, sum(`q`.`sessions_with_start`) as `a3`,"
            " sum(`q`.`failures`) as `a4`, sum(`q`.`sessions`) as `a5`"
            f" from (select * from {DB}.`agg_qoe_daily`) `q`"
            f" inner join (select * from {DB}.`dim_date`) `d` on `q`.`date` = `d`.`date`"
            f" where `d`.`month` = date '{first}'"
        ),
        "kpi_recommendations": (
            "select `r`.`algorithm`, sum(`r`.`conversions`) as `a0`, sum(`r`.`impressions`) as `a1`"
            f" from (select * from {DB}.`agg_recommendations_daily`) `r`"
            f" where `r`.`date` >= date '{first}' and `r`.`date` < date '{following}'"
            " group by `r`.`algorithm` limit 1000001"
        ),
        # Column chart: revenue and churn by month and plan, plans from the slicer.
        "revenue_by_month_plan": (
            "select `s`.`month`, `s`.`plan`, sum(`s`.`revenue`) as `a0`, sum(`s`.`churned`) as `a1`,"
            " sum(`s`.`subscribers_start`) as `a2`"
            f" from (select * from {DB}.`agg_subscriptions_monthly`) `s`"
            f" where `s`.`plan` in ({plan_list}) group by `s`.`month`, `s`.`plan` limit 1000001"
        ),
        # Table: top 10 titles by watch time in the month.
        "top10_titles": (
            "select `c`.`title`, sum(`a`.`watch_time_ms`) as `a0`, sum(`a`.`sessions`) as `a1`"
            f" from (select * from {DB}.`agg_content_daily`) `a`"
            f" inner join (select * from {DB}.`dim_content`) `c` on `a`.`content_id` = `c`.`content_id`"
            f" inner join (select * from {DB}.`dim_date`) `d` on `a`.`date` = `d`.`date`"
            f" where `d`.`month` = date '{first}'"
            " group by `c`.`title` order by `a0` desc, `c`.`title` limit 10"
        ),
        # Line chart: daily QoE over the month for the selected devices, through dim_date.
        "daily_qoe": (
            "select `d`.`date`, sum(`q`.`rebuffer_ms`) as `a0`, sum(`q`.`watch_time_ms`) as `a1`,"
            " sum(`q`.`sessions`) as `a2`, sum(`q`.`exits_before_start`) as `a3`,"
            " sum(`q`.`sessions_with_start`) as `a4`"
            f" from (select * from {DB}.`agg_qoe_daily`) `q`"
            f" inner join (select * from {DB}.`dim_date`) `d` on `q`.`date` = `d`.`date`"
            f" where `d`.`month` = date '{first}' and `q`.`device_type` in ({device_list})"
            " group by `d`.`date` limit 1000001"
        ),
        # Bar chart from the largest fact: sessions and failures by device in the month (date-pruned).
        "sessions_by_device": (
            "select `f`.`device_type`, count(1) as `a0`, sum(case when `f`.`fatal_error` then 1 else 0 end) as `a1`,"
            " sum(`f`.`watch_time_ms`) as `a2`"
            f" from (select * from {DB}.`fact_playback_sessions`) `f`"
            f" where `f`.`session_date` >= date '{first}' and `f`.`session_date` < date '{following}'"
            " group by `f`.`device_type` limit 1000001"
        ),
    }
