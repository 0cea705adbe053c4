"""The REST API in process: auth, schema errors, predictions, OIP v2, traversal, schemathesis."""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import sys
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from lepton_core.core import ModelError
from lepton_core.data import MAX_RECORDS
from lepton_core.serving import create_app
from lepton_core.workspace import ApiKeyStore


@pytest.fixture(scope="module")
def api(adult_run, workspace):
    """A client with a valid key, the model's name and version, and the key store."""
    store = ApiKeyStore(workspace)
    _, token = store.create("tests")
    client = TestClient(create_app(workspace), headers={"Authorization": f"Bearer {token}"})
    return client, adult_run, store


@pytest.fixture(scope="module")
def record(adult_run, workspace):
    return workspace.load_input_schema(adult_run.run_id).defaults()


def _url(run, what: str = "") -> str:
    return f"/models/{run.model_name}/versions/{run.model_version}{what}"


def test_health_needs_no_key_and_everything_else_does(api, workspace, record):
    _, run, store = api
    anonymous = TestClient(create_app(workspace))
    assert anonymous.get("/health").json() == {"status": "ok"}
    assert anonymous.get("/ready").json() == {"status": "ready"}
    assert anonymous.get("/v2/health/live").status_code == 200
    for method, path in [
        ("GET", "/models"),
        ("GET", _url(run)),
        ("POST", _url(run, "/predict")),
        ("POST", f"/v2/models/{run.model_name}/infer"),
    ]:
        response = anonymous.request(method, path, json={"records": [record]})
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
    wrong = anonymous.get("/models", headers={"Authorization": "Bearer lk_not-a-key"})
    assert wrong.status_code == 401
    key, token = store.create("short-lived")
    headers = {"Authorization": f"Bearer {token}"}
    assert anonymous.get("/models", headers=headers).status_code == 200
    store.revoke(key.id)
    assert anonymous.get("/models", headers=headers).status_code == 401
    assert not next(k for k in store.list() if k.id == key.id).active


def test_keys_are_stored_hashed(api, workspace):
    _, token = ApiKeyStore(workspace).create("hashed")
    db = (workspace.root / "lepton.db").read_bytes()
    assert token.encode() not in db
    assert token[3:20].encode() not in db


def test_metadata_lists_schema_classes_metrics_and_fairness(api):
    client, run, _ = api
    assert any(m["name"] == run.model_name for m in client.get("/models").json())
    meta = client.get(_url(run)).json()
    assert meta["classes"] == ["<=50K", ">50K"]
    assert "age" in [f["name"] for f in meta["inputs"]]
    assert meta["metrics"]["accuracy"] == pytest.approx(run.evaluation.metrics["accuracy"])
    assert {f["attribute"] for f in meta["fairness"]} == {"sex", "race", "age"}
    assert client.get(f"/models/{run.model_name}/versions/latest").json()["version"] >= 1


def test_predict_matches_the_model(api, workspace, record):
    client, run, _ = api
    other = dict(record, age=60, **{"hours-per-week": 60})
    response = client.post(_url(run, "/predict"), json={"records": [record, other]})
    assert response.status_code == 200, response.text
    body = response.json()
    model = workspace.load_model(run.model_name, run.model_version)
    schema = workspace.load_input_schema(run.run_id)
    proba = model.predict_proba(schema.to_frame([record, other]))
    got = np.array(
        [[p["probabilities"][c] for c in ("<=50K", ">50K")] for p in body["predictions"]]
    )
    np.testing.assert_allclose(got, proba)
    assert [p["label"] for p in body["predictions"]] == list(
        model.predict(schema.to_frame([record, other]))
    )


