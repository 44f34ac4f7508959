"""Builds the gold tables from silver: all of them (`build_all`), or only what a run's silver
changes touch (`build_changes`). Each table is written, then read back by the tables that use it,
so Delta (not a recomputed plan) is the hand-over between builders: over its files listed once
(`read_pinned`), since several builders read most tables.

The incremental build recomputes, from silver and gold, exactly the rows the changes can reach:
  - player sessions with a changed event (old and new versions of the event),
  - the engagement sessions within the 30-minute gap of those sessions (before and after),
  - the daily aggregates of the dates those sessions and events fall on (before and after),
  - recommendation days whose lists changed or whose 24-hour conversion window meets a changed session,
  - the touched users' latest event with a country (work table `user_event_country`) and number of lists
    (`recommendation_users`): those two tables, a row per user, are rewritten whole with the other users' rows,
  - the QoE-business months, 7-day windows and play days those sessions and lists reach,
and rebuilds in full the small tables (subscriptions, dim_user, kpi_monthly, dim_date; the QoE-business
tables too when subscriptions or the as-of date changed). Every rule is pinned
by tests/integration/test_incremental.py: any sequence of runs gives the gold of one full run.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from functools import partial

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from dataflix_spark.config import QoeThresholds
from dataflix_spark.gold.content import build_agg_content_daily, build_dim_content
from dataflix_spark.gold.dashboard import (
    build_dim_date,
    build_dim_user,
    build_kpi_monthly,
    latest_event_country,
    lists_per_user,
)
from dataflix_spark.gold.engagement_sessions import ENGAGEMENT_GAP_MINUTES, build_fact_engagement_sessions
from dataflix_spark.gold.playback_sessions import build_fact_playback_sessions
from dataflix_spark.gold.qoe import build_agg_buffering_daily, build_agg_errors_daily, build_agg_qoe_daily
from dataflix_spark.gold.qoe_churn import RISK_WINDOW_DAYS, build_agg_qoe_churn_monthly, build_revenue_at_risk_daily
from dataflix_spark.gold.recommendation_qoe import build_agg_recommendation_qoe
from dataflix_spark.gold.recommendations import (
    conversion_counts,
    explode_impressions,
    rank_daily_from_counts,
    recommendations_daily_from_counts,
    rollup_recommendation_rank,
    with_conversion,
)
from dataflix_spark.gold.subscriptions import build_agg_subscriptions_monthly, build_fact_subscriptions, month_of
from dataflix_spark.lakehouse import Lakehouse
from dataflix_spark.ops.concurrent import in_order, run_concurrently
from dataflix_spark.ops.progress import Progress
from dataflix_spark.sinks.delta import (
    compact,
    overwrite_table,
    read_pinned,
    read_table,
    replace_rows,
    replace_scope,
    table_version,
)

GOLD_TABLES = (
    "dim_content", "fact_playback_sessions", "fact_engagement_sessions", "agg_qoe_daily",
    "agg_buffering_daily", "agg_errors_daily", "agg_content_daily", "fact_subscriptions",
    "agg_subscriptions_monthly", "agg_recommendations_daily", "agg_recommendation_rank",
    "kpi_monthly", "dim_user", "dim_date",
    # Beyond the contract (docs/metrics-extra.md): QoE joined to churn, revenue and recommendations.
    "agg_qoe_churn_monthly", "revenue_at_risk_daily", "agg_recommendation_qoe",
)

# The large facts are partitioned by day: DirectQuery filters on dates prune files, and an
# incremental run rewrites only the days it touches.
PARTITIONS = {
    "fact_playback_sessions": ["session_date"],
    "fact_engagement_sessions": ["engagement_date"],
}

# Kept beside gold (not contract tables), so an incremental run reads a little instead of all history:
# conversions per day and rank, so the all-time rank table is re-summed from days instead of re-joining
# every list ever shown; each user's latest event with a country, and each user's number of lists, so
# dim_user reads neither every event nor every list.
RANK_DAILY = "recommendation_rank_daily"
USER_EVENT_COUNTRY = "user_event_country"
LIST_USERS = "recommendation_users"
WORK_TABLES = (RANK_DAILY, USER_EVENT_COUNTRY, LIST_USERS)


@dataclass(frozen=True)
class SilverChanges:
    """What changed in silver since gold was built: old and new images of changed rows (None: nothing)."""

    playback_events: DataFrame | None
    recommendations: DataFrame | None
    subscriptions: DataFrame | None
    as_of_changed: bool


class _Gold:
    """Reads silver and gold, and writes gold tables with a progress line each."""

    def __init__(self, spark: SparkSession, lake: Lakehouse, progress: Progress) -> None:
        self.spark, self.lake, self.progress = spark, lake, progress
        # Tables several builders read, over their files listed once (`read_pinned`); a write drops its table's.
        self._read: dict[str, DataFrame] = {}

    def _pinned(self, path: str) -> DataFrame:
        if path not in self._read:
            self._read[path] = read_pinned(self.spark, path)
        return self._read[path]

    # `by_day`: for queries that select some days of a table partitioned by day. Delta then lists only those days'
    # files and sizes the scan by them; a pinned list is sized by the whole table, so the planner would not
    # broadcast a few days of a large one.
    def silver(self, container: str, by_day: bool = False) -> DataFrame:
        path = self.lake.silver(container)
        return read_table(self.spark, path) if by_day else self._pinned(path)

    def table(self, name: str, version: int | None = None, by_day: bool = False) -> DataFrame:
        if version is not None or by_day:
            return read_table(self.spark, self.path(name), version)
        return self._pinned(self.path(name))

    def _written(self, name: str) -> None:
        self._read.pop(self.path(name), None)

    def path(self, name: str) -> str:
        return self.lake.work(name) if name in WORK_TABLES else self.lake.gold(name)

    def version(self, name: str) -> int:
        return table_version(self.spark, self.path(name))

    def label(self, name: str) -> str:
        return f"work table {name}" if name in WORK_TABLES else f"gold {name}"

    def publish(self, name: str, df: DataFrame) -> None:
        overwrite_table(df, self.path(name), PARTITIONS.get(name))
        self._written(name)
        self.progress.stage(f"{self.label(name)} written")

    def replace_days(self, name: str, df: DataFrame, column: str, days: list[dt.date], unit: str = "day(s)") -> None:
        replace_rows(self.spark, df, self.path(name), _in(column, days))
        self._written(name)
        self.progress.stage(f"{self.label(name)}: {len(days)} {unit} recomputed")

    def replace_scope(self, name: str, fresh: DataFrame, scope: DataFrame, key: list[str],
                      days: list[dt.date] | None = None) -> None:
        """Rows of `scope` become `fresh`; `days` (of the table's partition column), when given, hold
        every affected row before and after, so the MERGE and the compaction read only those."""
        day_column = PARTITIONS.get(name, [None])[0]
        prune = _in(f"t.{day_column}", days) if days is not None else None
        replace_scope(self.spark, fresh, self.path(name), scope, key, prune)
        if day_column:
            # MERGE adds files to the partitions it touches; DirectQuery wants few, large ones.
            compact(self.spark, self.path(name), _in(day_column, days) if days is not None else None)
        self._written(name)
        self.progress.stage(f"{self.label(name)}: affected rows recomputed")


def build_all(spark: SparkSession, lake: Lakehouse, as_of: dt.date, progress: Progress,
              thresholds: QoeThresholds = QoeThresholds()) -> None:
    """Silver → every gold table of metrics.md (overwritten in full). Tables that do not read each other
    are written at once (`run_concurrently`), in three waves: what silver alone gives, what the sessions
    give, then the calendar tables that read the others."""
    gold = _Gold(spark, lake, progress)
    events = gold.silver("playback_events")

    def sessions() -> None:
        gold.publish("dim_content", build_dim_content(gold.silver("content")))
        gold.publish("fact_playback_sessions", build_fact_playback_sessions(events, gold.table("dim_content")))

    run_concurrently(
        spark,
        sessions,
        in_order(partial(gold.publish, "agg_buffering_daily", build_agg_buffering_daily(events)),
                 partial(gold.publish, "agg_errors_daily", build_agg_errors_daily(events))),
        partial(gold.publish, USER_EVENT_COUNTRY, latest_event_country(events)),
        partial(gold.publish, LIST_USERS, lists_per_user(gold.silver("recommendations"))),
        partial(_publish_subscriptions, gold, as_of),
    )
    stored = gold.table("fact_playback_sessions")
    run_concurrently(
        spark,
        partial(gold.publish, "fact_engagement_sessions", build_fact_engagement_sessions(stored)),
        in_order(partial(gold.publish, "agg_qoe_daily", build_agg_qoe_daily(stored)),
                 partial(gold.publish, "agg_content_daily", build_agg_content_daily(stored))),
        partial(_publish_recommendations, gold, stored),
        partial(_publish_qoe_business, gold, as_of, thresholds),
        partial(_publish_dim_user, gold, as_of),
    )
    _publish_calendar(gold, as_of)


def build_changes(spark: SparkSession, lake: Lakehouse, as_of: dt.date, changes: SilverChanges,
                  progress: Progress, thresholds: QoeThresholds = QoeThresholds()) -> None:
    """Brings gold up to date with `changes` (silver content unchanged), recomputing only the rows they reach.
    Like `build_all`, in waves of tables written at once."""
    gold = _Gold(spark, lake, progress)
    events = gold.silver("playback_events", by_day=True)
    # Read from the change feed once, not once by every table the changes reach.
    feeds = {name: getattr(changes, name) for name in ("playback_events", "recommendations", "subscriptions")}
    feeds = {name: df.persist(StorageLevel.MEMORY_AND_DISK) for name, df in feeds.items() if df is not None}
    changes = replace(changes, **feeds)
    persisted: list[DataFrame] = list(feeds.values())
    changed_events = changes.playback_events
    event_days = _days(changed_events, "event_date") if changed_events is not None else []
    list_days = _days(changes.recommendations, F.to_date("shown_at")) if changes.recommendations is not None else []
    billing_changed = changes.subscriptions is not None or changes.as_of_changed

    def event_tables() -> None:
        on_days = events.where(_in("event_date", event_days))
        gold.replace_days("agg_buffering_daily", build_agg_buffering_daily(on_days), "date", event_days)
        gold.replace_days("agg_errors_daily", build_agg_errors_daily(on_days), "date", event_days)

    first_wave = [partial(_publish_subscriptions, gold, as_of)] if billing_changed else []
    if changed_events is not None:
        first_wave.append(partial(_update_user_event_country, gold, events, changed_events))
    if changes.recommendations is not None:
        first_wave.append(partial(_update_list_users, gold, changes.recommendations))
    if event_days:
        first_wave.append(event_tables)
    session_update, *_ = run_concurrently(
        spark, partial(_update_playback_sessions, gold, events, changed_events, event_days), *first_wave
    )
    persisted += session_update.persisted
    session_days = session_update.days

    sessions = gold.table("fact_playback_sessions", by_day=True)

    def session_tables() -> None:
        on_days = sessions.where(_in("session_date", session_days))
        gold.replace_days("agg_qoe_daily", build_agg_qoe_daily(on_days), "date", session_days)
        gold.replace_days("agg_content_daily", build_agg_content_daily(on_days), "date", session_days)

    # A list converts on sessions starting up to 24 h after it: a session on day d reaches lists of d and d - 1.
    rec_days = set(session_days) | {d - dt.timedelta(days=1) for d in session_days} | set(list_days)
    second_wave = [partial(_publish_dim_user, gold, as_of)]
    if session_update.changed is not None:
        second_wave.append(partial(_update_engagement_sessions, gold, sessions, session_update.changed))
    if session_days:
        second_wave.append(session_tables)
    if rec_days:
        second_wave.append(partial(_update_recommendation_days, gold, sorted(rec_days)))
    if billing_changed:
        second_wave.append(partial(_publish_qoe_business, gold, as_of, thresholds))
    else:
        second_wave.append(partial(_update_qoe_business, gold, as_of, thresholds, session_days, list_days))
    run_concurrently(spark, *second_wave)
    _publish_calendar(gold, as_of)
    for df in persisted:
        df.unpersist()


@dataclass(frozen=True)
class _SessionUpdate:
    """What `_update_playback_sessions` hands to the tables after it."""

    days: list[dt.date] = field(default_factory=list)  # session dates of the touched sessions, before and after
    changed: DataFrame | None = None  # their rows before the update, and after
    persisted: list[DataFrame] = field(default_factory=list)


def _update_playback_sessions(gold: _Gold, events: DataFrame, changed_events: DataFrame | None,
                              event_days: list[dt.date]) -> _SessionUpdate:
    """Rebuilds the player sessions with a changed event."""
    if changed_events is None:
        return _SessionUpdate()
    touched = _measured(changed_events.select("session_id").distinct())
    before = gold.table("fact_playback_sessions", gold.version("fact_playback_sessions"))
    # Two columns of every day first: the touched sessions' old rows are then read from their days only.
    stored_days = _days(before.select("session_id", "session_date").join(touched, "session_id", "left_semi"),
                        "session_date")
    old_sessions = before.where(_in("session_date", stored_days)).join(touched, "session_id", "left_semi").persist()
    # A touched session's events were written since (their days are in the change feed) or were there at the
    # last build, between its stored start and end: only those days of silver are read.
    read_days = sorted(set(event_days) | set(_session_spans(old_sessions)))
    # After the MERGE below these are exactly the table's rows of the touched sessions: kept for the
    # engagement sessions they reach, instead of finding them in the table again.
    fresh_sessions = build_fact_playback_sessions(
        events.where(_in("event_date", read_days)).join(touched, "session_id", "left_semi"),
        gold.table("dim_content"),
    ).persist()
    days = sorted(set(_days(old_sessions, "session_date")) | set(_days(fresh_sessions, "session_date")))
    gold.replace_scope("fact_playback_sessions", fresh_sessions, touched, ["session_id"], days=days)
    return _SessionUpdate(days, old_sessions.unionByName(fresh_sessions), [touched, old_sessions, fresh_sessions])


def _update_engagement_sessions(gold: _Gold, sessions: DataFrame, changed: DataFrame) -> None:
    """Recomputes the engagement sessions that changed player sessions (`changed`: their old and new
    versions) can reach, and no others.

    Per user, the region runs from the earliest to the latest of: the changed sessions, and the stored
    engagement sessions that come within the 30-minute gap of one. Its ends are engagement boundaries
    before and after the change (anything closer than the gap is inside), so the user's player sessions
    starting in the region rebuild exactly the engagement sessions stored there; those outside stay.
    """
    gap = F.expr(f"INTERVAL {ENGAGEMENT_GAP_MINUTES} MINUTES")
    stored = gold.table("fact_engagement_sessions", gold.version("fact_engagement_sessions"))
    c = changed.select(
        "user_key", F.col("session_start").alias("lo"), F.coalesce("session_end", "session_start").alias("hi")
    )
    # The join below needs these bounds of all changed sessions; as literals, Delta skips the files (days)
    # whose engagement sessions all end before them or start after them. Collected as microseconds: a naive
    # Python datetime would go through the local time zone, ambiguous in the hour a DST change repeats.
    earliest, latest = c.agg(F.unix_micros(F.min("lo")), F.unix_micros(F.max("hi"))).first()
    if earliest is None:
        return  # no changed session has a start: none can reach an engagement session
    reach = dt.timedelta(minutes=ENGAGEMENT_GAP_MINUTES)
    near = (
        stored.where((F.col("engagement_start") <= F.lit(_instant(latest) + reach))
                     & (F.col("engagement_end") >= F.lit(_instant(earliest) - reach)))
        .select("user_key", "engagement_start", "engagement_end")
        .join(c, "user_key")
        .where((F.col("engagement_start") <= F.col("hi") + gap) & (F.col("lo") <= F.col("engagement_end") + gap))
        .select("user_key", F.col("engagement_start").alias("lo"), F.col("engagement_end").alias("hi"))
    )
    regions = (
        c.unionByName(near).groupBy("user_key").agg(F.min("lo").alias("lo"), F.max("hi").alias("hi")).persist()
    )

    # Every region lies within these days: the rest of both tables is not read.
    first, last = regions.agg(F.to_date(F.min("lo")), F.to_date(F.max("hi"))).first()
    span = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)] if first else []

    def in_region(df: DataFrame, start: str) -> DataFrame:
        return df.join(F.broadcast(regions), "user_key").where(F.col(start).between(F.col("lo"), F.col("hi")))

    fresh = build_fact_engagement_sessions(
        in_region(sessions.where(_in("session_date", span)), "session_start").drop("lo", "hi")
    ).persist()
    scope = in_region(stored.where(_in("engagement_date", span)), "engagement_start").select(
        "engagement_session_id", "engagement_date"
    ).persist()
    days = sorted(set(_days(scope, "engagement_date")) | set(_days(fresh, "engagement_date")))
    gold.replace_scope("fact_engagement_sessions", fresh, scope.select("engagement_session_id"),
                       ["engagement_session_id"], days=days)
    for df in (fresh, scope, regions):
        df.unpersist()


def _conversion_counts(lists: DataFrame, sessions: DataFrame) -> DataFrame:
    """Impressions and conversions per (day, algorithm, surface, rank), persisted: both recommendation
    tables are sums of these few rows, so the list × session join runs once."""
    return explode_impressions(lists).transform(with_conversion(sessions)).transform(conversion_counts).persist()


def _publish_recommendations(gold: _Gold, sessions: DataFrame) -> None:
    counts = _conversion_counts(gold.silver("recommendations"), sessions)
    gold.publish("agg_recommendations_daily", recommendations_daily_from_counts(counts))
    gold.publish(RANK_DAILY, rank_daily_from_counts(counts))
    gold.publish("agg_recommendation_rank", rollup_recommendation_rank(gold.table(RANK_DAILY)))
    counts.unpersist()


def _update_recommendation_days(gold: _Gold, days: list[dt.date]) -> None:
    lists = _lists_shown_on(gold, days)
    window_days = sorted(set(days) | {d + dt.timedelta(days=1) for d in days})
    sessions = gold.table("fact_playback_sessions", by_day=True).where(_in("session_date", window_days))
    counts = _conversion_counts(lists, sessions)
    gold.replace_days("agg_recommendations_daily", recommendations_daily_from_counts(counts), "date", days)
    gold.replace_days(RANK_DAILY, rank_daily_from_counts(counts), "date", days)
    gold.publish("agg_recommendation_rank", rollup_recommendation_rank(gold.table(RANK_DAILY)))
    counts.unpersist()


def _lists_shown_on(gold: _Gold, days: list[dt.date]) -> DataFrame:
    """The silver lists shown on `days`: from those days' partitions only, in a lakehouse whose silver lists are
    partitioned by day (every lakehouse made or fully refreshed since `shown_date` exists; before, all were read)."""
    lists = gold.silver("recommendations", by_day=True)
    return lists.where(_in(F.col("shown_date") if "shown_date" in lists.columns else F.to_date("shown_at"), days))


def _update_user_event_country(gold: _Gold, events: DataFrame, changed_events: DataFrame) -> None:
    """Each user's latest event with a country (`latest_event_country`), without reading every event.

    A user none of whose events was replaced since the last build (no `update_preimage`) only gained
    events: their row is the latest of the stored row and the events written since. A user with a
    replaced event may have lost their latest one, so their row is recomputed from all their events.
    Rewritten whole, like `dim_user`: one row per user, so cheaper than finding and merging the touched rows.
    """
    columns = ["user_key", "event_ts", "doc_id", "country"]
    rewritten = _measured(
        changed_events.where(F.col("_change_type").isin("update_preimage", "delete")).select("user_key").distinct()
    )
    # Without a preimage these rows are still in silver: a later version of one would bring its preimage.
    added = (
        changed_events.where(F.col("_change_type").isin("insert", "update_postimage"))
        .join(rewritten, "user_key", "left_anti").select(*columns)
    )
    kept = gold.table(USER_EVENT_COUNTRY).join(rewritten, "user_key", "left_anti")
    candidates = kept.select(*columns).unionByName(added)
    if not rewritten.isEmpty():
        candidates = candidates.unionByName(events.join(rewritten, "user_key", "left_semi").select(*columns))
    gold.publish(USER_EVENT_COUNTRY, latest_event_country(candidates))
    rewritten.unpersist()


def _update_list_users(gold: _Gold, changed_lists: DataFrame) -> None:
    """Each user's number of lists: the stored count, plus one per list version written since the last build,
    minus one per version it replaced (exact even when a rewritten list moves to another user). Rewritten whole,
    like `dim_user`: one row per user."""
    written = F.col("_change_type").isin("insert", "update_postimage")
    change = changed_lists.groupBy("user_key").agg(F.sum(F.when(written, 1).otherwise(-1)).alias("lists"))
    fresh = (
        gold.table(LIST_USERS).unionByName(change).groupBy("user_key")
        .agg(F.sum("lists").cast("long").alias("lists")).where(F.col("lists") > 0)
    )
    gold.publish(LIST_USERS, fresh)


def _publish_dim_user(gold: _Gold, as_of: dt.date) -> None:
    """dim_user, always in full: from the small tables (subscriptions, each user's latest event country, each
    user's number of lists), it costs less than finding and merging the touched users' rows."""
    gold.publish("dim_user", build_dim_user(
        gold.table("fact_subscriptions"), gold.table(USER_EVENT_COUNTRY), gold.table(LIST_USERS), as_of
    ))


def _publish_subscriptions(gold: _Gold, as_of: dt.date) -> None:
    gold.publish("fact_subscriptions", build_fact_subscriptions(gold.silver("subscriptions")))
    gold.publish("agg_subscriptions_monthly", build_agg_subscriptions_monthly(gold.table("fact_subscriptions"), as_of))


def _publish_qoe_business(gold: _Gold, as_of: dt.date, thresholds: QoeThresholds) -> None:
    """QoE joined to churn, revenue at risk and recommendations (docs/metrics-extra.md), rebuilt in full:
    each reads a month or a 7-day window of every subscriber's sessions."""
    subscriptions, sessions = gold.table("fact_subscriptions"), gold.table("fact_playback_sessions")
    gold.publish("agg_qoe_churn_monthly", build_agg_qoe_churn_monthly(subscriptions, sessions, as_of, thresholds))
    gold.publish("revenue_at_risk_daily", build_revenue_at_risk_daily(subscriptions, sessions, as_of, thresholds))
    impressions = explode_impressions(gold.silver("recommendations"))
    gold.publish("agg_recommendation_qoe", build_agg_recommendation_qoe(sessions, impressions))


def _update_qoe_business(gold: _Gold, as_of: dt.date, thresholds: QoeThresholds, session_days: list[dt.date],
                         list_days: list[dt.date]) -> None:
    """The QoE-business tables for changed sessions and lists when billing and the as-of date did not change:
    the months of the changed sessions, the 7 dates each session day reaches, and the session days a changed
    list can label (its day and the next)."""
    subscriptions, sessions = gold.table("fact_subscriptions"), gold.table("fact_playback_sessions", by_day=True)
    months = sorted({d.replace(day=1) for d in session_days if d <= as_of})
    if months:
        in_months = sessions.where(_in(F.trunc("session_date", "month"), months))
        churn = build_agg_qoe_churn_monthly(subscriptions, in_months, as_of, thresholds)
        churn = churn.where(_in(F.col("month"), months))
        gold.replace_days("agg_qoe_churn_monthly", churn, "month", months, unit="month(s)")

    first_date = gold.table("revenue_at_risk_daily").agg(F.min("date")).first()[0]
    reach = [dt.timedelta(days=k) for k in range(RISK_WINDOW_DAYS)]
    dates = sorted({d + k for d in session_days for k in reach if d + k <= as_of})
    if dates and (first_date is None or session_days[0] <= first_date):
        # The table starts at the earliest session date, which these changes may move: rebuild it.
        gold.publish("revenue_at_risk_daily", build_revenue_at_risk_daily(subscriptions, sessions, as_of, thresholds))
    elif dates:
        window = sorted({d - k for d in dates for k in reach})
        risk = build_revenue_at_risk_daily(
            subscriptions, sessions.where(_in("session_date", window)), as_of, thresholds, first_date=first_date,
            dates=dates,
        )
        gold.replace_days("revenue_at_risk_daily", risk, "date", dates)

    # A session on day d follows lists shown on d - 1 or d.
    play_days = sorted(set(session_days) | set(list_days) | {d + dt.timedelta(days=1) for d in list_days})
    if play_days:
        shown_days = sorted(set(play_days) | {d - dt.timedelta(days=1) for d in play_days})
        lists = _lists_shown_on(gold, shown_days)
        plays = build_agg_recommendation_qoe(sessions.where(_in("session_date", play_days)), explode_impressions(lists))
        gold.replace_days("agg_recommendation_qoe", plays, "date", play_days)


def _publish_calendar(gold: _Gold, as_of: dt.date) -> None:
    """kpi_monthly and dim_date (written at once), always in full: both are a row per month or day."""
    subscriptions, qoe_daily = gold.table("fact_subscriptions"), gold.table("agg_qoe_daily")
    kpi = build_kpi_monthly(
        subscriptions, gold.table("agg_subscriptions_monthly"), qoe_daily, gold.table("agg_buffering_daily"),
        gold.table("agg_errors_daily"), gold.table("dim_content"), as_of
    )
    # Each table's dates in one column, so each is scanned once (a Delta scan costs a Spark job of its own).
    dates = [
        # The session dates, read from their daily aggregate (an engagement session starts with a player session),
        # and their months': kpi_monthly's months run from the earliest session or subscription start.
        _dates_of(qoe_daily, F.col("date"), month_of(F.col("date"))),
        gold.table("agg_buffering_daily").select("date"),
        gold.table("agg_errors_daily").select("date"),
        _dates_of(subscriptions, F.col("start_date"), F.col("end_date"), F.to_date("cancelled_at"),
                  month_of(F.col("start_date"))),
        gold.table("agg_recommendations_daily").select("date"),
    ]
    run_concurrently(gold.spark, partial(gold.publish, "kpi_monthly", kpi),
                     partial(gold.publish, "dim_date", build_dim_date(dates, as_of)))


def _dates_of(table: DataFrame, *dates: Column) -> DataFrame:
    """The `dates` of every row of `table`, as one column (nulls included)."""
    return table.select(F.explode(F.array(*dates)))


def _measured(keys: DataFrame) -> DataFrame:
    """`keys` cached and counted, so the planner knows their real size: joins broadcast them when they are
    small (a run's touched sessions or users) instead of shuffling the large side."""
    keys = keys.persist(StorageLevel.MEMORY_AND_DISK)
    keys.count()
    return keys


def _instant(micros: int) -> dt.datetime:
    """A Spark timestamp (microseconds since the epoch) as an aware UTC datetime, exact in any local time zone."""
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=micros)


def _session_spans(sessions: DataFrame) -> list[dt.date]:
    """Every day from a session's start to its end, over `sessions` (distinct, so small enough to collect)."""
    span = F.sequence(F.to_date("session_start"), F.to_date("session_end"), F.expr("INTERVAL 1 DAY"))
    return _days(sessions.select(F.explode(span).alias("day")), "day")


def _days(df: DataFrame, column: str | Column) -> list[dt.date]:
    """The distinct non-null days of a column: at most one per calendar day, so small enough to collect."""
    day = F.col(column) if isinstance(column, str) else column
    return sorted(row[0] for row in df.select(day.alias("day")).where("day IS NOT NULL").distinct().collect())


def _in(column: str | Column, days: list[dt.date]) -> str | Column:
    """`column IN (days)`, as SQL text for a column name (replaceWhere, MERGE) or as a Column."""
    if isinstance(column, str):
        listed = ", ".join(f"DATE'{d.isoformat()}'" for d in days)
        return f"{column} IN ({listed})" if days else "FALSE"
    return column.isin(days)
