"""Auto mode: an Optuna search on validation data, a fairness limit, the winner registered."""

from __future__ import annotations

import json
import time

import pytest

# Trials score through this module's evaluate(); the tests record its calls.
import lepton_core.runs._search as search_module
from lepton_core.core import TrainingError
from lepton_core.data import infer_schema, prepare_features, split_table
from lepton_core.evaluation import evaluate
from lepton_core.jobs import JobStore, start_job
from lepton_core.runs import AutoConfig, TrainConfig, run_auto


@pytest.fixture(scope="module")
def base(adult_csv):
    return TrainConfig(data=str(adult_csv), target="Y", sensitive=["sex", "race"], explain_rows=20)


@pytest.fixture(scope="module")
def searched(base, workspace):
    """A short search whose every evaluate() call is recorded (trials and the winner's)."""
    calls: list[int] = []

    def recording(y_true, *args, **kwargs):
        calls.append(len(y_true))
        return evaluate(y_true, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(search_module, "evaluate", recording)
    try:
        result = run_auto(
            # The single best trial is the winner; the ensemble of trials: test_ensemble.py.
            AutoConfig(base=base, budget_s=8, max_trials=8, refit=False, ensemble=False),
            workspace=workspace,
        )
    finally:
        mp.undo()
    return result, calls


def test_search_scores_on_validation_only_and_registers_the_winner(searched, workspace):
    result, calls = searched
    winner = result.winner
    assert result.metric == "roc_auc" and 1 <= result.n_trials <= 8
    assert result.backend == "optuna" and not result.refitted
    # Every trial was scored on the validation part; the test part is left to the winner.
    assert calls == [winner.n_valid] * len(calls) and len(calls) >= result.n_trials
    first = next(row for row in result.leaderboard if row["trial"] == 0)
    assert first["model"] == "lightgbm" and first["params"]["learning_rate"] == 0.1  # defaults
    scores = [row["score"] for row in result.leaderboard]
    assert scores == sorted(scores, reverse=True)
    assert [row["rank"] for row in result.leaderboard] == list(range(1, len(scores) + 1))
    best = result.leaderboard[0]
    assert winner.family == best["model"]
    assert workspace.get_run(winner.run_id).model_version == winner.model_version
    assert set(best["fairness"]) == {"sex", "race"}
    # A column with too few validation rows per group has no gap (None) and is left out.
    known = [gap for gap in best["fairness"].values() if gap is not None]
    assert best["gap"] == pytest.approx(max(known), abs=1e-4)


def test_the_registered_winner_is_the_model_its_trial_scored(searched, workspace):
    result, _ = searched
    winner = result.winner
    info = workspace.get_dataset(winner.dataset_id)
    df, test = workspace.load_dataset(info.id)
    split = split_table(df, "Y", task="binary", test=test, seed=0)
    x_valid = prepare_features(split.valid, infer_schema(df), "Y")
    model = workspace.load_model(winner.model_name, winner.model_version)
    report = evaluate(
        split.valid["Y"].to_numpy(),
        model.predict(x_valid),
        task="binary",
        y_proba=model.predict_proba(x_valid),
        classes=list(model.classes_),
    )
    assert report.metrics["roc_auc"] == pytest.approx(result.leaderboard[0]["score"], abs=1e-9)


def test_the_winner_is_refitted_on_training_and_validation_rows(base, workspace):
    result = run_auto(
        AutoConfig(base=base, budget_s=60, max_trials=2, families=["lightgbm"], ensemble=False),
        workspace=workspace,
    )
    best, winner = result.leaderboard[0], result.winner
    assert result.refitted and best["rounds"] >= 1
    # No validation is left to stop on: the boosting rounds are those its trial kept.
    assert winner.config.params["n_estimators"] == best["rounds"]
    assert winner.config.params["early_stopping_rounds"] is None
    df, test = workspace.load_dataset(winner.dataset_id)
    searched = split_table(df, "Y", task="binary", test=test, seed=0)
    refitted = split_table(df, "Y", task="binary", test=test, valid_size=0.0, seed=0)
    # The same test part; every validation row joined the training part.
    assert refitted.test.equals(searched.test) and winner.n_test == len(searched.test)
    assert winner.n_valid == 0
    assert winner.n_train == len(searched.train) + len(searched.valid)


def test_fairness_limit_ranks_models_within_it_first(base, workspace):
    result = run_auto(
        AutoConfig(base=base, budget_s=60, max_trials=6, fairness_limit=0.12),
        workspace=workspace,
    )
    board = result.leaderboard
    met = [row["meets_limit"] for row in board]
    assert met == sorted(met, reverse=True)  # every model within the limit comes first
    within = [row["score"] for row in board if row["meets_limit"]]
    assert within == sorted(within, reverse=True)
    over = [row["gap"] for row in board if not row["meets_limit"]]
    assert over == sorted(over)  # the rest by how far over the limit they are
    assert result.constraint_met == board[0]["meets_limit"]
    assert all((row["gap"] <= 0.12) == row["meets_limit"] for row in board)


def test_search_stops_within_its_budget(base, workspace):
    start = time.time()
    result = run_auto(
        AutoConfig(base=base, budget_s=2, families=["logistic", "tree"]), workspace=workspace
    )
    # Trials that would run past the budget are cut; the winner's training follows.
    assert result.search_seconds < 2 + 5 and time.time() - start < 60
    assert {row["model"] for row in result.leaderboard} <= {"logistic", "tree"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metric": "rmse"}, "Auto cannot rank binary models by 'rmse'; pick one of"),
        ({"families": ["forest"]}, "Auto cannot search the families ['forest']"),
        ({"budget_s": 0}, "The time budget must be more than 0 seconds"),
        ({"fairness_limit": 0.1, "fairness_metric": "x"}, "Auto cannot limit 'x'"),
    ],
)
def test_bad_settings_say_what_to_pick(base, workspace, change, message):
    with pytest.raises(TrainingError, match=message.replace("[", r"\[").replace("]", r"\]")):
        run_auto(AutoConfig(base=base, **change), workspace=workspace)