def test_onnx_runtime_serves_the_same_predictions(api, workspace, record):
    client, run, _ = api
    onnx_client = TestClient(create_app(workspace, require_key=False, runtime="onnx"))
    rows = [record, dict(record, age=60, sex="Female"), dict(record, workclass="never-seen")]
    native = client.post(_url(run, "/predict"), json={"records": rows}).json()["predictions"]
    response = onnx_client.post(_url(run, "/predict"), json={"records": rows})
    assert response.status_code == 200, response.text
    served = response.json()["predictions"]
    assert [p["label"] for p in served] == [p["label"] for p in native]
    for ours, theirs in zip(served, native, strict=True):
        assert ours["probabilities"] == pytest.approx(theirs["probabilities"], abs=1e-5)
    assert onnx_client.get(_url(run)).json()["runtime"] == "onnx"
    # The same input checks stand in front of the graph.
    bad = onnx_client.post(_url(run, "/predict"), json={"records": [dict(record, age="x")]})
    assert bad.status_code == 422 and "'age'" in bad.json()["detail"]


def test_explain_contributions_add_up(api, record):
    client, run, _ = api
    body = client.post(_url(run, "/explain"), json={"records": [record]}).json()
    p = body["predictions"][0]
    assert body["output_space"] == "log-odds"
    assert set(p["contributions"]) >= {"age", "sex"}
    # Binary LightGBM explains the positive class in log-odds: base + sum = logit(p).
    logit = np.log(p["probabilities"][">50K"] / p["probabilities"]["<=50K"])
    assert p["base_value"] + sum(p["contributions"].values()) == pytest.approx(logit, abs=1e-4)


@pytest.mark.parametrize(
    ("change", "status", "names"),
    [
        (lambda r: r.pop("age"), 422, "'age'"),
        (lambda r: r.update(salary=1), 422, "'salary'"),
        (lambda r: r.update(age="old"), 422, "'age'"),
        (lambda r: r.update(age=True), 422, "'age'"),
        (lambda r: r.update(age={"nested": 1}), 422, "records.0.age"),
        (lambda r: r.update(age=float("inf")), 422, "'age'"),
        (lambda r: r.update(age=10**30), 422, "'age'"),
    ],
)
def test_bad_records_get_4xx_naming_the_field(api, record, change, status, names):
    client, run, _ = api
    bad = dict(record)
    change(bad)
    # json.dumps writes Infinity, which JSON parsers (and FastAPI's) accept.
    body = json.dumps({"records": [bad]})
    headers = {"Content-Type": "application/json"}
    response = client.post(_url(run, "/predict"), content=body, headers=headers)
    assert response.status_code == status, response.text
    assert names in response.json()["detail"]


