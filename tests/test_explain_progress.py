"""The explanation step reports progress: chunks of rows (or texts) explained, the same
values as one call, and a stop request heard between chunks."""

from __future__ import annotations

import dataclasses
import itertools
import random
import time

import numpy as np
import pandas as pd
import pytest

from lepton_core.core import CallbackList, TrainerCallback, TrainingError
from lepton_core.data import infer_schema, prepare_features
from lepton_core.explain import _linear, _tree, explain
from lepton_core.models import make_model
from lepton_core.runs import TrainConfig, train


class Recorder(TrainerCallback):
    """Every explanation progress event a page or the CLI would see."""

    def __init__(self) -> None:
        self.events: list[tuple[int, int | None, str | None, float | None]] = []
        self.logged_while_explaining = 0

    def on_step_end(self, state, control) -> None:
        if state.phase == "explaining":
            self.events.append((state.step, state.total_steps, state.unit, state.fraction))

    def on_log(self, state, control, logs) -> None:
        self.logged_while_explaining += state.phase == "explaining"


def _check_events(events, *, total: int, unit: str) -> None:
    fractions = [fraction for _, _, _, fraction in events]
    assert len(events) >= 3, events
    assert {(t, u) for _, t, u, _ in events} == {(total, unit)}
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(a < b for a, b in itertools.pairwise(fractions)), fractions


@pytest.fixture(scope="module")
def adult_model(adult_small, adult_test):
    """LightGBM and logistic models on the small Adult sample, with 600 test rows."""
    schema = infer_schema(adult_small)
    x_train = prepare_features(adult_small, schema, "Y")
    x_test = prepare_features(adult_test.head(600), schema, "Y")
    y = adult_small["Y"].to_numpy()
    lgbm = make_model("lightgbm", "binary", n_estimators=30).fit(x_train, y)
    logistic = make_model("logistic", "binary").fit(x_train, y)
    return lgbm, logistic, x_train, x_test


class FakeJobs:
    """What a job's progress callback writes to the jobs table, kept in a list."""

    def __init__(self) -> None:
        self.written: list = []

    def update(self, job_id, *, progress, heartbeat) -> None:
        self.written.append(dataclasses.replace(progress))

    def status(self, job_id) -> str:
        return "running"