def test_auto_job_publishes_a_live_leaderboard(base, workspace):
    # The budget is a ceiling: the search ends after 5 trials, even on a busy machine.
    job = start_job(AutoConfig(base=base, budget_s=90, max_trials=5), workspace=workspace)
    assert job.kind == "auto" and job.family == "auto" and "--auto" in job.command
    store = JobStore(workspace)
    boards: list[int] = []
    deadline = time.time() + 180
    while (current := store.get(job.id)).active and time.time() < deadline:
        if current.progress.leaderboard:
            boards.append(len(current.progress.leaderboard))
        time.sleep(0.3)
    assert current.status == "succeeded", store.read_log(job.id)
    assert boards and boards == sorted(boards)  # seen growing while the search ran
    board = current.progress.leaderboard
    assert current.progress.metric == "roc_auc" and len(board) == 5
    assert current.progress.budget_s == 90
    # The best trial, or the ensemble of trials that beat it on validation.
    assert workspace.get_run(current.run_id).family in (board[0]["model"], "ensemble")


def test_train_page_auto_shows_the_leaderboard(adult_csv, workspace):
    from streamlit.testing.v1 import AppTest

    from app_pages._common import Keys
    from lepton_core.runs import resolve_dataset
    from tests.test_pages import ROOT

    info, _, _ = resolve_dataset(
        TrainConfig(data=str(adult_csv), target="Y", sensitive=["sex"]), workspace
    )
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page("app_pages/train.py")
    at.session_state[Keys.DATASET_ID] = info.id
    at.run()
    next(s for s in at.selectbox if s.label == "Model family").set_value("auto").run()
    next(n for n in at.number_input if n.label == "Time budget (s)").set_value(10)
    next(t for t in at.toggle if t.label == "Fairness limit").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = JobStore(workspace).get(at.session_state[Keys.JOB_ID])
    assert job.kind == "auto" and job.config["budget_s"] == 10
    assert job.config["fairness_limit"] == pytest.approx(0.1)
    deadline = time.time() + 180
    while JobStore(workspace).get(job.id).active and time.time() < deadline:
        time.sleep(0.5)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert JobStore(workspace).get(job.id).status == "succeeded", JobStore(workspace).get(job.id)
    # Green when the winner is clearly better than always guessing, else a warning saying so.
    boxes = [b.value for b in [*at.success, *at.warning]]
    assert any("trained in" in b for b in boxes), boxes
    board = at.dataframe[0].value
    assert {"rank", "model", "validation roc_auc", "within limit"} <= set(board.columns)
    assert list(board["rank"]) == list(range(1, len(board) + 1))


def test_cli_auto_prints_the_winner(adult_csv, workspace, capsys):
    from lepton_core.cli import main

    argv = ["train", "--data", str(adult_csv), "--target", "Y", "--sensitive", "sex"]
    assert main([*argv, "--auto", "--budget", "8", "--fairness-limit", "0.2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["family"] in ("lightgbm", "logistic", "tree", "ensemble")
    assert workspace.get_run(out["run_id"]).model_version == out["model_version"]