def test_limits_on_records_and_body_size(api, workspace, record):
    client, run, _ = api
    for body in ({"records": []}, {"records": [record] * (MAX_RECORDS + 1)}, {"rows": [record]}):
        response = client.post(_url(run, "/predict"), json=body)
        assert response.status_code == 422
        assert "'records'" in response.json()["detail"]
    response = client.post(_url(run, "/explain"), json={"records": [record] * 101})
    assert response.status_code == 422 and "limit of 100" in response.json()["detail"]
    infinite = json.dumps({"records": [dict(record, age=float("inf"))]})
    response = client.post(
        _url(run, "/explain"), content=infinite, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422 and "'age'" in response.json()["detail"]
    small = TestClient(create_app(workspace, require_key=False, max_body_bytes=2_000))
    response = small.post(_url(run, "/predict"), json={"records": [record] * 20})
    assert response.status_code == 413
    # A body without Content-Length (chunked) is counted as it streams in.
    chunks = iter([b'{"records": [', b" " * 3_000, b"]}"])
    assert small.post(_url(run, "/predict"), content=chunks).status_code == 413
    assert client.post(_url(run, "/predict"), content=b"{not json").status_code == 422


def test_unknown_models_and_versions_are_404(api, record):
    client, run, _ = api
    for path in ["/models/nope/versions/1", _url(run).replace(f"/{run.model_version}", "/999")]:
        assert client.get(path).status_code == 404
    assert client.get(f"/models/{run.model_name}/versions/one").status_code == 404
    assert client.get(f"/models/{run.model_name}/versions/\u00b2").status_code == 404


def test_open_inference_protocol_v2(api, record):
    client, run, _ = api
    meta = client.get(f"/v2/models/{run.model_name}").json()
    assert {"name": "age", "datatype": "FP64", "shape": [-1]} in meta["inputs"]
    assert client.get(f"/v2/models/{run.model_name}/ready").json()["ready"] is True
    rows = [record, dict(record, age=60)]
    inputs = [
        {
            "name": name,
            "shape": [2, 1],
            "datatype": next(i["datatype"] for i in meta["inputs"] if i["name"] == name),
            "data": [[r[name]] for r in rows],
        }
        for name in record
    ]
    url = f"/v2/models/{run.model_name}/versions/{run.model_version}/infer"
    response = client.post(url, json={"id": "r1", "inputs": inputs})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "r1" and body["model_version"] == str(run.model_version)
    label, proba = body["outputs"]
    expected = client.post(_url(run, "/predict"), json={"records": rows}).json()["predictions"]
    assert label["data"] == [p["label"] for p in expected]
    assert proba["shape"] == [2, 2]
    assert proba["data"][:2] == pytest.approx(list(expected[0]["probabilities"].values()))
    bad = [dict(inputs[0], shape=[3]), *inputs[1:]]
    response = client.post(url, json={"inputs": bad})
    assert response.status_code == 422
    assert inputs[0]["name"] in response.json()["error"]
    response = client.post(url, json={"inputs": inputs[1:]})
    assert response.status_code == 422 and "'age'" in response.json()["error"]


def test_batch_endpoint_scores_an_uploaded_file(api, adult_test):
    client, run, _ = api
    csv = adult_test.head(20).to_csv(index=False).encode()
    response = client.post(_url(run, "/batch"), files={"file": ("../../x.csv", csv, "text/csv")})
    assert response.status_code == 200, response.text
    text = response.text.splitlines()
    assert len(text) == 21
    assert "prediction" in text[0] and "reason_3" in text[0]
    bad = adult_test.head(5).drop(columns=["age"]).to_csv(index=False).encode()
    response = client.post(_url(run, "/batch"), files={"file": ("t.csv", bad, "text/csv")})
    assert response.status_code == 422 and "'age'" in response.json()["detail"]


# ------------------------------------------------------------------ traversal
def _corpus(outside: Path, link: str) -> list[str]:
    secret = (outside / "secret.txt").as_posix()
    base = ["../", "..", "../../../../etc/passwd", "..\\..\\windows\\win.ini", secret]
    base += [f"..{os.sep}{outside.name}{os.sep}secret.txt", "\\\\server\\share\\x", "//server/x"]
    base += ["%2e%2e%2f%2e%2e%2f", "%252e%252e%252f", "..%c0%af..%c0%af", "....//....//"]
    base += ["file:///etc/passwd", "C:\\Windows\\win.ini", link, f"{link}/secret.txt", "a\x00b"]
    return base


@pytest.fixture(scope="module")
def outside(workspace, tmp_path_factory):
    """A folder outside the workspace with a secret, and a symlink to it inside the workspace."""
    folder = tmp_path_factory.mktemp("outside")
    (folder / "secret.txt").write_text("secret")
    link = workspace.root / "artifacts" / "escape"
    if not link.exists():
        link.symlink_to(folder, target_is_directory=True)
    return folder


@pytest.fixture
def opened():
    """Paths the process opens while a test runs (an audit hook cannot be removed: gate it)."""
    seen: list[str] = []
    state = {"on": True}

    def hook(event: str, args: tuple) -> None:
        if state["on"] and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            seen.append(os.fsdecode(args[0]))

    sys.addaudithook(hook)
    yield seen
    state["on"] = False


def test_traversal_corpus_gets_4xx_and_reads_nothing_outside(api, record, outside, opened):
    client, run, _ = api
    corpus = _corpus(outside, "escape")
    statuses = []
    for raw in corpus:
        for enc in {quote(raw, safe=""), quote(raw, safe="/"), raw.replace("\x00", "%00")}:
            for method, path, kwargs in [
                ("GET", f"/models/{enc}/versions/1", {}),
                ("GET", f"/models/{run.model_name}/versions/{enc}", {}),
                ("POST", f"/models/{enc}/versions/latest/predict", {"json": {"records": [record]}}),
                ("POST", f"/models/{enc}/versions/1/explain", {"json": {"records": [record]}}),
                ("GET", f"/v2/models/{enc}", {}),
                ("POST", f"/v2/models/{enc}/versions/{enc}/infer", {"json": {"inputs": []}}),
            ]:
                response = client.request(method, path, follow_redirects=False, **kwargs)
                # httpx resolves a bare '..' segment itself (RFC 3986): such a request
                # names no model and reaches another endpoint, so it proves nothing here.
                if "/models/" in response.request.url.path:
                    statuses.append((path, response.status_code))
        # A file's name in an upload never becomes a path either.
        response = client.post(_url(run, "/batch"), files={"file": (raw, b"age\n1\n", "text/csv")})
        statuses.append((raw, response.status_code))
    assert all(400 <= s < 500 for _, s in statuses), [x for x in statuses if not 400 <= x[1] < 500]
    resolved = {str(Path(p).resolve()) for p in opened if p}
    assert not [p for p in resolved if p.startswith(str(outside.resolve()))]


# --------------------------------------------------------------- schemathesis
def test_no_5xx_from_the_openapi_spec(api):
    client, run, _ = api
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    headers = dict(client.headers)
    failures: list[tuple[str, int, str]] = []
    statuses: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            # Every other case aims at the real model, so bodies reach the schema checks.
            params = case.path_parameters or {}
            if "name" in params and len(repr(case.body)) % 2:
                params["name"] = run.model_name
                if "version" in params:
                    params["version"] = "latest"
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append((case.formatted_path, response.status_code, response.text[:200]))

        check()
    assert not failures, failures[:5]
    assert len(statuses) > 3 * len(operations) and 200 in statuses and 422 in statuses


# ------------------------------------------------------- keys and headers (issue 14)
def _set_key(store: ApiKeyStore, key_id: str, **values: float | None) -> None:
    from lepton_core.core import sqlite_connection

    with sqlite_connection(store.path) as db:
        for column, value in values.items():
            db.execute(f"UPDATE keys SET {column} = ? WHERE id = ?", (value, key_id))


def test_an_expired_key_gets_401_that_says_so(api, workspace):
    import time

    _, _, store = api
    anonymous = TestClient(create_app(workspace))
    key, token = store.create("quarterly", expires_in=90 * 86_400)
    assert key.expires == pytest.approx(time.time() + 90 * 86_400, abs=5)
    headers = {"Authorization": f"Bearer {token}"}
    assert anonymous.get("/models", headers=headers).status_code == 200
    _set_key(store, key.id, expires=time.time() - 1)
    response = anonymous.get("/models", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    detail = response.json()["detail"]
    assert "('quarterly') expired on " in detail and "create a new one on the Deploy page" in detail
    listed = next(k for k in store.list() if k.id == key.id)
    assert listed.expired and not listed.active
    # Revoked outranks expired; unknown keys get the plain sentence.
    store.revoke(key.id)
    assert "expired" not in anonymous.get("/models", headers=headers).json()["detail"]
    never, forever = store.create("forever")
    assert never.expires is None
    assert anonymous.get("/models", headers={"Authorization": f"Bearer {forever}"}).is_success
    with pytest.raises(ValueError, match="positive"):
        store.create("x", expires_in=0)


def test_last_used_is_recorded_at_most_once_a_minute(api, workspace):
    import time

    _, _, store = api
    client = TestClient(create_app(workspace))
    key, token = store.create("busy")
    assert key.last_used is None
    headers = {"Authorization": f"Bearer {token}"}

    def last_used() -> float | None:
        return next(k for k in store.list() if k.id == key.id).last_used

    assert client.get("/models", headers=headers).status_code == 200
    first = last_used()
    assert first == pytest.approx(time.time(), abs=5)
    for _ in range(3):
        client.get("/models", headers=headers)
    assert last_used() == first  # no write per request
    _set_key(store, key.id, last_used=first - 61)
    client.get("/models", headers=headers)
    assert last_used() == pytest.approx(time.time(), abs=5)


def test_a_key_file_from_before_expiry_keeps_working(tmp_path):
    import hashlib
    import sqlite3
    import time
    from contextlib import closing

    from lepton_core.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    token = "lk_" + "a" * 43
    with closing(sqlite3.connect(ws.root / "apikeys.db")) as db, db:
        db.execute(
            "CREATE TABLE keys (id TEXT PRIMARY KEY, name TEXT, hint TEXT, hash TEXT UNIQUE, "
            "created REAL, revoked REAL, last_used REAL)"
        )
        db.execute(
            "INSERT INTO keys VALUES (?, ?, ?, ?, ?, NULL, NULL)",
            ("old1", "old", "lk_aaaa…", hashlib.sha256(token.encode()).hexdigest(), time.time()),
        )
    store = ApiKeyStore(ws)
    assert store.verify(token).name == "old"
    [old] = store.list()
    assert old.expires is None and old.active and old.last_used is not None
    new, _ = store.create("new", expires_in=30 * 86_400)
    assert {k.id for k in ApiKeyStore(ws).list()} == {"old1", new.id}


def test_every_response_carries_the_security_headers(api, workspace, record):
    client, run, _ = api
    anonymous = TestClient(create_app(workspace))
    small = TestClient(create_app(workspace, require_key=False, max_body_bytes=100))
    responses = {
        "health": anonymous.get("/health"),
        "401": anonymous.get("/models"),
        "models": client.get("/models"),
        "predict": client.post(_url(run, "/predict"), json={"records": [record]}),
        "422": client.post(_url(run, "/predict"), json={"records": []}),
        "404": client.get("/models/nope/versions/1"),
        "no route": client.get("/nowhere"),
        "413": small.post(_url(run, "/predict"), json={"records": [record] * 5}),
        "docs": anonymous.get("/docs"),
        "openapi": anonymous.get("/openapi.json"),
        "v2": client.get(f"/v2/models/{run.model_name}"),
    }
    for what, response in responses.items():
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", what
        assert headers["cache-control"] == "no-store", what
        assert headers["x-frame-options"] == "DENY", what
        assert headers["content-security-policy"] == "frame-ancestors 'none'", what
        assert "server" not in headers, what
        assert len(headers.get_list("cache-control")) == 1, what
    assert responses["413"].status_code == 413 and responses["401"].status_code == 401


def test_serve_sends_no_server_banner(monkeypatch, workspace):
    import uvicorn

    from lepton_core.serving import serve

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    serve(workspace, port=1)
    assert seen["server_header"] is False
    assert seen["host"] == "127.0.0.1"


# ------------------------------------------ bad records and output safety (issue 14)
def _post_raw(client, url: str, body: dict) -> object:
    # ensure_ascii writes lone surrogates as \ud800 escapes: valid JSON text a client may send.
    content = json.dumps(body, allow_nan=True).encode()
    return client.post(url, content=content, headers={"Content-Type": "application/json"})


def test_a_float_in_a_categorical_field_reads_as_its_text_on_both_paths(api, record):
    client, run, _ = api
    unseen = dict(record, workclass="never-seen")
    for value in (1e308, -1e308, 5):
        response = _post_raw(
            client, _url(run, "/predict"), {"records": [dict(record, workclass=value)]}
        )
        assert response.status_code == 200, response.text
        # The number is the category's text ("1e+308"), which training never saw: the fast
        # path (plain strings) and the table path (anything else) agree on unseen values.
        expected = client.post(_url(run, "/predict"), json={"records": [unseen]}).json()
        assert _answers(response.json()) == _answers(expected)


def _answers(body: dict) -> list[dict]:
    """The predictions of a response without their ids (each call gets new ones)."""
    return [{k: v for k, v in p.items() if k != "prediction_id"} for p in body["predictions"]]


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (lambda r: {"records": [{**r, "\ud800": 1}]}, "unknown field '\\ud800'"),
        # pydantic refuses the value and names the key (already made printable by pydantic).
        (lambda r: {"records": [{**r, "\ud800": [1]}]}, "Field 'records.0."),
        # In a value, on the table path (age) and the fast path (workclass) alike.
        (lambda r: {"records": [dict(r, age="\ud800")]}, "'age' holds text that is not valid"),
        (lambda r: {"records": [dict(r, workclass="x\udfff")]}, "'x\\udfff' has a lone"),
    ],
)
def test_a_lone_surrogate_gets_422_with_a_printable_sentence(api, record, body, shown):
    client, run, _ = api
    response = _post_raw(client, _url(run, "/predict"), body(record))
    assert response.status_code == 422, response.text
    detail = json.loads(response.content.decode("utf-8"))["detail"]
    assert shown in detail


