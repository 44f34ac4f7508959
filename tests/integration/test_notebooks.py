"""The notebooks in notebooks/ run top to bottom (nbclient) on the shared built lakehouse, with the path put
into their `parameters` cell as papermill or a Databricks job would.

They share one kernel, as notebooks on one Databricks cluster share its `spark`: one JVM start instead of
three. Each starts from an empty namespace (`%reset -f`), so none can lean on another's variables.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.util import run_sync

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = [
    "01_quality_of_experience.ipynb", "02_subscriptions_and_churn.ipynb", "03_engagement_and_recommendations.ipynb",
]


def parameters_cell(nb):
    tagged = [cell for cell in nb.cells if "parameters" in cell.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    return tagged[0]


def test_notebooks_are_committed_without_outputs():
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == NOTEBOOKS
    for name in NOTEBOOKS:
        nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
        nbformat.validate(nb)
        assert "lakehouse = " in parameters_cell(nb).source
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """{"km": the shared kernel's manager once the first notebook has started it, "cwd": its folder}."""
    # The working directory is a temp folder so nothing (spark-warehouse, derby logs) lands in notebooks/.
    shared = {"km": None, "cwd": str(tmp_path_factory.mktemp("notebooks"))}
    yield shared
    if shared["km"] is not None:
        run_sync(shared["km"].shutdown_kernel)(now=True)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_on_the_built_lakehouse(name, built_lakehouse, kernel):
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    cell = parameters_cell(nb)
    cell.source += f"\n# injected by the test\nlakehouse = {str(built_lakehouse['path'])!r}\n"
    nb.cells.insert(0, nbformat.v4.new_code_cell("%reset -f"))
    client = NotebookClient(nb, km=kernel["km"], timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": kernel["cwd"]}})
    client.execute(cleanup_kc=False)
    kernel["km"] = client.km

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    tables = [
        o["data"]["text/plain"] for c in code if "toPandas()" in c.source for o in c.outputs if "data" in o
    ]
    assert len(tables) == sum("toPandas()" in c.source for c in code) >= 4
    assert not [t for t in tables if t.startswith("Empty DataFrame")]
    assert len(json.dumps([c.outputs for c in code])) < 200_000  # small outputs only
