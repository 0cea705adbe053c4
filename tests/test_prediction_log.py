"""The prediction log: capture at the API, the demo page and batch scoring; feedback;
personal data; retention; traffic; a killed server. On SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from lepton_core.core import WorkspaceError
from lepton_core.data import hash_value, load_salt
from lepton_core.monitoring import data_drift, fairness_trend, performance_trend
from lepton_core.serving import create_app
from lepton_core.workspace import (
    LOG_COLUMNS,
    ApiKeyStore,
    PredictionLog,
    open_database,
    prediction_log,
    predictions_table,
    private_columns,
)

ROOT = Path(__file__).resolve().parents[1]
PHONES = [f"+44 20 7946 {i:04d}" for i in range(30)]


@pytest.fixture(params=["sqlite", "postgresql"])
def log(request, tmp_path, monkeypatch, workspace) -> PredictionLog:
    """The workspace's prediction log on a new SQLite file or a new PostgreSQL database."""
    url = (
        request.getfixturevalue("postgres_url")
        if request.param == "postgresql"
        else f"sqlite:///{tmp_path / 'lepton.db'}"
    )
    monkeypatch.setenv("LEPTON_DATABASE_URL", url)
    monkeypatch.delenv("LEPTON_PREDICTION_LOG", raising=False)
    shared = prediction_log(workspace)
    yield shared
    shared.close()


@pytest.fixture(scope="module")
def people_run(workspace, tmp_path_factory):
    """A small model whose inputs include a phone number (personal data the scan flags)."""
    from lepton_core.runs import TrainConfig, train

    rng = np.random.default_rng(0)
    n = 400
    table = pd.DataFrame(
        {
            "phone": [PHONES[i % 30] for i in range(n)],
            "age": rng.integers(18, 80, n),
            "hours": rng.integers(10, 60, n),
            "sex": rng.choice(["Female", "Male"], n),
        }
    )
    table["Y"] = np.where(table.hours + rng.normal(0, 8, n) > 40, "high", "low")
    path = tmp_path_factory.mktemp("people") / "people.csv"
    table.to_csv(path, index=False)
    config = TrainConfig(
        data=str(path), target="Y", sensitive=["sex"], model="logistic", explain_rows=50
    )
    return train(config, workspace=workspace)


def _client(workspace, role: str = "full") -> tuple[TestClient, str]:
    key, token = ApiKeyStore(workspace).create("log tests", role=role)
    client = TestClient(create_app(workspace), headers={"Authorization": f"Bearer {token}"})
    return client, key.id


def _url(run, what: str) -> str:
    return f"/models/{run.model_name}/versions/{run.model_version}/{what}"


def _inputs(workspace, run) -> list[str]:
    return workspace.load_input_schema(run.run_id).names


def _records(table: pd.DataFrame) -> list[dict]:
    """Rows as JSON records (a missing value as null)."""
    return table.astype(object).where(table.notna(), None).to_dict("records")


# ------------------------------------------------------------------ capture
def test_predict_batch_and_v2_are_logged_with_the_ids_they_return(
    log, workspace, adult_run, adult_test
):
    client, key_id = _client(workspace)
    names = _inputs(workspace, adult_run)
    records = _records(adult_test[names].head(3))
    response = client.post(_url(adult_run, "predict"), json={"records": records})
    assert response.status_code == 200, response.text
    predicted = response.json()["predictions"]
    api_ids = [p["prediction_id"] for p in predicted]

    upload = adult_test.head(4).to_csv(index=False).encode()
    response = client.post(_url(adult_run, "batch"), files={"file": ("t.csv", upload, "text/csv")})
    assert response.status_code == 200, response.text
    scored = pd.read_csv(io.StringIO(response.text))
    batch_ids = scored["prediction_id"].tolist()

    inputs = [
        {"name": n, "shape": [2], "datatype": "BYTES", "data": [r[n] for r in records[:2]]}
        for n in names
    ]
    response = client.post(f"/v2/models/{adult_run.model_name}/infer", json={"inputs": inputs})
    assert response.status_code == 200, response.text
    v2_ids = response.json()["parameters"]["prediction_ids"]

    every = api_ids + batch_ids + v2_ids
    assert len(set(every)) == 9 and all(len(i) == 32 for i in every)
    assert log.flush()
    frame = log.read_predictions(adult_run.model_name, adult_run.model_version)
    assert list(frame.columns[: len(LOG_COLUMNS)]) == list(LOG_COLUMNS)
    assert set(names) <= set(frame.columns)
    assert sorted(frame["id"]) == sorted(every)
    rows = frame.set_index("id")
    assert rows.loc[api_ids, "source"].eq("api").all()
    assert rows.loc[batch_ids, "source"].eq("batch").all()
    assert rows.loc[v2_ids, "source"].eq("v2").all()
    assert rows["caller"].eq(key_id).all() and rows["latency_ms"].gt(0).all()
    for pid, p in zip(api_ids, predicted, strict=True):
        assert rows.loc[pid, "prediction"] == str(p["label"])
        assert rows.loc[pid, "confidence"] == pytest.approx(p["probabilities"][str(p["label"])])
        assert rows.loc[pid, "age"] == records[api_ids.index(pid)]["age"]
    assert rows.loc[batch_ids, "confidence"].tolist() == pytest.approx(scored["probability"])
    assert frame["time"].dt.tz is not None and frame["label"].isna().all()


