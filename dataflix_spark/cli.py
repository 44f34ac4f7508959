"""The `dataflix` command: run, generate, demo. Parses flags, builds the session, calls the job."""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import NoReturn

from dataflix_spark.config import SOURCES, ConfigError, Settings, load_settings, parse_as_of, resolve_pepper
from dataflix_spark.ops.lock import RunLockedError, check_unlocked
from dataflix_spark.sources import SourceError

log = logging.getLogger("dataflix")


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    # py4j logs every gateway call at INFO, the Azure SDK every HTTP request and response.
    for chatty in ("py4j", "azure", "urllib3"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


class _Help(argparse.HelpFormatter):
    """Help that shows a flag's default when it has one (not for switches and flags without one)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (`dataflix: error: …`) rather than usage text and a message."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"dataflix: error: {message} (see {self.prog} --help)\n")


def _number(kind, low, high=None, low_open=False, high_open=False):
    """An argparse type: a number of `kind` in [low, high] (or an open end); the message names the range."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {'whole ' if kind is int else ''}number: {text!r}") from None
        below = value <= low if low_open else value < low
        above = high is not None and (value >= high if high_open else value > high)
        if below or above or value != value:  # the last: NaN
            span = f"{'>' if low_open else '>='} {low:g}" + ("" if high is None else
                                                             f" and {'<' if high_open else '<='} {high:g}")
            raise argparse.ArgumentTypeError(f"must be {span}, got {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


_COUNT = _number(int, 1)
_RATE = _number(float, 0, 1, high_open=True)
_FOLDERS = "content/, subscriptions/, playback_events/, recommendations/"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dataflix", description="DataFlix analytics pipeline (PySpark + Delta Lake): documents "
                                                  "from local JSON Lines files or Cosmos DB → bronze → silver → gold.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, and Spark's start-up output")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, description=description,
                                   formatter_class=_Help)

    run = command("run", "run the pipeline: source → bronze → silver → gold",
                  "Reads the documents the lakehouse does not hold yet (local JSON Lines files, or a Cosmos DB "
                  "account), validates and de-duplicates them into silver, and brings the gold tables up to date. "
                  "A run with nothing new changes nothing. Exit codes: 0 done, 1 counts did not balance, 2 bad "
                  "flags or settings, 3 another run holds the lakehouse, 4 the source failed.")
    run.add_argument("--source", metavar="{" + ",".join(SOURCES) + "}", default=None,
                     help="where documents come from: local JSON Lines files or Cosmos DB (default: the --conf "
                          "file's source:, else local)")
    run.add_argument("--input", help="local source (required with it, here or as input: in --conf): folder with "
                                     + _FOLDERS)
    run.add_argument("--cosmos-emulator", action="store_true",
                     help="Cosmos DB source: accept a local emulator's self-signed certificate (also "
                          "DATAFLIX_COSMOS_EMULATOR=1)")
    run.add_argument("--lakehouse", help="lakehouse root for the Delta tables (default: --conf's lakehouse:, "
                                         "else ./lakehouse)")
    run.add_argument("--as-of", help="as-of date YYYY-MM-DD (default: today, UTC)")
    run.add_argument("--conf", help="YAML settings file (see conf/)")
    run.add_argument("--master", help="Spark master URL, e.g. local[2] or spark://host:7077 (default: --conf's, "
                                      "else local[*])")
    run.add_argument("--full-refresh", action="store_true", help="rebuild silver and gold from all of bronze")
    run.add_argument("--progress-bar", action="store_true", help="show Spark's own progress bar")
    run.add_argument("--watch", type=_number(float, 0), metavar="SECONDS",
                     help="keep running: after each run, wait SECONDS and run again (stop: Ctrl-C)")

    gen = command("generate", "write realistic synthetic source documents",
                  "Writes synthetic documents as JSON Lines, one folder per container (" + _FOLDERS + "), "
                  "with a share of bad and duplicate documents, for demos, tests and benchmarks.")
    gen.add_argument("--out", required=True, help="output folder")
    gen.add_argument("--users", type=_COUNT, default=1000, help="users")
    gen.add_argument("--days", type=_COUNT, default=30, help="days of activity, ending on --end-date")
    gen.add_argument("--titles", type=_COUNT, default=60, help="titles in the catalogue")
    gen.add_argument("--seed", type=int, default=42, help="random seed: the same seed writes the same documents")
    gen.add_argument("--bad-rate", type=_RATE, default=0.01, help="share of documents that are bad (quarantined)")
    gen.add_argument("--duplicate-rate", type=_RATE, default=0.02, help="share of documents delivered twice")
    gen.add_argument("--end-date", type=_date, default=dt.date(2026, 10, 31),
                     help="last day of generated activity YYYY-MM-DD")
    gen.add_argument("--gzip", action="store_true", help="write .jsonl.gz files")

    demo = command("demo", "generate a sample, run the pipeline into a fresh lakehouse, print KPIs",
                   "Generates a sample (as `dataflix generate`), runs the pipeline over it into a fresh demo "
                   "lakehouse (an earlier demo's is replaced), prints headline KPIs and writes the dashboard "
                   "beside the lakehouse.")
    demo.add_argument("--out", default="sample_data", help="where the sample documents go (replaced)")
    demo.add_argument("--lakehouse", default="lakehouse", help="the demo lakehouse (replaced)")
    # Three months of playback by default: the as-of month's churn is not known yet, so the QoE × business charts
    # need earlier months with playback to show anything.
    demo.add_argument("--users", type=_COUNT, default=350, help="users")
    demo.add_argument("--days", type=_COUNT, default=92, help="days of activity, ending on 2026-10-31")
    demo.add_argument("--master", help="Spark master URL (default: local[*])")

    seed = command("seed", "load local JSON documents into the configured Cosmos DB account (demos and tests)",
                   "Creates the database and the four containers (with the contract's partition keys) when missing "
                   "and upserts the newest version of every document, in parallel. The account comes from --conf "
                   "and DATAFLIX_COSMOS_ENDPOINT / DATAFLIX_COSMOS_KEY / DATAFLIX_COSMOS_DATABASE.")
    seed.add_argument("--input", required=True, help="folder with " + _FOLDERS + " (as `dataflix generate` writes)")
    seed.add_argument("--conf", help="YAML settings file (see conf/): its cosmos block")
    seed.add_argument("--cosmos-emulator", action="store_true",
                      help="accept a local emulator's self-signed certificate (also DATAFLIX_COSMOS_EMULATOR=1)")
    seed.add_argument("--workers", type=_COUNT, default=4, help="requests in flight at once")

    dash = command("dashboard", "write the gold tables' dashboard as one self-contained HTML file",
                   "Reads the gold tables and writes one HTML file (no server, no network) with every chart.")
    dash.add_argument("--lakehouse", help="lakehouse root holding gold/ (default: --conf's, else ./lakehouse)")
    dash.add_argument("--out", default="dashboard.html", help="HTML file to write")
    dash.add_argument("--conf", help="YAML settings file (see conf/)")
    dash.add_argument("--master", help="Spark master URL")

    serve = command("serve", "serve the gold tables over HiveServer2 (Power BI, JDBC, beeline)",
                    "Serves the gold tables as the `dataflix` database over HiveServer2 (Thrift, binary) on "
                    "127.0.0.1, for Power BI DirectQuery, JDBC/ODBC clients and beeline. Runs until stopped: "
                    "Ctrl-C (or SIGTERM) stops it.")
    serve.add_argument("--lakehouse", help="lakehouse root holding gold/ (default: --conf's, else ./lakehouse)")
    serve.add_argument("--port", type=_number(int, 1, 65535), default=10000, help="TCP port on 127.0.0.1")
    serve.add_argument("--conf", help="YAML settings file (see conf/)")
    serve.add_argument("--master", help="Spark master URL (default: --conf's, else local[*])")
    return parser


