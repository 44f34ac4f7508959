"""The scheduled jobs (databricks.yml + resources/*.yml, deploy/fabric/*.json) name entry points,
flags and files that exist, run on the documented schedules and hold no secret."""
from __future__ import annotations

import glob
import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from dataflix_spark.cli import _parser
from dataflix_spark.config import load_settings

REPO = Path(__file__).resolve().parents[2]
FABRIC = REPO / "deploy" / "fabric"
# As documented in docs/cluster.md: one run a day, a full refresh on Sundays, 02:00 UTC.
DATABRICKS_CRONS = {"dataflix_daily": "0 0 2 ? * MON-SAT", "dataflix_weekly_full": "0 0 2 ? * SUN"}
# The serverless variant of the daily run: the same schedule, paused (unpause it and pause dataflix_daily to switch).
SERVERLESS_JOBS = {"dataflix_daily_serverless": "0 0 2 ? * MON-SAT"}
FULL_REFRESH_JOBS = {"dataflix_weekly_full", "dataflix-weekly-full"}
WEEK = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
SECRET_REFERENCE = re.compile(r"^\{\{secrets/[\w.-]+/[\w.-]+\}\}$")
SECRET_NAMES = re.compile(r"pepper|secret|password|token|account_?key|cosmos_?key", re.IGNORECASE)


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _bundle() -> dict:
    """databricks.yml with its included files' resources merged in."""
    root = yaml.safe_load((REPO / "databricks.yml").read_text())
    jobs: dict = {}
    for pattern in root.get("include", []):
        for path in sorted(glob.glob(str(REPO / pattern))):
            jobs.update(yaml.safe_load(Path(path).read_text())["resources"]["jobs"])
    assert jobs, "no jobs found through databricks.yml's include"
    return {**root, "jobs": jobs}


def _wheel_tasks(bundle: dict):
    for job_name, job in bundle["jobs"].items():
        for task in job["tasks"]:
            yield job_name, job, task


def _days(cron: str) -> list[str]:
    """The weekdays of a Quartz cron `sec min hour ? * DOW` (DOW as MON-SAT, SUN or a list)."""
    days = []
    for part in cron.split()[5].split(","):
        first, _, last = part.partition("-")
        days += WEEK[WEEK.index(first): WEEK.index(last or first) + 1]
    return days


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _walk(node, key=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, str(k))
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, key)
    else:
        yield key, node


def _pinned(requirement_name: str) -> str:
    """The pyproject's pin of a package of the `cosmos` extra."""
    pins = _pyproject()["project"]["optional-dependencies"]["cosmos"]
    return next(pin for pin in pins if pin.startswith(requirement_name + "=="))


def test_wheel_tasks_name_the_package_and_its_console_script():
    project = _pyproject()["project"]
    bundle = _bundle()
    tasks = list(_wheel_tasks(bundle))
    assert {job for job, _, _ in tasks} == set(DATABRICKS_CRONS) | set(SERVERLESS_JOBS)
    for job_name, job, task in tasks:
        wheel = task["python_wheel_task"]
        assert _normalize(wheel["package_name"]) == _normalize(project["name"])
        # job(), not main(): a wheel task ignores the return value, so failures must raise SystemExit.
        assert project["scripts"][wheel["entry_point"]] == "dataflix_spark.cli:job"
        if job_name in SERVERLESS_JOBS:
            # Serverless: no JVM library; the wheel and the PyPI data source in the job's environment.
            assert "libraries" not in task and "job_clusters" not in job
            environment = next(e for e in job["environments"] if e["environment_key"] == task["environment_key"])
            dependencies = environment["spec"]["dependencies"]
            assert "../dist/*.whl" in dependencies
            assert {_pinned("cosmosdb-spark-datasource"), _pinned("azure-cosmos")} <= set(dependencies)
            continue
        libraries = task["libraries"]
        assert {"whl": "../dist/*.whl"} in libraries  # the artifact databricks.yml builds into dist/
        maven = [lib["maven"]["coordinates"] for lib in libraries if "maven" in lib]
        assert len(maven) == 1 and re.fullmatch(r"com\.azure\.cosmos\.spark:azure-cosmos-spark_4-0_2-13:\d+\.\d+\.\d+",
                                                maven[0])


def test_wheel_task_parameters_parse_with_the_real_cli():
    bundle = _bundle()
    declared = set(bundle["variables"])
    for job_name, _, task in _wheel_tasks(bundle):
        params = task["python_wheel_task"]["parameters"]
        args = _parser().parse_args(params)
        assert (args.command, args.source, args.input, args.lakehouse) == ("run", "cosmos", None, "${var.lakehouse}")
        assert args.full_refresh == (job_name in FULL_REFRESH_JOBS)
        assert (args.as_of, args.master) == (None, None)  # today (UTC) and the platform's master
        assert set(re.findall(r"\$\{var\.(\w+)\}", json.dumps(bundle["jobs"]))) <= declared
        # The conf file is synced with the bundle: ${workspace.file_path} is the repo root there.
        conf = Path(args.conf.replace("${workspace.file_path}", str(REPO)))
        assert conf.parent == REPO / "conf" and conf.is_file()
        settings = load_settings(str(conf))
        assert settings.spark.master is None and settings.source == "cosmos"
        # The JVM connector where the cluster installs it, the PyPI data source on serverless.
        assert settings.cosmos.reader == ("datasource" if job_name in SERVERLESS_JOBS else "connector")
        assert settings.secret_scope == ("dataflix" if job_name in SERVERLESS_JOBS else None)