def test_a_refused_record_is_logged_as_an_error_without_its_values(log, workspace, adult_run):
    client, key_id = _client(workspace)
    record = workspace.load_input_schema(adult_run.run_id).defaults()
    bad = dict(record, age="very old")
    response = client.post(_url(adult_run, "predict"), json={"records": [bad]})
    assert response.status_code == 422
    assert log.flush()
    assert log.read_predictions(adult_run.model_name).empty  # ok rows only, by default
    (error,) = log.read_predictions(adult_run.model_name, status="error").itertuples()
    assert error.caller == key_id and pd.isna(error.prediction)
    with open_database(workspace.root).begin() as conn:
        stored = conn.execute(sa.select(predictions_table.c.record)).scalars().all()
    assert stored == [None]
    # A model that does not exist is a 404 that logs nothing (its name came from a stranger).
    client.post("/models/nope/versions/1/predict", json={"records": [record]})
    assert log.flush() and len(log.read_predictions("nope", status=None)) == 0


def test_logging_off_returns_no_ids_and_logs_nothing(log, workspace, adult_run, monkeypatch):
    monkeypatch.setenv("LEPTON_PREDICTION_LOG", "off")
    client, _ = _client(workspace)
    record = workspace.load_input_schema(adult_run.run_id).defaults()
    response = client.post(_url(adult_run, "predict"), json={"records": [record]})
    assert response.json()["predictions"][0]["prediction_id"] is None
    assert log.flush() and log.read_predictions(adult_run.model_name).empty


# ------------------------------------------------------------------ feedback and monitoring
def test_feedback_is_joined_exactly_and_the_monitor_reads_the_log(
    log, workspace, adult_run, adult_test
):
    name, version = adult_run.model_name, adult_run.model_version
    names = _inputs(workspace, adult_run)
    rows = adult_test.sample(120, random_state=1).reset_index(drop=True)
    full, _ = _client(workspace)
    response = full.post(_url(adult_run, "predict"), json={"records": _records(rows[names])})
    ids = [p["prediction_id"] for p in response.json()["predictions"]]

    # A predict-only key may send labels for a published version; by id, in one list.
    workspace.set_published(name, version, True)
    client, _ = _client(workspace, role="predict")
    truth = dict(zip(ids[:100], rows["Y"][:100], strict=True))
    body = [{"prediction_id": i, "label": y} for i, y in truth.items()]
    body.append({"prediction_id": "0" * 32, "label": ">50K"})
    response = client.post(f"/models/{name}/feedback", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "model": name, "labelled": 100, "unknown": 1, "unknown_examples": ["0" * 32],
    }  # fmt: skip
    one = client.post(f"/models/{name}/feedback", json={"prediction_id": "f" * 32, "label": "x"})
    assert one.status_code == 404 and "prediction_id" in one.json()["detail"]
    both = client.post(
        f"/models/{name}/feedback", json={"prediction_id": ids[0], "key": {"age": 3}, "label": 1}
    )
    assert both.status_code == 422 and "Label 0" in both.json()["detail"]
    # A label the model never gives (a typo) is refused with the answers it does give, and
    # the good label sent beside it is not stored either (checked below).
    typo = [
        {"prediction_id": ids[100], "label": ">50K"},
        {"prediction_id": ids[101], "label": "yes"},
    ]
    wrong = client.post(f"/models/{name}/feedback", json=typo)
    assert wrong.status_code == 422, wrong.text
    assert "'yes'" in wrong.json()["detail"] and "<=50K, >50K" in wrong.json()["detail"]

    frame = log.read_predictions(name, version)
    got = frame.set_index("id")["label"]
    assert got[list(truth)].tolist() == list(truth.values())
    assert got[ids[100:]].isna().all()
    labelled = frame[frame["label"].notna()]
    expected = float((labelled["prediction"] == labelled["label"]).mean())

    # The monitoring functions take the log as it comes.
    trend = performance_trend(frame, task="binary", every="1D")
    (window,) = trend.windows
    assert window.rows == 120 and window.labelled == 100
    assert window.figures["accuracy"] == pytest.approx(expected)
    fair = fairness_trend(frame, sensitive="sex", positive_label=">50K", every="1D", min_rows=5)
    assert fair.windows[0].labelled == 100 and fair.windows[0].selection_rate
    drift = data_drift(adult_test[names], frame)
    assert {f.column for f in drift.features} == set(names)


