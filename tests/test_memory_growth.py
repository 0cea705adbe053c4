"""A long notebook session keeps nothing alive per run or version it has listed.

Streamlit keeps the metadata of every widget id a session has drawn until the session
ends, with whatever the widget's ``format_func`` holds. A picker whose id changed with its
options (one more run, one more version) therefore kept a copy of every list it showed,
and on the Deploy page that page's whole namespace: the app grew with every model trained.
"""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

from streamlit.testing.v1 import AppTest

from app_pages import _common
from app_pages._common import Keys
from lepton_core.workspace import ModelVersionInfo, RunSummary

ROOT = Path(__file__).resolve().parents[1]
RERUNS = 4
FIRST_FAKE = 1_000  # versions from here on are made up for the test


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _page(name: str, adult_run) -> AppTest:
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page(f"app_pages/{name}.py")
    at.session_state[Keys.DATASET_ID] = adult_run.dataset_id
    at.session_state[Keys.RUN_ID] = adult_run.run_id
    return at


def _alive(kind: type, made_up) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, kind) and made_up(o))


def test_the_run_picker_keeps_no_list_of_runs_it_showed(adult_run, workspace, monkeypatch):
    real = next(r for r in workspace.list_runs() if r.run_id == adult_run.run_id)
    shown: list[list[RunSummary]] = [[]]  # the list the page gets: only the latest
    monkeypatch.setattr(_common, "list_runs", lambda: shown[0])
    at = _page("explain", adult_run)
    for n in range(1, RERUNS + 1):
        # One more run each time, in new objects: only the latest list may stay alive.
        shown[0] = [real] + [
            dataclasses.replace(real, run_id=f"{i:032x}", model_version=FIRST_FAKE + i)
            for i in range(n)
        ]
        _ok(at.run())
        assert at.selectbox[0].value == adult_run.run_id
    shown[0] = []  # the page's last run still holds its own list, and no other
    assert _alive(RunSummary, lambda r: r.run_id.startswith("0" * 24)) <= RERUNS


def test_the_version_picker_keeps_no_list_of_versions_it_showed(adult_run, workspace, monkeypatch):
    real = workspace.model_version(adult_run.model_name, adult_run.model_version)
    shown: list[list[ModelVersionInfo]] = [[]]
    monkeypatch.setattr(_common, "model_versions", lambda: shown[0])
    at = _page("deploy", adult_run)
    for n in range(1, RERUNS + 1):
        shown[0] = [real] + [
            dataclasses.replace(real, version=FIRST_FAKE + i, published=False) for i in range(n)
        ]
        _ok(at.run())
        picker = next(s for s in at.selectbox if s.label == "Model version")
        assert picker.value == real.ref
    shown[0] = []
    assert _alive(ModelVersionInfo, lambda v: v.version >= FIRST_FAKE) <= RERUNS


def test_a_version_picked_on_deploy_stays_picked(adult_run, workspace, monkeypatch):
    real = workspace.model_version(adult_run.model_name, adult_run.model_version)
    other = dataclasses.replace(real, version=FIRST_FAKE, run_id="f" * 32, published=False)
    monkeypatch.setattr(_common, "model_versions", lambda: [other, real])
    at = _ok(_page("deploy", adult_run).run())
    picker = next(s for s in at.selectbox if s.label == "Model version")
    assert picker.value == real.ref  # the session's run, not the newest version
    picker.set_value(other.ref)
    at.run()  # the made-up version has no reports: the page stops there, keeping the pick
    assert next(s for s in at.selectbox if s.label == "Model version").value == other.ref
    at.run()
    assert next(s for s in at.selectbox if s.label == "Model version").value == other.ref