@pytest.mark.parametrize("value", ["inf", "-Infinity", "1e309", "NaN", "nan", float("nan")])
def test_non_finite_numbers_are_refused_even_as_text(api, record, value):
    client, run, _ = api
    for what in ("/predict", "/explain"):
        response = _post_raw(client, _url(run, what), {"records": [dict(record, age=value)]})
        assert response.status_code == 422, (what, response.text)
        assert "'age'" in response.json()["detail"] and "finite" in response.json()["detail"]
    inputs = [
        {"name": k, "shape": [1], "datatype": "BYTES", "data": [value if k == "age" else v]}
        for k, v in record.items()
    ]
    response = _post_raw(client, f"/v2/models/{run.model_name}/infer", {"inputs": inputs})
    assert response.status_code == 422 and "'age'" in response.json()["error"]


def test_long_field_names_are_cut_in_messages(api, record):
    client, run, _ = api
    huge = "k" * 1_000_000
    for body in (
        {"records": [{**record, huge: 1}]},  # an unknown field
        {"records": [{**record, huge: [1]}]},  # a value of the wrong type under it
    ):
        response = _post_raw(client, _url(run, "/predict"), body)
        assert response.status_code == 422
        assert len(response.content) < 2_000 and "k" * 60 + "…" in response.json()["detail"]
    tensor = {"name": "t" * 200, "shape": [1], "datatype": "FP64", "data": [1]}
    response = client.post(f"/v2/models/{run.model_name}/infer", json={"inputs": [tensor]})
    assert response.status_code == 422 and "t" * 60 + "…'" in response.json()["error"]