# ------------------------------------------------------------------ personal data
def test_personal_columns_are_hashed_never_stored_in_clear(log, workspace, people_run, tmp_path):
    name, version = people_run.model_name, people_run.model_version
    assert private_columns(workspace, name, version) == {"phone": "hash"}
    client, _ = _client(workspace)
    record = dict(workspace.load_input_schema(people_run.run_id).defaults(), phone=PHONES[7])
    response = client.post(_url(people_run, "predict"), json={"records": [record]})
    assert response.status_code == 200, response.text
    table = pd.DataFrame([dict(record, phone=PHONES[8])])
    upload = table.to_csv(index=False).encode()
    assert client.post(_url(people_run, "batch"), files={"file": ("p.csv", upload)}).is_success
    # A field the model does not read is not kept at all.
    log.record(name, version, [dict(record, secret="kept out")], ["high"], [0.6], source="api",
               latency_ms=1.0)  # fmt: skip
    assert log.flush()

    salt = load_salt(workspace.root)
    frame = log.read_predictions(name, version)
    assert sorted(frame["phone"]) == sorted(
        [hash_value(PHONES[7], salt)] * 2 + [hash_value(PHONES[8], salt)]
    )
    assert "secret" not in frame.columns
    with open_database(workspace.root).begin() as conn:
        stored = conn.execute(sa.select(predictions_table.c.record)).scalars().all()
    text = json.dumps(stored)
    assert "7946" not in text and "kept out" not in text
    db = open_database(workspace.root)
    if db.path is not None:  # nothing in clear in the file or its write-ahead log either
        for path in db.path.parent.glob(db.path.name + "*"):
            assert b"7946" not in path.read_bytes()

    # Labels by a record key: the phone sent in clear is matched on its hash.
    result = log.add_labels(name, {PHONES[7]: "high", PHONES[9]: "low"}, key_column="phone")
    assert (result.labelled, result.unknown) == (2, 1)


# ------------------------------------------------------------------ retention and traffic
def test_retention_deletes_old_rows(log, adult_run, monkeypatch):
    name, version = adult_run.model_name, adult_run.model_version
    ids = log.record(name, version, [{}] * 3, ["<=50K"] * 3, [0.9] * 3, source="api",
                     latency_ms=1.0)  # fmt: skip
    log.close()  # its writer deletes old rows too: it must not race the counts below
    now = datetime.now(UTC)
    t = predictions_table
    with log._db().begin() as conn:
        for pid, age in zip(ids, (100, 10, 0), strict=True):
            conn.execute(sa.update(t).where(t.c.id == pid).values(at=now - timedelta(days=age)))
    assert log.retention_days == 90
    assert log.delete_expired() == 1
    monkeypatch.setenv("LEPTON_PREDICTION_RETENTION_DAYS", "5")
    assert log.delete_expired() == 1
    assert log.read_predictions(name)["id"].tolist() == [ids[2]]
    monkeypatch.setenv("LEPTON_PREDICTION_RETENTION_DAYS", "a week")
    with pytest.raises(WorkspaceError, match="LEPTON_PREDICTION_RETENTION_DAYS"):
        log.delete_expired()


def test_traffic_by_window_counts_errors_and_latency_percentiles(log, adult_run):
    name, version = adult_run.model_name, adult_run.model_version
    rng = np.random.default_rng(0)
    latencies = rng.gamma(2.0, 3.0, 300)
    ids = [
        log.record(name, version, [{}], ["<=50K"], [0.8], source="api", latency_ms=ms)[0]
        for ms in latencies
    ]
    errors = [log.record_error(name, version, source="api", latency_ms=50.0) for _ in range(10)]
    assert log.flush()
    start = datetime(2030, 1, 1, tzinfo=UTC)
    t = predictions_table
    hour = {pid: i % 2 for i, pid in enumerate(ids + errors)}
    with log._db().begin() as conn:
        conn.execute(
            sa.update(t).where(t.c.id == sa.bindparam("pid")).values(at=sa.bindparam("when")),
            [{"pid": p, "when": start + timedelta(hours=h, minutes=5)} for p, h in hour.items()],
        )
    traffic = log.traffic_by_window(name, version, window="1h", since=start)
    assert traffic["start"].tolist() == [
        pd.Timestamp(start),
        pd.Timestamp(start + timedelta(hours=1)),
    ]
    assert traffic["requests"].tolist() == [155, 155] and traffic["errors"].tolist() == [5, 5]
    for h, row in traffic.iterrows():
        ms = np.append(latencies[h::2], [50.0] * 5)
        assert row["p50_ms"] == pytest.approx(np.percentile(ms, 50))
        assert row["p99_ms"] == pytest.approx(np.percentile(ms, 99))
    assert len(log.read_predictions(name, sample=50)) == pytest.approx(50, abs=15)
    assert len(log.read_predictions(name, limit=7)) == 7


