"""A run's notebook, executed on a fresh kernel, prints the run's own figures again."""

from __future__ import annotations

import ast

import nbformat
import pandas as pd
import pytest

from lepton_core.cli import main
from lepton_core.core import WorkspaceError
from lepton_core.runs import TrainConfig, run_notebook, train


@pytest.fixture(scope="module")
def small_run(adult_small: pd.DataFrame, workspace, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("notebook") / "adult_notebook.csv"
    adult_small.head(600).to_csv(path, index=False)
    return train(
        TrainConfig(data=str(path), target="Y", sensitive=["sex"], explain_rows=20),
        workspace=workspace,
    )


def _results(notebook) -> dict:
    """The value each tagged cell ends with (a dict or list written with full precision)."""
    found = {}
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.metadata.get("tags"):
            (shown,) = [o for o in cell.outputs if o.output_type == "execute_result"]
            found[cell.metadata["tags"][0]] = ast.literal_eval(shown["data"]["text/plain"])
    return found


def test_the_notebook_reproduces_the_run(small_run, workspace, tmp_path):
    from jupyter_client import KernelManager
    from nbclient import NotebookClient

    notebook = run_notebook(workspace, small_run.run_id)
    nbformat.validate(notebook)
    # A fresh kernel over local sockets (no TCP port), as a user's Jupyter would start one;
    # the sockets live in tmp_path, not in the folder the tests run from.
    manager = KernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "kernel"))
    NotebookClient(notebook, km=manager, timeout=240).execute()
    results = _results(notebook)
    assert set(results["metrics"]) == set(small_run.evaluation.metrics)
    for name, value in small_run.evaluation.metrics.items():
        assert results["metrics"][name] == pytest.approx(value, abs=1e-9), name
    assert results["counts"]["test_rows"] == small_run.evaluation.n_rows
    assert results["counts"]["confusion"] == small_run.evaluation.confusion  # counts: exact
    (report,) = small_run.fairness
    for name, value in report.summary().items():
        shown = results["fairness"]["sex"][name]
        assert shown == (pytest.approx(value, abs=1e-9) if isinstance(value, float) else value)
    stored = small_run.shap_summary["importance"]
    expected = stored[next(iter(stored))][:10]
    assert [f for f, _ in results["shap"]] == [f for f, _ in expected]
    for (_, shown), (_, value) in zip(results["shap"], expected, strict=True):
        assert shown == pytest.approx(value, abs=1e-9)


def test_the_notebook_speaks_the_readers_language(small_run, workspace):
    english = run_notebook(workspace, small_run.run_id)
    chinese = run_notebook(workspace, small_run.run_id, language="zh")
    assert english.cells[0].source.startswith("# Reproduce run")
    assert chinese.cells[0].source.startswith("# 重现运行")
    code = [c.source for c in english.cells if c.cell_type == "code"]
    assert code == [c.source for c in chinese.cells if c.cell_type == "code"]
    assert "dataset:" + small_run.dataset_id in code[0]


def test_the_cli_writes_the_notebook(small_run, workspace, tmp_path, capsys):
    out = tmp_path / "run.ipynb"
    assert main(["notebook", "--run", small_run.run_id, "--out", str(out)]) == 0
    written = nbformat.read(out, as_version=4)
    nbformat.validate(written)
    expected = run_notebook(workspace, small_run.run_id)
    assert [c.source for c in written.cells] == [c.source for c in expected.cells]
    assert main(["notebook", "--run", "nope", "--out", str(out)]) == 2
    assert "There is no run 'nope'" in capsys.readouterr().err


def test_a_derived_run_points_to_its_parent(small_run, workspace):
    client = workspace.client
    derived = client.create_run(
        workspace.experiment_id, tags={"lepton.parent_run": small_run.run_id}
    ).info.run_id
    client.set_terminated(derived, "FAILED")  # kept out of the lists of finished runs
    with pytest.raises(WorkspaceError, match=f"download the notebook of run {small_run.run_id}"):
        run_notebook(workspace, derived)


def test_a_federated_runs_notebook_trains_it_federated_again(adult_small, workspace, tmp_path):
    from jupyter_client import KernelManager
    from nbclient import NotebookClient

    from lepton_core.runs import FederatedConfig, run_federated

    path = tmp_path / "adult_fed.csv"
    adult_small.head(300).to_csv(path, index=False)
    config = FederatedConfig(
        data=str(path), target="Y", clients=2, rounds=2, min_client_rows=10,
        register=True, model_name="fed-notebook", explain_rows=10,
    )  # fmt: skip
    result = run_federated(config, workspace=workspace)
    notebook = run_notebook(workspace, result.run_id)
    nbformat.validate(notebook)
    assert "trained federated" in notebook.cells[0].source
    manager = KernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "kernel"))
    NotebookClient(notebook, km=manager, timeout=240).execute()
    again = _results(notebook)["metrics"]
    for side in ("federated", "centralised"):
        expected = getattr(result, side)
        assert set(again[side]) == set(expected)
        for name, value in expected.items():
            assert again[side][name] == pytest.approx(value, abs=1e-9), (side, name)
