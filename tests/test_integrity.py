"""Model integrity and crash safety: atomic registration, recovery, whole-folder hashes,
a full disk, and a workspace only its owner can read."""

from __future__ import annotations

import errno
import stat
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from lepton_core.core import ModelError, WorkspaceError
from lepton_core.models import make_model
from lepton_core.runs import export_mlflow_zip
from lepton_core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]

# Logs a tiny logistic model into the workspace given as argv[1]; argv[2] names the
# MLflow call after which the process dies as with kill -9 (os._exit skips all cleanup).
_CRASH = textwrap.dedent(
    """
    import os, sys
    import mlflow
    import pandas as pd
    from lepton_core.models import make_model
    from lepton_core.workspace import Workspace

    ws = Workspace(sys.argv[1])
    if sys.argv[2] == "register_model":
        real = mlflow.register_model
        def register_and_die(*args, **kwargs):
            real(*args, **kwargs)
            os._exit(9)
        mlflow.register_model = register_and_die
    else:
        client = ws.client
        real = client.create_run
        def create_and_die(*args, **kwargs):
            real(*args, **kwargs)
            os._exit(9)
        client.create_run = create_and_die
    X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0] * 10, "c": list("abab") * 10})
    y = pd.Series([0, 0, 1, 1] * 10)
    model = make_model("logistic", "binary").fit(X, y)
    ws.log_run(run_name="crash", params={}, tags={}, metrics={"accuracy": 1.0}, history=[],
               reports={"evaluation": {"accuracy": 1.0}}, model=model, model_name="crashy",
               input_example=X.head(3))
    """
)


def _tiny_model():
    X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0] * 10, "c": list("abab") * 10})
    y = pd.Series([0, 0, 1, 1] * 10)
    return make_model("logistic", "binary").fit(X, y), X


def _log(ws: Workspace, name: str) -> tuple[str, int]:
    model, X = _tiny_model()
    return ws.log_run(
        run_name=name,
        params={},
        tags={},
        metrics={"accuracy": 1.0},
        history=[],
        reports={"evaluation": {"accuracy": 1.0}},
        model=model,
        model_name=name,
        input_example=X.head(3),
    )


def _crash(tmp_path: Path, after: str) -> Workspace:
    done = subprocess.run(
        [sys.executable, "-c", _CRASH, str(tmp_path / "ws"), after],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 9, done.stderr[-2000:]
    return Workspace(tmp_path / "ws")


def _run_status(ws: Workspace) -> list[str]:
    return [r.info.status for r in ws.client.search_runs([ws.experiment_id])]


def test_killed_after_registration_leaves_no_version_without_hash(tmp_path):
    ws = _crash(tmp_path, "register_model")
    # Whatever a reader lists can be loaded: the hash came with the version.
    for info in ws.model_versions():
        ws.load_model(info.name, info.version)
    assert _run_status(ws) == ["RUNNING"]
    # The process is gone: recovery fails the run and removes what it half-wrote.
    failed = ws.recover()
    assert len(failed) == 1
    assert _run_status(ws) == ["FAILED"]
    assert ws.model_versions() == []
    models = ws.client.search_logged_models(experiment_ids=[ws.experiment_id])
    assert models == []
    assert not list((ws.root / "artifacts").rglob("MLmodel"))


def test_killed_after_run_row_is_failed_by_recovery(tmp_path):
    ws = _crash(tmp_path, "create_run")
    assert _run_status(ws) == ["RUNNING"]
    assert ws.recover() and _run_status(ws) == ["FAILED"]
    assert ws.recover() == []  # nothing left to do


def test_recovery_leaves_a_live_run_alone(tmp_path):
    from lepton_core.core import process_token

    ws = Workspace(tmp_path / "ws")
    run = ws.client.create_run(ws.experiment_id, tags={"lepton.process": process_token()})
    assert ws.recover() == []
    assert ws.client.get_run(run.info.run_id).info.status == "RUNNING"


def test_versions_without_a_hash_are_not_listed(tmp_path):
    ws = Workspace(tmp_path / "ws")
    run_id, version = _log(ws, "hashed")
    ws.client.create_model_version("hashed", ws.model_location("hashed", version), run_id)
    assert [v.version for v in ws.model_versions("hashed")] == [version]


@pytest.mark.parametrize("target", ["_pyfunc.py", "MLmodel", "requirements.txt"])
def test_hash_covers_the_whole_model_folder(tmp_path, target):
    ws = Workspace(tmp_path / "ws")
    _, version = _log(ws, "whole")
    folder = Path(ws.model_location("whole", version).removeprefix("file://"))
    with (folder / target).open("a") as f:
        f.write("\nimport os  # added after saving\n")
    fresh = Workspace(tmp_path / "ws")  # no model cached from before the change
    with pytest.raises(ModelError, match="not the ones Lepton saved"):
        fresh.load_model("whole", version)
    with pytest.raises(ModelError, match="not the ones Lepton saved"):
        export_mlflow_zip(fresh, "whole", version, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_export_zips_exactly_the_checked_files(tmp_path):
    ws = Workspace(tmp_path / "ws")
    _, version = _log(ws, "zipped")
    out = export_mlflow_zip(ws, "zipped", version, tmp_path / "out")
    names = set(zipfile.ZipFile(out).namelist())
    assert {"model/MLmodel", "model/_pyfunc.py"} <= names
    assert any(n.startswith("model/artifacts/lepton_model/") for n in names)


@pytest.mark.parametrize("where", ["model", "after_log"])
def test_full_disk_says_so_and_removes_partial_files(tmp_path, monkeypatch, where):
    ws = Workspace(tmp_path / "ws")
    full = OSError(errno.ENOSPC, "No space left on device", str(ws.root / "artifacts"))
    if where == "model":  # reports written, model files not

        def fail(*args, **kwargs):
            raise full

        monkeypatch.setattr(type(_tiny_model()[0]), "save", fail)
    else:  # the model logged, its hash not computed

        def fail(*args, **kwargs):
            raise RuntimeError("wrapped by a library") from full

        monkeypatch.setattr(Workspace, "_download", fail)
    with pytest.raises(WorkspaceError, match=r"disk holding .*artifacts is full; free some"):
        _log(ws, "full")
    assert _run_status(ws) == ["FAILED"]
    assert ws.model_versions() == []
    assert not [p for p in (ws.root / "artifacts").rglob("*") if p.is_file()]


def test_workspace_is_readable_by_its_owner_only(tmp_path):
    ws = Workspace(tmp_path / "new" / "ws")
    assert ws.client is not None  # creates mlflow.db
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(ws.root) == 0o700
    for sub in ("datasets", "artifacts", "jobs"):
        assert mode(ws.root / sub) == 0o700
    assert mode(ws.root / "mlflow.db") == 0o600


def test_cli_says_the_disk_is_full(monkeypatch, capsys):
    from lepton_core import cli

    def full(args):
        raise RuntimeError("a library's own error") from OSError(
            errno.ENOSPC, "No space left on device", "/data/ws"
        )

    monkeypatch.setitem(cli._COMMANDS, "profile", full)
    assert cli.main(["profile", "--data", "table.csv"]) == 1
    assert "The disk holding /data/ws is full; free some space" in capsys.readouterr().err


def test_model_files_stay_in_the_workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's default experiment would write to ./mlruns
    ws = Workspace(tmp_path / "ws")
    _, version = _log(ws, "inside")
    assert ws.model_location("inside", version).startswith((ws.root / "artifacts").as_uri())
    assert not (tmp_path / "mlruns").exists()