def _check_input(input_dir: str | None) -> str:
    if not input_dir:
        raise ConfigError("--input is required with the local source")
    if "://" not in input_dir:
        path = Path(input_dir)
        if not path.is_dir():
            raise ConfigError(f"input folder not found: {input_dir}")
        from dataflix_spark.lakehouse import CONTAINERS

        if not any((path / c).is_dir() and any((path / c).iterdir()) for c in CONTAINERS):
            raise ConfigError(f"input folder {input_dir} has no documents in any of {', '.join(CONTAINERS)}")
    return input_dir


def _check_lakehouse(lakehouse: str) -> str:
    if "://" in lakehouse:
        return lakehouse
    path = Path(lakehouse)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".dataflix-write-probe"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"lakehouse {lakehouse} is not writable: {exc.strerror}") from None
    return str(path.resolve())


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {"spark": {"master": getattr(args, "master", None)}, "source": getattr(args, "source", None)}
    if getattr(args, "progress_bar", False):
        overrides["spark"]["show_progress_bar"] = True
    for name in ("input", "lakehouse"):
        if getattr(args, name, None):
            overrides[name] = getattr(args, name)
    return load_settings(getattr(args, "conf", None), overrides)


def _secret(settings: Settings):
    """The settings' Databricks secret scope or Fabric key vault as a lookup by name (None without either)."""
    if not (settings.secret_scope or settings.key_vault):
        return None
    from dataflix_spark.sources.cosmos import databricks_secret, fabric_secret

    if settings.secret_scope:
        return partial(databricks_secret, settings.secret_scope)
    return partial(fabric_secret, settings.key_vault)