def test_names_with_a_trailing_newline_are_not_names(api, workspace):
    client, run, _ = api
    for name in (f"{run.model_name}\n", f"{run.model_name}\r\n"):
        with pytest.raises(ModelError, match="not a valid model name"):
            workspace.model_version(name)
    response = client.get(f"/models/{quote(run.model_name + chr(10))}/versions/latest")
    assert response.status_code == 404
    assert "\\x0a' is not a valid model name" in response.json()["detail"]


def test_batch_csv_escapes_formula_cells(api, adult_test):
    client, run, _ = api
    attacks = ['=HYPERLINK("http://evil","x")', "+1+2", "-2+3", "@SUM(A1)"]
    table = adult_test.head(len(attacks)).copy()
    table["workclass"] = attacks
    table["note"] = ["-5", "fine", "=1", "@x"]
    upload = {"file": ("t.csv", table.to_csv(index=False).encode(), "text/csv")}
    response = client.post(_url(run, "/batch"), files=upload)
    assert response.status_code == 200, response.text
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    header = rows[0]
    assert [r[header.index("workclass")] for r in rows[1:]] == ["'" + a for a in attacks]
    assert [r[header.index("note")] for r in rows[1:]] == ["-5", "fine", "'=1", "'@x"]
    assert all(not r[header.index("reason_1")].startswith(tuple("=+-@")) for r in rows[1:])


