"""What makes a job fast (issue 15): the caches' one bound, the job log's phase lines, the
workers' OpenMP waiting, the family's own count of explained rows."""

from __future__ import annotations

import pytest

from lepton_core.core import ENV_CACHE_ENTRIES, cache_entries
from lepton_core.jobs import JobProgressCallback
from lepton_core.jobs._executors import _worker_env
from lepton_core.models import family_class
from lepton_core.runs import TrainConfig, train


def test_one_setting_lowers_every_cache_bound(monkeypatch) -> None:
    monkeypatch.delenv(ENV_CACHE_ENTRIES, raising=False)
    assert cache_entries(32) == 32
    monkeypatch.setenv(ENV_CACHE_ENTRIES, "4")
    assert cache_entries(32) == 4
    assert cache_entries(2) == 2  # a cap, never a raise
    monkeypatch.setenv(ENV_CACHE_ENTRIES, "0")
    with pytest.raises(ValueError, match=ENV_CACHE_ENTRIES):
        cache_entries(32)


def test_the_job_log_says_when_each_phase_began(capsys) -> None:
    progress = JobProgressCallback(store=None, job_id="j", since=100.0)  # type: ignore[arg-type]
    progress.mark("started")
    line = capsys.readouterr().err.strip()
    assert line.startswith("[") and line.endswith("s] started")
    assert float(line[1:].split(" s]")[0]) > 0


def test_workers_wait_for_openmp_without_spinning(monkeypatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert _worker_env()["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the user's own choice stands
    assert _worker_env()["OMP_WAIT_POLICY"] == "ACTIVE"


def test_a_run_explains_as_many_rows_as_its_family_says(adult_csv, workspace, monkeypatch) -> None:
    monkeypatch.setattr(family_class("logistic"), "explain_rows", 7)
    result = train(
        TrainConfig(data=str(adult_csv), target="Y", sensitive=["sex"], model="logistic"),
        workspace=workspace,
    )
    assert result.shap_summary["n_rows"] == 7