def _cosmos_account(settings: Settings, args: argparse.Namespace):
    from dataflix_spark.sources.cosmos import resolve_account

    return resolve_account(settings.cosmos, emulator=getattr(args, "cosmos_emulator", False), secret=_secret(settings))


def _source(settings: Settings, args: argparse.Namespace):
    """The run's document source, its settings checked before Spark starts."""
    if settings.source == "cosmos":
        from dataflix_spark.sources.cosmos import CosmosSource, check_reachable

        account = _cosmos_account(settings, args)
        check_reachable(account)
        return "", CosmosSource(account, settings.cosmos)
    input_dir = _check_input(settings.input)
    from dataflix_spark.sources.local_json import LocalJsonSource

    return input_dir, LocalJsonSource(input_dir)


def _require_spark() -> None:
    """PySpark, Delta Lake's Python package and Java 17+, checked before a command does anything."""
    missing = [name for module, name in (("pyspark", "pyspark"), ("delta", "delta-spark"))
               if importlib.util.find_spec(module) is None]
    if missing:
        raise ConfigError(f"{' and '.join(missing)} not installed: pip install 'dataflix-spark[spark]' "
                          "(on a cluster, the runtime provides Spark and Delta Lake)")
    from dataflix_spark.session import check_java

    check_java()


# Below this much input and bronze, a run's queries are compiled for a few thousand rows each: Spark's whole-stage
# code generation (a Java compile per query) then costs more than it saves (a first run of 1,239 documents in a
# new process: 88.6 s with it, 76.6 s without; bench/small_runs.py).
SMALL_RUN_BYTES = 128 * 1024 * 1024


def _run_bytes(source, lakehouse: str) -> int | None:
    """Bytes of what the source holds (`Source.offered_bytes`: a local folder's files, a Cosmos DB account's
    documents) and of bronze; None when either is not measured (a remote folder or lakehouse, an account that
    does not say)."""
    from dataflix_spark.sources.local_json import folder_bytes

    offered = source.offered_bytes()
    bronze = folder_bytes(os.path.join(lakehouse, "bronze"))
    size = None if offered is None or bronze is None else offered + bronze
    log.debug("source and bronze: %s bytes", size)
    return size


def _work_bytes(opts) -> int | None:
    """What a run will read: nothing when the source and the tables are as the last completed run left them (the
    run then only logs itself, a tiny run whatever the input's size; it checks again under its lock), else
    `_run_bytes`. The demo's no-change run: its one append 3.8 s with the defaults for 67 MB of input."""
    from dataflix_spark.pipeline import nothing_new

    if nothing_new(opts):
        log.debug("nothing new since the last run: sized as a tiny run")
        return 0
    return _run_bytes(opts.document_source(), opts.lakehouse)


def _new_bytes(opts) -> int | None:
    """Bytes of the documents offered since the last completed run, when this run differs from it in those only
    (`last_run.last_offered`): such a run reads its new files and the days they reach, not its whole lakehouse.
    None otherwise (a first run, a full refresh, another as-of date, a table written since, a source that cannot
    tell)."""
    from dataflix_spark.ops import last_run

    if opts.full_refresh:
        return None
    source = opts.document_source()
    now = source.offered()
    earlier = last_run.last_offered(opts.lakehouse, last_run.run_state(now, opts.as_of, opts.qoe))
    return None if earlier is None else source.offered_since(earlier, now)


def _below(size: int | None, limit: int) -> bool:
    """A measured run size under `limit` bytes (an unmeasured run is never small)."""
    return size is not None and size < limit