# ------------------------------------------------------------------ training runs
def test_a_tabular_training_reports_its_explanation_in_chunks(adult_csv, workspace, monkeypatch):
    from lepton_core.jobs import _runner

    monkeypatch.setattr(_runner, "_PROGRESS_EVERY", 0.0)  # write every event
    recorder, jobs = Recorder(), FakeJobs()
    result = train(
        TrainConfig(data=str(adult_csv), target="Y", sensitive=["sex"], explain_rows=600),
        callbacks=[recorder, _runner.JobProgressCallback(jobs, "job-1")],
        workspace=workspace,
    )
    # The job's progress, as the Train page reads it, moves through the explanation from
    # the phase's first write on (never the training's figures under "explaining").
    explaining = [p for p in jobs.written if p.phase == "explaining"]
    fractions = [p.fraction() for p in explaining]
    assert fractions == [0.0, 0.0, 500 / 600, 1.0], fractions
    assert explaining[-2].seconds_left() is not None
    # 600 of the 600 test rows, 500 at a time: 0, 500, 600.
    _check_events(recorder.events, total=600, unit="rows")
    assert len(recorder.events) == 1 + -(-600 // _tree.CHUNK_ROWS)
    # Explanation steps are progress, not training steps: the curves stay the training's.
    assert recorder.logged_while_explaining == 0
    assert all("rows" not in str(h) for h in result.history)
    assert result.shap_summary["n_rows"] == 600


def _reviews(n: int) -> pd.DataFrame:
    rng = random.Random(0)
    # Eight words a side, two per review: enough distinct sentences to read as free text.
    good = ["wonderful", "great", "moving", "brilliant", "funny", "warm", "superb", "delightful"]
    bad = ["dull", "awful", "boring", "clumsy", "tedious", "weak", "lifeless", "painful"]
    rows = []
    for i in range(n):
        words = rng.sample(good if i % 2 == 0 else bad, 2)
        rows.append(
            {
                "review": f"a {words[0]} film , {words[1]} from start to finish",
                "sentiment": "positive" if i % 2 == 0 else "negative",
            }
        )
    return pd.DataFrame(rows)


def test_a_text_training_reports_each_text_explained(tmp_path, workspace):
    path = tmp_path / "reviews.csv"
    _reviews(80).to_csv(path, index=False)
    recorder = Recorder()
    train(
        TrainConfig(
            data=str(path),
            target="sentiment",
            model="text",
            params={"mode": "quick"},
            explain_rows=5,
        ),
        callbacks=[recorder],
        workspace=workspace,
    )
    _check_events(recorder.events, total=5, unit="texts")
    assert [done for done, *_ in recorder.events] == [0, 1, 2, 3, 4, 5]


def test_a_stop_request_while_explaining_cancels_the_run(adult_csv, workspace):
    class StopWhileExplaining(TrainerCallback):
        def on_step_end(self, state, control) -> None:
            if state.phase == "explaining" and state.step > 0:
                control.should_stop = True

    before = len(workspace.model_versions())
    with pytest.raises(TrainingError, match="cancelled"):
        train(
            TrainConfig(data=str(adult_csv), target="Y", explain_rows=600),
            callbacks=[StopWhileExplaining()],
            workspace=workspace,
        )
    assert len(workspace.model_versions()) == before  # nothing registered


# ------------------------------------------------------ chunks give the same values
@pytest.mark.parametrize("strategy", [_tree, _linear])
def test_chunked_values_equal_one_unchunked_call(adult_model, strategy, monkeypatch):
    lgbm, logistic, x_train, x_test = adult_model
    model = lgbm if strategy is _tree else logistic
    monkeypatch.setattr(strategy, "CHUNK_ROWS", 10_000)  # one chunk: the unchunked call
    whole = explain(model, x_test, background=x_train, max_rows=500, seed=3)
    monkeypatch.setattr(strategy, "CHUNK_ROWS", 7)
    seen: list[tuple[int, int]] = []
    chunked = explain(
        model,
        x_test,
        background=x_train,
        max_rows=500,
        seed=3,
        progress=lambda done, total: seen.append((done, total)),
    )
    np.testing.assert_allclose(chunked.values, whole.values, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(chunked.base_values, whole.base_values)
    np.testing.assert_allclose(chunked.model_output, whole.model_output)
    assert chunked.positions == whole.positions and chunked.data == whole.data
    assert chunked.note == whole.note
    assert seen == [(0, 500), *((min(k, 500), 500) for k in range(7, 507, 7))]


def test_a_stop_request_returns_the_rows_explained_so_far(adult_model, monkeypatch):
    lgbm, _, _, x_test = adult_model
    monkeypatch.setattr(_tree, "CHUNK_ROWS", 100)
    whole = explain(lgbm, x_test, max_rows=400, seed=1)
    part = explain(lgbm, x_test, max_rows=400, seed=1, progress=lambda done, total: done >= 200)
    assert len(part.values) == 200 and part.positions == whole.positions[:200]
    np.testing.assert_allclose(part.values, whole.values[:200])
    assert "Stopped after 200 of 400 rows." in part.note
    assert part.additivity_error() < 1e-6


# ------------------------------------------------------------------ the callbacks
def test_advance_counts_rows_without_touching_the_training_curves():
    cb = CallbackList([Recorder()])
    cb.phase("training")
    cb.step(1, 10, {"valid_loss": 0.5})
    cb.phase("explaining", total=40, unit="rows")
    assert (cb.state.step, cb.state.total_steps, cb.state.fraction) == (0, 40, 0.0)
    assert not cb.advance(0, 40, unit="rows")
    assert cb.state.eta_seconds() is None  # nothing explained yet
    cb.state.phase_started_at = time.time() - 3.0  # 3 s into the phase
    cb.advance(10, 40, unit="rows")
    # The ETA is the phase's own: 3 s for a quarter, so about 9 s left.
    assert cb.state.eta_seconds() == pytest.approx(9.0, abs=0.5)
    assert (cb.state.step, cb.state.total_steps, cb.state.unit) == (10, 40, "rows")
    assert len(cb.state.log_history) == 1
    cb.control.should_stop = True
    assert cb.advance(20, 40, unit="rows")


def test_the_terminal_bar_counts_rows_while_explaining():
    import io

    from lepton_core.core import ProgressBarCallback

    stream = io.StringIO()
    cb = CallbackList([ProgressBarCallback(stream=stream)])
    cb.phase("training")
    cb.step(5, 5, {"valid_loss": 0.25})
    cb.phase("explaining")
    cb.advance(120, 500, unit="rows")
    last = stream.getvalue().rsplit("\r", 1)[-1]
    assert "120/500 rows" in last and "valid loss" not in last


def test_a_job_explaining_shows_the_share_of_rows_done():
    from lepton_core.jobs._progress import progress_for

    stored = {"phase": "explaining", "step": 120, "total_steps": 500, "eta_seconds": 4.5}
    progress = progress_for("train", stored)
    assert progress.fraction() == pytest.approx(0.24)
    assert progress.seconds_left() == 4.5