def test_records_read_back_as_logged_even_when_a_field_changes_type(log, adult_run):
    """Records are decoded in bulk; a field that is a number in one row and text in
    another (which the fast reader refuses) still comes back value for value."""
    name, version = adult_run.model_name, adult_run.model_version
    records = [{"age": 39, "sex": "Male"}, {"age": "unknown", "sex": "女"}, {"age": None}]
    log.record(name, version, records, ["<=50K"] * 3, [0.8] * 3, source="api", latency_ms=1.0)
    log.record_error(name, version, source="api", latency_ms=2.0)
    assert log.flush()
    table = log.read_predictions(name, version, status=None)
    assert table["age"].tolist()[:3] == [39, "unknown", None]
    assert table["sex"].tolist()[:2] == ["Male", "女"] and pd.isna(table["sex"].iloc[2])
    assert table["status"].tolist() == ["ok", "ok", "ok", "error"]
    plain = log.read_predictions(name, version, status="ok").drop(columns="age")
    assert plain["sex"].tolist()[:2] == ["Male", "女"]


# ------------------------------------------------------------------ a database that is away
def test_a_full_queue_drops_and_counts_rather_than_wait(workspace, adult_run, monkeypatch, caplog):
    monkeypatch.setenv("LEPTON_DATABASE_URL", "postgresql+psycopg://lepton@127.0.0.1:9/gone")
    log = PredictionLog(workspace, max_backlog=50, interval_s=0.05)
    slowest = 0.0
    for _ in range(200):
        started = time.perf_counter()
        log.record(adult_run.model_name, 1, [{}], ["x"], [0.5], source="api", latency_ms=1.0)
        slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 0.05 and log.dropped >= 150
    started = time.perf_counter()
    log.close(timeout=5)
    assert time.perf_counter() - started < 6
    assert "dropped" in caplog.text


