"""A team on one MLflow tracking server: two machines (two empty workspace folders) share
data sets, runs, reports and models, and a file changed on the server is refused."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from lepton_core import cli
from lepton_core.core import DataError, ModelError
from lepton_core.runs import (
    TrainConfig,
    TrainResult,
    export_mlflow_zip,
    load_bundle,
    load_explanation,
    load_run_reports,
    model_board,
    score_table,
    train,
)
from lepton_core.workspace import Workspace, confirm_dataset

START_S = 60  # the server imports MLflow and migrates its database: seconds on a busy machine
STOP_S = 15


@dataclass
class Server:
    uri: str
    root: Path  # its database and its artifact folder

    @property
    def database(self) -> Path:
        return self.root / "mlflow.db"

    def disk_path(self, artifact_uri: str) -> Path:
        """Where the server keeps the files of an ``mlflow-artifacts:`` location."""
        assert artifact_uri.startswith("mlflow-artifacts:/"), artifact_uri
        return self.root / "artifacts" / artifact_uri.removeprefix("mlflow-artifacts:/")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(uri: str) -> bool:
    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """A real ``mlflow server`` on loopback that serves artifacts from a temp folder."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--serve-artifacts",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # Server-side jobs (GenAI evaluation) start a queue of worker processes Lepton never uses.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = (root / "server.log").open("wb")
    # A session of its own: the server starts uvicorn as a child, and both are stopped.
    proc = subprocess.Popen(
        command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + START_S
        while not _answers(uri):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (root / "server.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"mlflow server did not start:\n{tail}")
            time.sleep(0.3)
        yield Server(uri, root)
    finally:
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the server's process group; kill it if it has not gone in STOP_S."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=STOP_S)
            break
        except subprocess.TimeoutExpired:
            continue


@dataclass
class Team:
    server: Server
    a: Workspace  # the machine that confirms the data set and trains
    b: Workspace  # a second machine with an empty folder
    dataset_id: str
    table: pd.DataFrame
    result: TrainResult
    root: Path


@pytest.fixture(scope="module")
def team(server: Server, tmp_path_factory: pytest.TempPathFactory, adult_small: pd.DataFrame):
    root = tmp_path_factory.mktemp("team")
    a = Workspace(root / "a", tracking_uri=server.uri)
    b = Workspace(root / "b", tracking_uri=server.uri)
    table = adult_small.head(600)
    info = confirm_dataset(a, table, name="adult-team", target="Y", sensitive=["sex", "race"])
    result = train(
        TrainConfig(
            data=f"dataset:{info.id}",
            model="lightgbm",
            params={"n_estimators": 20},
            explain_rows=50,
            model_name="team-adult",
        ),
        workspace=a,
    )
    return Team(server, a, b, info.id, table, result, root)


def test_a_data_set_confirmed_on_one_machine_is_found_on_another(team: Team):
    a, b = team.a, team.b
    assert a.shared and b.shared
    assert not any((b.root / "datasets").iterdir())  # nothing local on the second machine
    listed = {d.id: d for d in b.list_datasets()}
    assert (
        listed[team.dataset_id] == a.get_dataset(team.dataset_id) == b.get_dataset(team.dataset_id)
    )
    assert listed[team.dataset_id].n_rows == 600
    data, test = b.dataset_paths(team.dataset_id)
    assert data.is_relative_to(b.root) and test is None
    df, _ = b.load_dataset(team.dataset_id)
    pd.testing.assert_frame_equal(df, team.table.reset_index(drop=True))
    with pytest.raises(DataError, match="There is no data set 'ffffffffffff'"):
        b.get_dataset("ffffffffffff")


def test_another_machine_loads_the_model_by_reference_and_predicts(team, tmp_path, monkeypatch):
    a, b, result = team.a, team.b, team.result
    rows = team.table.drop(columns=["Y"]).head(20)
    theirs = b.load_model("team-adult", 1)
    assert list(theirs.predict(rows)) == list(a.load_model("team-adult", 1).predict(rows))
    scored = score_table(load_bundle(b, "team-adult", "latest"), rows)
    assert len(scored) == 20 and scored["prediction"].isin(["<=50K", ">50K"]).all()
    assert result.model_version == 1

    # The reported failure: `predict` on a second machine looked for reports in its folder.
    csv, out = tmp_path / "rows.csv", tmp_path / "scored.csv"
    rows.to_csv(csv, index=False)
    monkeypatch.setenv("LEPTON_TRACKING_URI", team.server.uri)
    command = ["predict", "--model", "team-adult:1", "--data", str(csv), "--out", str(out)]
    assert cli.main(["--workspace", str(team.root / "cli"), *command]) == 0
    assert len(pd.read_csv(out)) == 20


def test_reports_are_read_from_the_server(team: Team):
    b, result = team.b, team.result
    reports = load_run_reports(b, result.run_id, complete=True)
    assert reports.evaluation.metrics == result.evaluation.metrics
    assert [r.attribute for r in reports.fairness] == ["sex", "race"]
    assert reports.fairness == result.fairness
    explanation = load_explanation(b, result.run_id)
    assert len(explanation.values) == 50 and explanation.additivity_error() < 1e-6
    assert b.load_input_schema(result.run_id).fields
    assert b.find_report(result.run_id, "no-such-report") is None


def test_the_board_through_the_server_matches_its_database(team: Team):
    from lepton_core.runs import _dashboard

    b, result = team.b, team.result
    (row,) = [r for r in model_board(b) if r.ref == "team-adult:1"]
    assert row.run_id == result.run_id and row.dataset == "adult-team"
    assert row.accuracy == pytest.approx(result.evaluation.metrics["accuracy"])
    assert [g.attribute for g in row.gaps] == ["sex", "race"]
    folder = team.server.disk_path(b.model_location("team-adult", 1))
    assert row.size_bytes == sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())

    # A version recorded before the gaps were metrics: they come from its report.
    older = _version_with_gaps_in_report_only(b, "team-older", dpd=0.125)
    (row,) = [r for r in model_board(b) if r.run_id == older]
    assert row.gap("sex").demographic_parity_difference == 0.125

    # The same store read the fast way (its tables) and through the server (searches).
    direct = Workspace(team.root / "direct", tracking_uri=f"sqlite:///{team.server.database}")
    fast, slow = _dashboard._sql_snapshot(direct), _dashboard._api_snapshot(b)
    key = lambda v: (v.name, v.version)  # noqa: E731
    assert sorted(fast.versions, key=key) == sorted(slow.versions, key=key)
    assert fast.runs == slow.runs


def _version_with_gaps_in_report_only(ws: Workspace, name: str, *, dpd: float) -> str:
    """A version recorded the way older Lepton did: accuracy as a metric, gaps in the report."""
    client = ws.client
    client.create_registered_model(name)
    run_id = client.create_run(
        ws.experiment_id,
        tags={"lepton.dataset_name": name, "lepton.family": "logistic", "lepton.task": "binary"},
    ).info.run_id
    client.log_param(run_id, "sensitive", "sex")
    client.log_metric(run_id, "test_accuracy", 0.8)
    client.log_text(
        run_id,
        json.dumps([{"attribute": "sex", "demographic_parity_difference": dpd}]),
        "fairness.json",
    )
    logged = client.create_logged_model(ws.experiment_id, name="model", source_run_id=run_id)
    client.create_model_version(
        name,
        source=f"models:/{logged.model_id}",
        run_id=run_id,
        tags={"lepton.sha256": "0" * 64},
        model_id=logged.model_id,
    )
    client.set_terminated(run_id, "FINISHED")
    return run_id


def test_export_and_recovery_on_the_server(team: Team, tmp_path):
    from lepton_core.core import process_token

    b = team.b
    path = export_mlflow_zip(b, "team-adult", 1, tmp_path)
    with zipfile.ZipFile(path) as zf:
        assert "model/MLmodel" in zf.namelist()
    assert b.recover() == []

    # Runs whose process died: a training run and a data set's upload.
    dead = process_token().rsplit(":", 1)[0] + ":0"
    cut = []
    for experiment in (b.experiment_id, b._dataset_experiment_id):
        run = b.client.create_run(experiment, tags={"lepton.process": dead})
        b.client.log_text(run.info.run_id, "{}", "evaluation.json")
        cut.append(run)
    assert sorted(b.recover()) == sorted(r.info.run_id for r in cut)
    for run in cut:
        assert b.client.get_run(run.info.run_id).info.status == "FAILED"
        assert not team.server.disk_path(run.info.artifact_uri).exists()
    assert team.dataset_id in {d.id for d in b.list_datasets()}


@contextlib.contextmanager
def _tampered(path: Path, data: bytes) -> Iterator[None]:
    """Replace a file on the server for the length of a ``with`` block."""
    original = path.read_bytes()
    path.write_bytes(data)
    try:
        yield
    finally:
        path.write_bytes(original)


def test_a_model_changed_on_the_server_is_refused(team: Team, tmp_path):
    folder = team.server.disk_path(team.b.model_location("team-adult", 1))
    mlmodel = folder / "MLmodel"
    with _tampered(mlmodel, mlmodel.read_bytes() + b"# changed\n"):
        fresh = Workspace(team.root / "fresh", tracking_uri=team.server.uri)  # nothing cached
        with pytest.raises(ModelError, match="not the ones Lepton saved"):
            fresh.load_model("team-adult", 1)
        with pytest.raises(ModelError, match="not the ones Lepton saved"):
            fresh.checked_model_folder("team-adult", 1, tmp_path)


def test_a_data_set_changed_on_the_server_is_refused(team: Team, tmp_path):
    b = team.b
    run = b._dataset_run(team.dataset_id)
    digest = json.loads(run.data.tags["lepton.files"])["data.parquet"]
    path = team.server.disk_path(run.info.artifact_uri) / digest[:16] / "data.parquet"
    team.table.head(10).to_parquet(tmp_path / "other.parquet", index=False)
    with _tampered(path, (tmp_path / "other.parquet").read_bytes()):
        fresh = Workspace(team.root / "fresh-data", tracking_uri=team.server.uri)
        with pytest.raises(DataError, match="not the ones Lepton stored"):
            fresh.load_dataset(team.dataset_id)
        assert not (fresh.root / "datasets" / team.dataset_id / "data.parquet").exists()
