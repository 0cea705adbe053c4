"""API keys by role: a predict-only key reaches published versions only; a full key all."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from lepton_core.runs import publish
from lepton_core.serving import create_app
from lepton_core.workspace import ApiKeyStore, AuditLog


@pytest.fixture(scope="module")
def clients(adult_run, workspace):
    """A client per role, on the session's Adult model, unpublished to start with."""
    publish(workspace, adult_run.model_name, adult_run.model_version, False)
    app = create_app(workspace)
    store = ApiKeyStore(workspace)
    out = {}
    for role in ("predict", "full"):
        _, token = store.create(f"{role}-key", role=role, created_by="eve@example.org")
        out[role] = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    yield out
    publish(workspace, adult_run.model_name, adult_run.model_version, False)


def test_a_predict_only_key_reaches_published_versions_only(clients, adult_run, workspace):
    record = workspace.load_input_schema(adult_run.run_id).defaults()
    name, version = adult_run.model_name, adult_run.model_version
    predict_url = f"/models/{name}/versions/{version}/predict"
    body = {"records": [record]}
    predict, full = clients["predict"], clients["full"]

    def listed(client) -> set[str]:
        return {f"{v['name']}:{v['version']}" for v in client.get("/models").json()}

    refused = predict.post(predict_url, json=body)
    assert refused.status_code == 403
    assert "may call published model versions only" in refused.json()["detail"]
    assert predict.get(f"/models/{name}/versions/{version}").status_code == 403
    assert predict.get(f"/v2/models/{name}/versions/{version}").status_code == 403
    assert f"{name}:{version}" not in listed(predict)
    # A full key reaches it unpublished; once published, the predict-only key does too.
    assert full.post(predict_url, json=body).status_code == 200
    assert f"{name}:{version}" in listed(full)
    publish(workspace, name, version, True)
    _forget_published_states(predict)
    assert predict.post(predict_url, json=body).status_code == 200
    assert f"{name}:{version}" in listed(predict)


def _forget_published_states(client) -> None:
    """Forget the published states the app reuses for a few seconds."""
    client.app.state.serving.models._published.clear()


def test_keys_record_their_role_and_creator_and_refuse_an_unknown_role(workspace):
    store = ApiKeyStore(workspace)
    key, _ = store.create("script", role="predict", created_by="ana@example.org")
    listed = next(k for k in store.list() if k.id == key.id)
    assert (listed.role, listed.created_by) == ("predict", "ana@example.org")
    entry = next(e for e in AuditLog(workspace).list(actions=["key.created"]) if e.target == key.id)
    assert entry.actor == "ana@example.org" and entry.detail["role"] == "predict"
    with pytest.raises(ValueError, match="role must be one of"):
        store.create("bad", role="admin")
    assert store.create("default")[0].role == "full"  # what every key could do before roles


def test_the_deploy_page_makes_published_only_keys_unless_told_otherwise(adult_run, workspace):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(Path(__file__).resolve().parents[1] / "app.py", default_timeout=120)
    at.switch_page("app_pages/deploy.py").run()
    for name, role in (("for-billing", None), ("for-our-scripts", "full")):
        next(t for t in at.text_input if t.label == "Key name").set_value(name)
        if role is not None:
            next(s for s in at.selectbox if s.label == "Key may call").set_value(role)
        next(b for b in at.button if b.label == "Create key").click()
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    roles = {k.name: k.role for k in ApiKeyStore(workspace).list()}
    assert roles["for-billing"] == "predict" and roles["for-our-scripts"] == "full"
    assert any("Published versions only" in c.value for c in at.caption)
