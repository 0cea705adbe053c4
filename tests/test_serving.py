"""The REST API in process: auth, schema errors, predictions, OIP v2, traversal, schemathesis."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

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
    db = (workspace.root / "apikeys.db").read_bytes()
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