# A small run's queries see a few thousand rows: generating and compiling Java for each (whole-stage code
# generation, then per-expression code) costs more than interpreting them. A first run of 1,239 documents:
# 141-147 s -> 123 s with interpreted expressions; but the demo's 67 MB took longer so (216 s against 188 s, with
# the short-run JIT as well): interpreted expressions only under TINY_RUN_BYTES (docs/performance.md).
# Its Delta tables hold a few files each: per-file statistics (min/max/null counts, computed for every row written)
# and a log rebuilt in two tasks cost more than the data skipping they allow. Pipeline runs over the tests' typical
# input in one warm JVM, alternated: 18.8 -> 17.0 s with one snapshot task, and about 2 s less again without
# statistics (docs/performance.md). A run above the size keeps both; a table holds statistics for the files that
# such a run writes. None: the session's own value.
TINY_RUN_BYTES = 16 * 1024 * 1024
SMALL_RUN_SQL = {"spark.sql.codegen.wholeStage": (SMALL_RUN_BYTES, "false", "true"),
                 "spark.sql.codegen.factoryMode": (TINY_RUN_BYTES, "NO_CODEGEN", "FALLBACK"),
                 "spark.databricks.delta.stats.collect": (SMALL_RUN_BYTES, "false", "true"),
                 "spark.databricks.delta.snapshotPartitions": (SMALL_RUN_BYTES, "1", None)}
_session_values: dict[str, str | None] = {}


def is_short_run(size: int | None) -> bool:
    """Whether a run of `size` bytes of input and bronze gets the short-run JIT (session.SHORT_RUN_JAVA_OPTIONS). Up
    to SMALL_RUN_BYTES the optimising compiler's CPU is not won back on two cores: the demo's first run (67 MB)
    118-128 s -> 75-98 s with it, 121 MB 115-130 s -> 92-109 s (docs/performance.md)."""
    return _below(size, SMALL_RUN_BYTES)


def short_jit(size: int | None, new: int | None) -> bool:
    """The short-run JIT for a small run (`is_short_run`), and for a run after a completed one whose new documents
    (`_new_bytes`) are as few: an increment's process lives as briefly. The +1 % increment at 11.5M events (71 MB of
    new files), alternated: 102.7-104.4 s -> 91.2-98.8 s (docs/performance.md). Code generation still follows
    `size`: the increment's queries read days of large tables (with it off too: 105.7-112.8 s)."""
    return is_short_run(size) or is_short_run(new)


def _size_settings(spark, settings: Settings, size: int | None) -> None:
    """Each SMALL_RUN_SQL setting for a run under its size, the large-run value otherwise (a key set by --conf is left
    as set)."""
    for key, (limit, under, otherwise) in SMALL_RUN_SQL.items():
        if key in settings.spark.conf:
            continue
        if otherwise is None:  # a watching process's later, larger run gets the session's value back
            otherwise = _session_values.setdefault(key, spark.conf.get(key, None))
        value = under if _below(size, limit) else otherwise
        spark.conf.unset(key) if value is None else spark.conf.set(key, value)


def _size_said(size: int | None, new: int | None = None) -> str:
    """The run's size as its first line says it, with the tuning it picks (`short_jit`, `_size_settings`)."""
    if size is None:
        return "size unknown: tuned for a large run"
    if size == 0:
        return "nothing new to read: a small run"
    said = f"{size / 1e6:,.1f} MB of documents and bronze" + ("" if new is None else f", {new / 1e6:,.1f} MB new")
    return said + (": a small run" if is_short_run(size) else ": the short-run JIT" if short_jit(size, new) else "")


def _start_spark(settings: Settings, args: argparse.Namespace, lakehouse: str, size: int | None,
                 make_class_cache: bool = False, new: int | None = None):
    """The session, with a line before (a start takes 5–30 s) and a heartbeat; Spark's and Ivy's own output goes
    to `<lakehouse>/_logs/spark.log` (a temporary file for a remote lakehouse), or the terminal with -v."""
    from dataflix_spark.ops.progress import Progress
    from dataflix_spark.session import get_spark

    output = None
    if not args.verbose:
        folder = Path(lakehouse) / "_logs" if "://" not in lakehouse else Path(tempfile.gettempdir())
        output = str(folder / ("spark.log" if "://" not in lakehouse else f"dataflix-spark-{os.getpid()}.log"))
    master = settings.spark.master or "local[*]"
    log.info("starting Spark (%s; %s) …", master, _size_said(size, new))
    with Progress() as progress:
        progress.working_on(f"starting Spark ({master})")
        spark = get_spark(settings.spark, output=output, short_run=short_jit(size, new),
                          make_class_cache=make_class_cache)
    log.info("Spark started in %.0f s%s", progress.elapsed(), f"; its own output: {output}" if output else "")
    return spark