class _Unpickled:
    """Loading a pickle of this makes a folder: proof that something unpickled it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_a_pickle_in_place_of_a_model_file_is_refused_unread(workspace, adult_csv, tmp_path):
    import mlflow.artifacts

    from lepton_core.runs import TrainConfig, train
    from lepton_core.workspace import _workspace as ws_module

    result = train(
        TrainConfig(
            data=str(adult_csv), target="Y", model="logistic", model_name="pickled", explain_rows=20
        ),
        workspace=workspace,
    )
    name, version = result.model_name, result.model_version
    uri = workspace.model_location(name, version)
    root = Path(mlflow.artifacts.download_artifacts(uri, tracking_uri=workspace.tracking_uri))
    folder = root / "artifacts" / "lepton_model"
    marker = tmp_path / "unpickled"
    for victim in sorted(p for p in folder.iterdir() if p.is_file()):
        saved = victim.read_bytes()
        victim.write_bytes(pickle.dumps(_Unpickled(marker)))
        # The attacker rewrites the integrity tag to match the new files, too.
        digest = ws_module._digest(ws_module._hash_files(root))
        workspace.client.set_model_version_tag(name, str(version), "lepton.sha256", digest)
        workspace._load_model_cached.cache_clear()
        try:
            with pytest.raises(ModelError, match="not the ones Lepton saved"):
                workspace.load_model(name, version)
            client = TestClient(create_app(workspace, require_key=False))
            response = client.get(f"/models/{name}/versions/{version}")
            assert response.status_code == 404, (victim.name, response.text)
            assert "not the ones Lepton saved" in response.json()["detail"]
        finally:
            victim.write_bytes(saved)
    assert not marker.exists()
    digest = ws_module._digest(ws_module._hash_files(root))  # leave the version whole again
    workspace.client.set_model_version_tag(name, str(version), "lepton.sha256", digest)
    workspace._load_model_cached.cache_clear()
    assert workspace.load_model(name, version).family == "logistic"


def test_no_5xx_from_the_openapi_spec_with_the_models_own_fields(api, record):
    """The record routes again, with the spec's generated values under the model's own field
    names (and tensor names), so they reach the value checks rather than stop at the names."""
    client, run, _ = api
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    headers = dict(client.headers)
    names = list(record)
    failures: list[tuple[str, int, str]] = []
    statuses: list[int] = []
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if op.method.upper() == "POST" and op.path.endswith(("/predict", "/explain", "/infer"))
    ]
    assert len(operations) == 4

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            params = case.path_parameters or {}
            params["name"] = run.model_name
            if "version" in params:
                params["version"] = "latest"
            if case.query and "version" in case.query:
                case.query["version"] = "latest"
            body = case.body
            start = len(repr(body)) % len(names)  # spread the values over every field
            fields = names[start:] + names[:start]
            if isinstance(body, dict) and isinstance(body.get("records"), list):
                body["records"] = [
                    {**record, **dict(zip(fields, r.values(), strict=False))}
                    if isinstance(r, dict)
                    else r
                    for r in body["records"]
                ]
            if isinstance(body, dict) and isinstance(body.get("inputs"), list):
                for tensor, name in zip(body["inputs"], fields * 200, strict=False):
                    if isinstance(tensor, dict):
                        tensor["name"] = name
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            text = response.content.decode("utf-8")  # every answer is UTF-8, errors included
            if response.status_code >= 500 or len(text) > 100_000:
                failures.append((case.formatted_path, response.status_code, text[:200]))

        check()
    assert not failures, failures[:5]
    assert len(statuses) >= 50 and 200 in statuses and 422 in statuses, statuses


def test_the_model_cache_keeps_the_most_recently_used_versions_only(
    adult_run, workspace, monkeypatch
):
    """A long-lived server (or the notebook's Deploy page) loads version after version;
    only the last few used stay in memory, and an evicted one loads again when asked."""
    from types import SimpleNamespace

    from lepton_core.serving import _state

    loads: list[tuple[str, int]] = []

    def load(ws, name, version):
        loads.append((name, version))
        return SimpleNamespace(name=name, version=version)

    monkeypatch.setattr(_state, "load_bundle", load)
    cache = _state.ModelCache(workspace, "native", size=2)
    monkeypatch.setattr(cache, "info", lambda n, v: SimpleNamespace(name=n, version=int(v)))
    a = cache.get("a", "1")
    cache.get("b", "1")
    assert cache.get("a", "1") is a  # a hit: not loaded again, and now the most recent
    cache.get("c", "1")  # evicts b, the least recently used
    cache.get("a", "1")
    cache.get("b", "1")
    assert loads == [("a", 1), ("b", 1), ("c", 1), ("b", 1)]
    assert len(cache._loaded) == 2


def test_the_model_cache_loads_a_real_version_once(adult_run, workspace):
    from lepton_core.serving._state import ModelCache

    cache = ModelCache(workspace, "native")
    version = str(adult_run.model_version)
    first = cache.get(adult_run.model_name, version)
    assert cache.get(adult_run.model_name, version) is first
    assert cache.scorer(first) is first.model  # the native runtime scores with the model