# ------------------------------------------------------------------ a killed server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("stop_with", [signal.SIGKILL, signal.SIGTERM], ids=["kill", "term"])
def test_a_stopped_server_leaves_only_whole_rows(
    workspace, adult_run, tmp_path, monkeypatch, stop_with
):
    """Killed mid-load, the log holds whole rows only; stopped (SIGTERM), every answer."""
    import httpx

    url = f"sqlite:///{tmp_path / 'lepton.db'}"
    monkeypatch.setenv("LEPTON_DATABASE_URL", url)
    _, token = ApiKeyStore(workspace).create("killed")
    port = _free_port()
    env = {**os.environ, "LEPTON_WORKSPACE": str(workspace.root), "LEPTON_DATABASE_URL": url}
    server = subprocess.Popen(
        [sys.executable, "-m", "lepton_core", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    names = _inputs(workspace, adult_run)
    record = workspace.load_input_schema(adult_run.run_id).defaults()
    answered: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
            while not stop.is_set():
                try:
                    r = http.post(
                        f"http://127.0.0.1:{port}{_url(adult_run, 'predict')}",
                        json={"records": [record] * 5},
                    )
                except httpx.HTTPError:
                    continue
                if r.status_code == 200:
                    answered.extend(p["prediction_id"] for p in r.json()["predictions"])

    try:
        deadline = time.time() + 120
        while time.time() < deadline and server.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        while len(answered) < 1000 and time.time() < deadline:
            time.sleep(0.05)
        server.send_signal(stop_with)  # mid-load
        server.wait(30)
    finally:
        stop.set()
        server.kill()
    for thread in threads:
        thread.join(30)
    assert len(answered) >= 1000

    with closing(sqlite3.connect(tmp_path / "lepton.db")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    frame = PredictionLog(workspace).read_predictions(adult_run.model_name, status=None)
    assert 0 < len(frame) <= len(answered) + 20  # at most a few in flight beyond the answers
    assert frame["status"].eq("ok").all() and frame["prediction"].notna().all()
    assert frame[names].notna().all().all() and frame["id"].str.fullmatch("[0-9a-f]{32}").all()
    assert len(set(frame["id"]) - set(answered)) <= 20  # answers the kill cut off
    if stop_with == signal.SIGTERM:
        assert set(answered) <= set(frame["id"])


# ------------------------------------------------------------------ CLI and demo page
def test_cli_predict_logs_and_feedback_reads_a_labels_file(
    log, workspace, adult_run, adult_test, tmp_path, capsys
):
    from lepton_core.cli import main

    ref = f"{adult_run.model_name}:{adult_run.model_version}"
    data, out = tmp_path / "in.csv", tmp_path / "out.csv"
    adult_test.head(30).to_csv(data, index=False)
    assert main(["predict", "--model", ref, "--data", str(data), "--out", str(out)]) == 0
    scored = pd.read_csv(out)
    labels = tmp_path / "labels.csv"
    scored.assign(truth=adult_test["Y"].head(30))[["prediction_id", "truth"]].to_csv(labels)
    capsys.readouterr()
    argv = ["feedback", "--model", adult_run.model_name, "--file", str(labels)]
    assert main([*argv, "--label-column", "truth"]) == 0
    assert capsys.readouterr().out.startswith("30 predictions of")
    frame = log.read_predictions(adult_run.model_name).set_index("id")
    assert frame.loc[scored["prediction_id"], "label"].tolist() == adult_test["Y"].head(30).tolist()
    assert frame["source"].eq("batch").all()
    assert main([*argv, "--label-column", "Y"]) == 2
    assert "no column 'Y'" in capsys.readouterr().err


def test_the_demo_page_logs_with_its_share_link(log, workspace, adult_run):
    from streamlit.testing.v1 import AppTest

    from lepton_core.workspace import ShareLinks

    workspace.set_published(adult_run.model_name, adult_run.model_version, True)
    link = ShareLinks(workspace).create(
        adult_run.model_name, adult_run.model_version, expires_in=3600
    )
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page("app_pages/demo.py")
    at.query_params = {"token": link.token}
    at.run()
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert log.flush()
    (row,) = log.read_predictions(adult_run.model_name).itertuples()
    assert row.source == "demo" and row.caller == link.id and row.latency_ms > 0


def test_a_file_scored_on_the_deploy_page_is_logged_as_batch(log, workspace, adult_run, adult_test):
    from streamlit.testing.v1 import AppTest

    rows = adult_test.head(7).drop(columns=["Y"])
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page("app_pages/deploy.py")
    at.run()
    at.selectbox[0].set_value(f"{adult_run.model_name}:{adult_run.model_version}").run()
    uploader = next(u for u in at.get("file_uploader") if u.label == "Table to score")
    uploader.upload("rows.csv", rows.to_csv(index=False).encode(), "text/csv")
    at.run()
    next(b for b in at.button if b.label == "Score the file").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert log.flush()
    logged = log.read_predictions(adult_run.model_name)
    assert logged["source"].tolist() == ["batch"] * 7 and (logged["caller"] == "").all()


def test_a_burst_does_not_starve_the_days_around_it(log, workspace, adult_run, adult_test):
    """The live report's sample is shared out between windows: after a day of 3,000
    predictions, the three quiet days of 100 each are read whole, not 1 in 6 of them."""
    from lepton_core.monitoring import live_from_log
    from lepton_core.runs import load_bundle

    name, version = adult_run.model_name, adult_run.model_version
    bundle = load_bundle(workspace, name, version)
    fields = bundle.input_schema.names
    start = datetime(2031, 3, 1, 12, tzinfo=UTC)
    for day, rows in enumerate((3000, 100, 100, 100)):
        batch = adult_test.sample(rows, replace=True, random_state=day)[fields]
        labels, proba = bundle.model.predict_scored(bundle.input_schema.prepare(batch))
        log.record(
            name, version, batch.to_dict("records"), [str(v) for v in labels],
            proba.max(axis=1).tolist(), source="batch", latency_ms=1.0, wait=True,
            at=start + timedelta(days=day),
        )  # fmt: skip
    assert log.flush()
    report = live_from_log(workspace, f"{name}:{version}", since=start, max_rows=600)
    sex = next(t for t in report.fairness if t.attribute == "sex")
    assert [w.rows for w in sex.windows] == [300, 100, 100, 100]
    assert report.rows == 600 and report.sampled
    assert [w.requests for w in report.traffic] == [3000, 100, 100, 100]