def command_run(args: argparse.Namespace) -> int:
    _require_spark()
    settings = _settings(args)
    as_of = parse_as_of(args.as_of)
    input_dir, source = _source(settings, args)
    lakehouse = _check_lakehouse(settings.lakehouse)
    pepper = resolve_pepper(secret=_secret(settings))
    from dataflix_spark.pipeline import RunOptions  # imports PySpark (0.5 s): once the flags are known to be right

    opts = RunOptions(input_dir=input_dir, source=source, lakehouse=lakehouse, as_of=as_of, pepper=pepper,
                      full_refresh=args.full_refresh, qoe=settings.qoe)
    check_unlocked(opts.lakehouse)
    size = _work_bytes(opts)
    new = _new_bytes(opts) if size else None
    # A watching process ends on Ctrl-C, which should not wait for the class cache to be written.
    spark = _start_spark(settings, args, opts.lakehouse, size, make_class_cache=args.watch is None, new=new)
    succeeded = False
    try:
        code = _run_and_watch(spark, settings, args, opts, source, size)
        succeeded = True
        return code
    finally:
        _end_spark(spark, succeeded)


def _end_spark(spark, succeeded: bool) -> None:
    """Ends the application here (a cluster's master lists it as finished), then the JVM; one that writes the class
    cache at its exit (the first run on an install) says so: it takes seconds after the run's last line."""
    from dataflix_spark import session
    from dataflix_spark.ops.progress import Progress

    session.stop_spark(spark)
    if not (succeeded and session.class_cache_pending()):
        session.end_jvm(succeeded)
        return
    log.info("saving the JVM's class cache for later runs (once per install; %s) …", session.class_cache_folder())
    with Progress() as progress:
        progress.working_on("saving the JVM's class cache")
        kept = session.end_jvm(True)
    log.info("class cache %s in %.0f s", "saved" if kept else "not saved (the JVM wrote none)", progress.elapsed())


def _run_and_watch(spark, settings: Settings, args: argparse.Namespace, opts, source, size: int | None) -> int:
    from dataflix_spark.pipeline import run

    _size_settings(spark, settings, size)
    counts = run(spark, opts)
    while args.watch is not None:
        # One warm JVM for every run: a small run in it skips the start-up and JIT warm-up a new process pays.
        if not all(c.balanced() for c in counts):
            log.error("the last run's counts do not balance (see ops/run_log); watching on")
        log.info("watching %s: next run in %g s", source.describe(), args.watch)
        time.sleep(args.watch)
        # Without --as-of the date is today's at each run; --full-refresh rebuilds once, at the first.
        opts = replace(opts, as_of=parse_as_of(args.as_of), full_refresh=False)
        _size_settings(spark, settings, _work_bytes(opts))
        counts = run(spark, opts)
    return 0 if all(c.balanced() for c in counts) else 1


def _generate(out: str, users: int, days: int, seed: int = 42, titles: int = 60, bad_rate: float = 0.01,
              duplicate_rate: float = 0.02, end_date: dt.date | None = None, gzip_files: bool = False,
              progress=log.info):
    from dataflix_spark.generate import generate

    kwargs = {"end_date": end_date} if end_date else {}
    return generate(out, users=users, days=days, seed=seed, titles=titles, bad_rate=bad_rate,
                    duplicate_rate=duplicate_rate, gzip_files=gzip_files, progress=progress, **kwargs)


def command_generate(args: argparse.Namespace) -> int:
    summary = _generate(args.out, args.users, args.days, args.seed, args.titles, args.bad_rate,
                        args.duplicate_rate, args.end_date, args.gzip)
    log.info("wrote %s documents to %s", f"{sum(summary.counts.values()):,}", summary.out_dir)
    return 0


def _replaceable(path: str, flag: str, markers: tuple[str, ...]) -> Path:
    """A folder the demo may replace: missing, empty, or holding one of `markers` (an earlier demo's folders)."""
    folder = Path(path).resolve()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{flag} {path} is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not any((folder / m).is_dir() for m in markers):
        raise ConfigError(f"{flag} {path} is not an earlier demo's (no {', '.join(markers)} in it) and the demo "
                          "replaces it: choose another folder, or empty it")
    return folder


