"""The `dataflix` command: run, generate, demo. Parses flags, builds the session, calls the job."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

from dataflix_spark.config import SOURCES, ConfigError, Settings, load_settings, parse_as_of, resolve_pepper
from dataflix_spark.ops.lock import RunLockedError
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dataflix", description="DataFlix analytics pipeline (PySpark + Delta Lake)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the pipeline: source → bronze → silver → gold")
    run.add_argument("--source", metavar="{" + ",".join(SOURCES) + "}",
                     help="where documents come from: local JSON Lines files (default) or Cosmos DB")
    run.add_argument("--input", help="local source: folder with content/, subscriptions/, playback_events/, "
                                     "recommendations/")
    run.add_argument("--cosmos-emulator", action="store_true",
                     help="Cosmos DB source: accept a local emulator's self-signed certificate (also "
                          "DATAFLIX_COSMOS_EMULATOR=1)")
    run.add_argument("--lakehouse", help="lakehouse root for the Delta tables (default ./lakehouse)")
    run.add_argument("--as-of", help="as-of date YYYY-MM-DD (default: today, UTC)")
    run.add_argument("--conf", help="YAML settings file (see conf/)")
    run.add_argument("--master", help="Spark master URL, e.g. local[2] or spark://host:7077")
    run.add_argument("--full-refresh", action="store_true", help="rebuild silver and gold from all of bronze")
    run.add_argument("--progress-bar", action="store_true", help="show Spark's own progress bar")
    run.add_argument("--watch", type=float, metavar="SECONDS",
                     help="keep running: after each run, wait SECONDS and run again over the folder (stop: Ctrl-C)")

    gen = commands.add_parser("generate", help="write realistic synthetic source documents")
    gen.add_argument("--out", required=True, help="output folder")
    gen.add_argument("--users", type=int, default=1000)
    gen.add_argument("--days", type=int, default=30)
    gen.add_argument("--titles", type=int, default=60)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--bad-rate", type=float, default=0.01)
    gen.add_argument("--duplicate-rate", type=float, default=0.02)
    gen.add_argument("--end-date", help="last day of generated activity YYYY-MM-DD (default 2026-10-31)")
    gen.add_argument("--gzip", action="store_true", help="write .jsonl.gz files")

    demo = commands.add_parser("demo", help="generate a sample, run the pipeline into ./lakehouse, print KPIs")
    demo.add_argument("--out", default="sample_data", help="where the sample documents go")
    demo.add_argument("--lakehouse", default="lakehouse")
    demo.add_argument("--users", type=int, default=1000)
    demo.add_argument("--days", type=int, default=30)
    demo.add_argument("--master", help="Spark master URL")

    seed = commands.add_parser(
        "seed", help="load local JSON documents into the configured Cosmos DB account (demos and tests)")
    seed.add_argument("--input", required=True, help="folder with content/, subscriptions/, playback_events/, "
                                                     "recommendations/ (as `dataflix generate` writes)")
    seed.add_argument("--conf", help="YAML settings file (see conf/): its cosmos block")
    seed.add_argument("--cosmos-emulator", action="store_true",
                      help="accept a local emulator's self-signed certificate (also DATAFLIX_COSMOS_EMULATOR=1)")
    seed.add_argument("--workers", type=int, default=4, help="requests in flight at once (default 4)")

    dash = commands.add_parser("dashboard", help="write the gold tables' dashboard as one self-contained HTML file")
    dash.add_argument("--lakehouse", help="lakehouse root holding gold/ (default ./lakehouse)")
    dash.add_argument("--out", default="dashboard.html", help="HTML file to write (default ./dashboard.html)")
    dash.add_argument("--conf", help="YAML settings file (see conf/)")
    dash.add_argument("--master", help="Spark master URL")

    serve = commands.add_parser("serve", help="serve the gold tables over HiveServer2 (Power BI, JDBC, beeline)")
    serve.add_argument("--lakehouse", help="lakehouse root holding gold/ (default ./lakehouse)")
    serve.add_argument("--port", type=int, default=10000, help="TCP port on 127.0.0.1 (default 10000)")
    serve.add_argument("--conf", help="YAML settings file (see conf/)")
    serve.add_argument("--master", help="Spark master URL (default local[*])")
    return parser


def _check_input(input_dir: str | None) -> str:
    if not input_dir:
        raise ConfigError("--input is required with the local source")
    if "://" not in input_dir:
        path = Path(input_dir)
        if not path.is_dir():
            raise ConfigError(f"input folder not found: {input_dir}")
        from dataflix_spark.schemas import CONTAINERS

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
        from dataflix_spark.sources.cosmos import CosmosSource

        return "", CosmosSource(_cosmos_account(settings, args), settings.cosmos)
    from dataflix_spark.sources.local_json import LocalJsonSource

    input_dir = _check_input(settings.input)
    return input_dir, LocalJsonSource(input_dir)


def command_run(args: argparse.Namespace) -> int:
    from dataflix_spark.pipeline import RunOptions, run
    from dataflix_spark.session import check_java, get_spark

    settings = _settings(args)
    as_of = parse_as_of(args.as_of)
    input_dir, source = _source(settings, args)
    check_java()
    opts = RunOptions(
        input_dir=input_dir,
        source=source,
        lakehouse=_check_lakehouse(settings.lakehouse),
        as_of=as_of,
        pepper=resolve_pepper(secret=_secret(settings)),
        full_refresh=args.full_refresh,
        qoe=settings.qoe,
    )
    if args.watch is not None and args.watch < 0:
        raise ConfigError(f"--watch needs a number of seconds >= 0, got {args.watch:g}")
    spark = get_spark(settings.spark)
    counts = run(spark, opts)
    while args.watch is not None:
        # One warm JVM for every run: a small run in it skips the start-up and JIT warm-up a new process pays.
        if not all(c.balanced() for c in counts):
            log.error("the last run's counts do not balance (see ops/run_log); watching on")
        log.info("watching %s: next run in %g s", source.describe(), args.watch)
        time.sleep(args.watch)
        # Without --as-of the date is today's at each run; --full-refresh rebuilds once, at the first.
        opts = replace(opts, as_of=parse_as_of(args.as_of), full_refresh=False)
        counts = run(spark, opts)
    return 0 if all(c.balanced() for c in counts) else 1


def _generate(out: str, users: int, days: int, seed: int = 42, titles: int = 60, bad_rate: float = 0.01,
              duplicate_rate: float = 0.02, end_date: dt.date | None = None, gzip_files: bool = False):
    from dataflix_spark.generate import generate

    kwargs = {"end_date": end_date} if end_date else {}
    return generate(out, users=users, days=days, seed=seed, titles=titles, bad_rate=bad_rate,
                    duplicate_rate=duplicate_rate, gzip_files=gzip_files, progress=log.info, **kwargs)


def command_generate(args: argparse.Namespace) -> int:
    end_date = dt.date.fromisoformat(args.end_date) if args.end_date else None
    summary = _generate(args.out, args.users, args.days, args.seed, args.titles, args.bad_rate,
                        args.duplicate_rate, end_date, args.gzip)
    log.info("wrote %s documents to %s", f"{sum(summary.counts.values()):,}", summary.out_dir)
    return 0


def command_demo(args: argparse.Namespace) -> int:
    from dataflix_spark.pipeline import RunOptions, run
    from dataflix_spark.serving.dashboard import write_dashboard
    from dataflix_spark.serving.kpis import headline_kpis, format_kpis
    from dataflix_spark.session import get_spark

    summary = _generate(args.out, args.users, args.days)
    settings = _settings(args)
    lakehouse = _check_lakehouse(args.lakehouse)
    spark = get_spark(settings.spark)
    opts = RunOptions(input_dir=str(Path(args.out).resolve()), lakehouse=lakehouse, as_of=summary.end_date,
                      pepper=resolve_pepper(), qoe=settings.qoe)
    run(spark, opts)
    print(format_kpis(headline_kpis(spark, lakehouse)))
    print(f"\nGold tables: {lakehouse}/gold/<table> (Delta Lake); run log: {lakehouse}/ops/run_log")
    print(f"Dashboard: {write_dashboard(spark, lakehouse, Path(lakehouse).parent / 'dashboard.html')}")
    return 0


def command_seed(args: argparse.Namespace) -> int:
    from dataflix_spark.sources.cosmos_seed import seed

    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    _check_input(args.input)
    account = _cosmos_account(_settings(args), args)
    seed(account, args.input, workers=args.workers, progress=log.info)
    return 0


def command_dashboard(args: argparse.Namespace) -> int:
    from dataflix_spark.serving.dashboard import write_dashboard
    from dataflix_spark.session import get_spark

    settings = _settings(args)
    lakehouse = settings.lakehouse
    if "://" not in lakehouse and not (Path(lakehouse) / "gold" / "kpi_monthly").is_dir():
        raise ConfigError(f"no gold tables under {lakehouse}: run `dataflix run` (or `dataflix demo`) first")
    spark = get_spark(settings.spark)
    print(f"Dashboard: {write_dashboard(spark, lakehouse, args.out)}")
    return 0


def command_serve(args: argparse.Namespace) -> int:
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