def test_databricks_jobs_run_on_the_documented_schedules_on_spark_4():
    bundle = _bundle()
    crons = {name: job["schedule"]["quartz_cron_expression"] for name, job in bundle["jobs"].items()}
    assert crons == {**DATABRICKS_CRONS, **SERVERLESS_JOBS}
    assert {job["schedule"]["timezone_id"] for job in bundle["jobs"].values()} == {"UTC"}
    active = {name: cron for name, cron in crons.items() if bundle["jobs"][name]["schedule"]["pause_status"] != "PAUSED"}
    assert active == DATABRICKS_CRONS
    days = [d for cron in active.values() for d in _days(cron)]
    assert sorted(days, key=WEEK.index) == WEEK  # every day exactly once: runs never overlap
    docs = (REPO / "docs" / "cluster.md").read_text()
    assert all(cron in docs for cron in crons.values()) and all(name in docs for name in SERVERLESS_JOBS)
    for job in bundle["jobs"].values():
        assert job["max_concurrent_runs"] == 1
        for cluster in job.get("job_clusters", []):
            assert re.fullmatch(r"17\.\d+\.x-scala2\.13", cluster["new_cluster"]["spark_version"])


def test_databricks_secrets_come_from_the_secret_scope():
    for name, job in _bundle()["jobs"].items():
        for cluster in job.get("job_clusters", []):
            env = cluster["new_cluster"]["spark_env_vars"]
            assert {"DATAFLIX_PEPPER", "DATAFLIX_COSMOS_KEY"} <= set(env)
            assert all(SECRET_REFERENCE.match(value) for value in env.values()), env
        assert job.get("job_clusters") or name in SERVERLESS_JOBS  # serverless: the scope named in its conf


def _fabric_definitions() -> dict[str, dict]:
    found = {p.name.split(".")[0]: json.loads(p.read_text()) for p in FABRIC.glob("*.SparkJobDefinitionV1.json")}
    assert set(found) == {"dataflix-daily", "dataflix-weekly-full"}
    return found


def test_fabric_job_definitions_run_the_spark_submit_entry_point_with_real_flags():
    keys = {"executableFile", "defaultLakehouseArtifactId", "mainClass", "additionalLakehouseIds", "retryPolicy",
            "commandLineArguments", "additionalLibraryUris", "language", "environmentArtifactId"}
    assert "main([\"run\", *sys.argv[1:]])" in (REPO / "jobs" / "run_pipeline.py").read_text()
    for name, definition in _fabric_definitions().items():
        assert set(definition) == keys and definition["language"] == "Python"
        assert definition["executableFile"].endswith("/Main/run_pipeline.py")
        assert [uri.rsplit("/", 1)[1] for uri in definition["additionalLibraryUris"]] == ["dataflix_spark.zip"]
        args = _parser().parse_args(["run", *shlex.split(definition["commandLineArguments"])])
        assert (args.source, args.input) == ("cosmos", None) and args.lakehouse.startswith("abfss://")
        assert args.full_refresh == (name in FULL_REFRESH_JOBS)
        # The conf file is uploaded to the default lakehouse's Files/conf/, mounted at /lakehouse/default/.
        assert args.conf == "/lakehouse/default/Files/conf/fabric.yaml"
        settings = load_settings(str(REPO / "conf" / "fabric.yaml"))
        assert (settings.source, settings.cosmos.reader, settings.spark.master) == ("cosmos", "datasource", None)
        assert settings.key_vault and settings.key_vault.startswith("https://")


def test_fabric_schedules_match_the_databricks_ones():
    for name, cron in zip(("dataflix-daily", "dataflix-weekly-full"), DATABRICKS_CRONS.values()):
        config = json.loads((FABRIC / f"{name}.schedule.json").read_text())["configuration"]
        assert (config["type"], config["times"], config["localTimeZoneId"]) == ("Weekly", ["02:00"], "UTC")
        assert [d[:3].upper() for d in config["weekdays"]] == _days(cron)


@pytest.mark.parametrize("path", ["databricks.yml", *sorted(glob.glob("resources/*.yml", root_dir=REPO)),
                                  *sorted(glob.glob("deploy/**/*.json", root_dir=REPO, recursive=True))])
def test_no_secret_literal_in_deployment_files(path):
    text = (REPO / path).read_text()
    document = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    for key, value in _walk(document):
        if SECRET_NAMES.search(key):
            assert isinstance(value, str) and SECRET_REFERENCE.match(value), f"{path}: {key} is not a secret reference"
    assert not re.search(r"dapi[0-9a-f]{32}|AccountKey=|SharedAccessSignature|[A-Za-z0-9+/]{40,}={0,2}", text)