def command_demo(args: argparse.Namespace) -> int:
    _require_spark()
    from dataflix_spark.lakehouse import CONTAINERS

    sample = _replaceable(args.out, "--out", CONTAINERS)
    lakehouse = _replaceable(args.lakehouse, "--lakehouse", ("bronze", "silver", "gold", "ops", "_logs"))
    settings = _settings(args)
    from dataflix_spark.pipeline import RunOptions, run
    from dataflix_spark.serving.dashboard import write_dashboard
    from dataflix_spark.serving.kpis import format_kpis, headline_kpis

    # A demo shows the data it just generated: an earlier demo's sample and lakehouse would mix with it
    # (its files are already read, and its gold is for other options).
    for folder, what in ((sample, "sample"), (lakehouse, "lakehouse")):
        if folder.exists():
            log.info("replacing the earlier demo %s %s", what, folder)
            shutil.rmtree(folder)
    log.info("generating %d users' documents over %d days into %s …", args.users, args.days, sample)
    summary = _generate(str(sample), args.users, args.days, progress=None)  # a line per day is for `generate`
    log.info("generated %s documents", f"{sum(summary.counts.values()):,}")
    lakehouse_path = _check_lakehouse(str(lakehouse))
    from dataflix_spark.sources.local_json import LocalJsonSource

    size = _run_bytes(LocalJsonSource(str(sample)), lakehouse_path)
    spark = _start_spark(settings, args, lakehouse_path, size, make_class_cache=True)
    succeeded = False
    try:
        _size_settings(spark, settings, size)
        opts = RunOptions(input_dir=str(sample), lakehouse=lakehouse_path, as_of=summary.end_date,
                          pepper=resolve_pepper(), qoe=settings.qoe)
        run(spark, opts)
        headline = headline_kpis(spark, lakehouse_path)
        print(format_kpis(headline))
        print(f"\nGold tables: {lakehouse_path}/gold/<table> (Delta Lake); run log: {lakehouse_path}/ops/run_log")
        dashboard = write_dashboard(spark, lakehouse_path, lakehouse.parent / "dashboard.html", headline)
        print(f"Dashboard: {dashboard}", flush=True)
        succeeded = True
    finally:
        _end_spark(spark, succeeded)
    return 0


def command_seed(args: argparse.Namespace) -> int:
    _check_input(args.input)
    from dataflix_spark.sources.cosmos import check_reachable
    from dataflix_spark.sources.cosmos_seed import seed

    account = _cosmos_account(_settings(args), args)
    check_reachable(account)
    seed(account, args.input, workers=args.workers, progress=log.info)
    return 0


def command_dashboard(args: argparse.Namespace) -> int:
    _require_spark()
    settings = _settings(args)
    lakehouse = settings.lakehouse
    if "://" not in lakehouse and not (Path(lakehouse) / "gold" / "kpi_monthly").is_dir():
        raise ConfigError(f"no gold tables under {lakehouse}: run `dataflix run` (or `dataflix demo`) first")
    from dataflix_spark.serving.dashboard import write_dashboard
    from dataflix_spark.session import get_spark

    spark = get_spark(settings.spark)
    print(f"Dashboard: {write_dashboard(spark, lakehouse, args.out)}")
    return 0


def command_serve(args: argparse.Namespace) -> int:
    _require_spark()
    from dataflix_spark.serving.thrift import serve

    settings = _settings(args)
    return serve(settings.spark, settings.lakehouse, port=args.port)


COMMANDS = {
    "run": command_run, "seed": command_seed, "generate": command_generate, "demo": command_demo,
    "dashboard": command_dashboard,
    "serve": command_serve,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"dataflix: error: {exc}", file=sys.stderr)
        return 2
    except RunLockedError as exc:
        print(f"dataflix: error: {exc}", file=sys.stderr)
        return 3
    except SourceError as exc:
        print(f"dataflix: error: {exc}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        print("dataflix: interrupted", file=sys.stderr)
        return 130


def job() -> None:
    """The scheduled jobs' entry point (Databricks wheel task): a wheel task calls the function and ignores
    what it returns, so a failure must leave as a non-zero SystemExit for the task to fail."""
    code = main()
    if code:
        raise SystemExit(code)


if __name__ == "__main__":
    sys.exit(main())
