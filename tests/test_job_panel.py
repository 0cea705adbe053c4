"""A job's panel redraws itself every second only while the job waits or runs: an open tab
with a finished job re-reads nothing (issue 15: the app's work stays bounded)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import app_pages._common as common


@pytest.fixture
def fragments(monkeypatch):
    """Each fragment ``live_job_panel`` makes: its ``run_every``, then what it did when run."""
    made: list[dict] = []

    def fragment(run_every=None):
        def wrap(body):
            made.append({"run_every": run_every})
            return body

        return wrap

    def rerun(scope="app"):
        made[-1]["rerun"] = scope

    monkeypatch.setattr(common.st, "fragment", fragment)
    monkeypatch.setattr(common.st, "rerun", rerun)
    return made


def _job(active: bool) -> SimpleNamespace:
    return SimpleNamespace(active=active)


def _store(monkeypatch, *states: bool) -> None:
    """The job as the page reads it first, then as the panel draws it."""
    states_left = list(states)
    monkeypatch.setattr(common, "workspace", lambda: None)
    monkeypatch.setattr(common, "guard", lambda func, *args: func(*args))
    import lepton_core.jobs as jobs

    class Store:
        def __init__(self, _workspace) -> None:
            pass

        def get(self, _job_id):
            return _job(states_left.pop(0))

    monkeypatch.setattr(jobs, "JobStore", Store)


def test_a_running_job_is_redrawn_every_second(fragments, monkeypatch):
    _store(monkeypatch, True)
    common.live_job_panel(lambda job_id: _job(True), "j1")
    assert fragments == [{"run_every": common.JOB_REFRESH_SECONDS}]


def test_a_finished_job_is_drawn_once(fragments, monkeypatch):
    _store(monkeypatch, False)
    drawn = []
    common.live_job_panel(lambda job_id: drawn.append(job_id) or _job(False), "j1")
    assert fragments == [{"run_every": None}] and drawn == ["j1"]


def test_the_page_reruns_once_when_the_job_ends(fragments, monkeypatch):
    _store(monkeypatch, True)
    common.live_job_panel(lambda job_id: _job(False), "j1")  # it ended meanwhile
    assert fragments == [{"run_every": common.JOB_REFRESH_SECONDS, "rerun": "app"}]
