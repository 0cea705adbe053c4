"""Honest headlines: fairness over groups large enough, a baseline and a verdict, warnings.

The cases come from a walk through the app as a new user (issue 15): a 300-row loans
table whose fairness headline was decided by a group of one row, and 100 rows of random
columns with random labels whose figures looked like success.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from lepton_core.core import DataError
from lepton_core.evaluation import (
    MIN_TEST_ROWS,
    EvalReport,
    bootstrap_intervals,
    check_features,
    evaluate,
    fairness_report,
    fairness_reports,
    min_group_rows,
)
from lepton_core.models import make_model

# ----------------------------------------------------------------- the loans table


def _loans(n_missing: int = 1) -> pd.DataFrame:
    """300 loan decisions; the age band of ``n_missing`` rows is missing.

    The model approves about half of each large band fairly; the rows without an age
    band are approved although they should have been denied, so on their own they make
    every gap as large as it can be.
    """
    rng = np.random.default_rng(7)
    n = 300
    band = np.array(["18-30"] * 150 + ["31-60"] * (150 - n_missing) + [None] * n_missing)
    truth = rng.choice(["approved", "denied"], n)
    pred = np.where(rng.random(n) < 0.8, truth, np.where(truth == "approved", "denied", "approved"))
    truth[-n_missing:], pred[-n_missing:] = "denied", "approved"
    return pd.DataFrame({"age_band": band, "truth": truth, "pred": pred})


def _fairlearn_over(df: pd.DataFrame, groups: list[str]) -> tuple[float, float]:
    part = df[df["age_band"].fillna("missing").isin(groups)]
    args = {
        "y_true": (part["truth"] == "approved").astype(int),
        "y_pred": (part["pred"] == "approved").astype(int),
        "sensitive_features": part["age_band"].fillna("missing"),
    }
    return demographic_parity_difference(**args), equalized_odds_difference(**args)


def test_a_group_of_one_never_drives_the_fairness_headline():
    df = _loans()
    report = fairness_report(
        df["truth"],
        df["pred"],
        sensitive_features=df["age_band"],
        task="binary",
        positive_label="approved",
    )
    assert report.small_groups == ["missing"] and report.by_group["missing"]["count"] == 1
    assert report.measured_groups == ["18-30", "31-60"] and report.min_group_rows == 30
    dpd, eod = _fairlearn_over(df, ["18-30", "31-60"])
    assert report.demographic_parity_difference == pytest.approx(dpd, abs=1e-12)
    assert report.equalized_odds_difference == pytest.approx(eod, abs=1e-12)
    assert report.equalized_odds_difference < 0.2  # the two real bands are treated alike
    assert report.worst_group["group"] != "missing"
    assert "'missing' (1 row)" in report.note and "left out of the gaps" in report.note
    # Counting every group, the one wrongly approved row decides the gap: what the walk saw.
    everyone = fairness_report(
        df["truth"],
        df["pred"],
        sensitive_features=df["age_band"],
        task="binary",
        positive_label="approved",
        min_group_rows=1,
    )
    assert everyone.equalized_odds_difference > 0.6
    assert everyone.demographic_parity_difference > 0.4
    assert everyone.worst_group["group"] == "missing"


def test_fewer_than_two_large_groups_give_no_gap_and_say_why():
    df = _loans(n_missing=20)
    df.loc[:149, "age_band"] = "all ages"  # 150 + 130 rows in one band, 20 missing
    df.loc[150:279, "age_band"] = "all ages"
    report = fairness_report(
        df["truth"], df["pred"], sensitive_features=df["age_band"], task="binary"
    )
    assert report.demographic_parity_difference is None
    assert report.demographic_parity_ratio is None and report.equalized_odds_difference is None
    assert report.worst_group["group"] is None and not report.comparable
    assert report.note.startswith("Only one group of age_band, 'all ages' (280 rows), has at")
    assert "cannot be measured" in report.note
    again = type(report).from_json(report.to_json())
    assert again == report


def test_the_least_group_size_is_a_setting(monkeypatch):
    df = _loans(n_missing=20)
    args = {
        "sensitive_features": df["age_band"],
        "task": "binary",
        "positive_label": "approved",
    }
    assert fairness_report(df["truth"], df["pred"], **args).small_groups == ["missing"]
    monkeypatch.setenv("LEPTON_MIN_GROUP_ROWS", "20")
    assert min_group_rows() == 20
    report = fairness_report(df["truth"], df["pred"], **args)
    assert report.small_groups == [] and report.min_group_rows == 20 and report.note is None
    for bad in ("abc", "0", "2.5"):
        monkeypatch.setenv("LEPTON_MIN_GROUP_ROWS", bad)
        with pytest.raises(DataError, match="set LEPTON_MIN_GROUP_ROWS to"):
            fairness_report(df["truth"], df["pred"], **args)
    with pytest.raises(ValueError, match="min_group_rows"):
        fairness_report(df["truth"], df["pred"], min_group_rows=0, **args)


def test_auto_ranks_trials_by_the_same_rule():
    from lepton_core.runs._auto import leaderboard_table
    from lepton_core.runs._search import TrialData, run_trial

    rng = np.random.default_rng(3)
    n = 400
    x = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = np.where(x["a"] + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
    valid = slice(300, 400)
    groups = pd.DataFrame(
        {
            "band": ["young"] * 50 + ["old"] * 49 + [None],  # one row without a band
            "region": ["north"] * 90 + ["south"] * 10,  # only one region large enough
        }
    )
    data = TrialData(
        task="binary",
        metric="roc_auc",
        fairness_metric="equalized_odds_difference",
        seed=0,
        x_train=x.iloc[:300],
        y_train=y[:300],
        x_valid=x.iloc[valid].reset_index(drop=True),
        y_valid=y[valid],
        groups=groups,
    )
    outcome = run_trial(data, "logistic", {}, deadline=math.inf)
    model = make_model("logistic", "binary", seed=0).fit(x.iloc[:300], y[:300])
    pred = model.predict(x.iloc[valid].reset_index(drop=True))
    reports = fairness_reports(
        y[valid], pred, sensitive_features=groups, task="binary", positive_label="yes"
    )
    assert outcome["fairness"]["band"] == pytest.approx(reports[0].equalized_odds_difference)
    assert outcome["fairness"]["region"] is None  # the same "not measurable" as the headline
    assert outcome["gap"] == outcome["fairness"]["band"]
    row = {"rank": 1, "model": "logistic", "params": {}, "seconds": 0.1, **outcome}
    table = leaderboard_table([row], metric="roc_auc", fairness_metric="equalized_odds_difference")
    assert "region: too few rows per group" in table["by column"][0]


# ------------------------------------------------------- baseline, intervals, verdict


def test_the_verdict_compares_with_always_guessing_the_most_common_answer():
    # 20 test rows, 14 of them "no": the model is right 15 times, guessing "no" 14 times.
    y = np.array(["no"] * 14 + ["yes"] * 6)
    pred = y.copy()
    pred[[0, 1, 2]] = "yes"
    pred[[14, 15]] = "no"
    report = evaluate(y, pred, task="binary")
    assert report.metrics["accuracy"] == pytest.approx(0.75)
    assert report.baseline.guess == "no" and report.baseline.rule == "most common answer"
    assert report.baseline.metrics["accuracy"] == pytest.approx(0.70)
    assert report.baseline.metrics["f1"] == 0.0  # never says "yes"
    verdict = report.verdict
    assert not verdict.better and verdict.too_small and verdict.level == "too_small"
    assert "The model is right 75% of the time" in verdict.text
    assert "always guessing the most common answer, 'no', is right 70% of the time" in verdict.text
    assert "the model is not clearly better" in verdict.text
    assert verdict.text.startswith("Only 20 rows were kept aside to test the model")
    low, high = report.interval("accuracy")
    assert low < 0.7 < 0.75 < high  # the interval shows how little 20 rows say


def test_random_columns_with_random_labels_are_no_better_than_the_baseline():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(100, 5000)), columns=[f"c{i}" for i in range(5000)])
    y = rng.choice(["no", "yes"], 100)
    model = make_model("lightgbm", "binary", seed=0).fit(X.iloc[:80], y[:80])
    pred, proba = model.predict_scored(X.iloc[80:])
    report = evaluate(y[80:], pred, task="binary", y_proba=proba, classes=list(model.classes_))
    assert report.n_rows == 20 < MIN_TEST_ROWS
    assert report.verdict.level == "too_small" and not report.verdict.better
    assert "too few to judge" in report.verdict.text
    assert "better than that guess" in report.verdict.text or "not clearly" in report.verdict.text
    warnings = check_features(X.iloc[:80], y[:80], task="binary")
    assert [w.kind for w in warnings] == ["many_columns"]
    assert "5,000 columns but there are only 80 rows" in warnings[0].text


def test_a_clearly_useful_model_is_called_better_on_enough_rows():
    rng = np.random.default_rng(1)
    y = rng.choice(["no", "yes"], 400)
    pred = np.where(rng.random(400) < 0.9, y, np.where(y == "yes", "no", "yes"))
    report = evaluate(y, pred, task="binary")
    assert report.verdict.level == "better" and report.verdict.better
    assert report.verdict.difference[0] > 0
    assert report.verdict.text.endswith("— the model is clearly better.")


def test_regression_is_compared_with_always_guessing_the_average():
    rng = np.random.default_rng(2)
    actual = rng.normal(50, 10, 300)
    good = evaluate(actual, actual + rng.normal(0, 2, 300), task="regression")
    assert good.baseline.rule == "average" and good.baseline.guess == pytest.approx(actual.mean())
    assert good.baseline.metrics["r2"] == pytest.approx(0.0, abs=1e-12)
    assert good.baseline.metrics["rmse"] == pytest.approx(actual.std())
    assert good.verdict.level == "better" and "off by" in good.verdict.text
    noise = evaluate(actual, rng.normal(50, 10, 300), task="regression")
    assert noise.verdict.level == "not_better" and "no better than that guess" in noise.verdict.text


def test_intervals_match_the_metrics_and_the_normal_approximation():
    rng = np.random.default_rng(4)
    n = 2000
    p = rng.random(n)
    y = np.where(rng.random(n) < p, "yes", "no")
    report = evaluate(y, np.where(p > 0.5, "yes", "no"), task="binary", y_proba=p)
    assert set(report.intervals) == set(report.metrics)
    for name, (low, high) in report.intervals.items():
        assert low <= report.metrics[name] <= high, name
    acc = report.metrics["accuracy"]
    low, high = report.interval("accuracy")
    assert high - low == pytest.approx(2 * 1.96 * math.sqrt(acc * (1 - acc) / n), rel=0.2)
    # One implementation: the card's intervals are these, from the same rows and seed.
    again = bootstrap_intervals(y, report_pred(p), task="binary", y_proba=p)
    assert again == report.intervals
    assert evaluate(y, report_pred(p), task="binary", n_resamples=0).intervals is None


def report_pred(p: np.ndarray) -> np.ndarray:
    return np.where(p > 0.5, "yes", "no")


def test_report_with_verdict_and_warnings_round_trips_through_json():
    y = np.array(["a", "b", "c", "a"] * 20)
    report = evaluate(y, np.roll(y, 1), task="multiclass")
    report.warnings = check_features(
        pd.DataFrame({"row": np.arange(80), "copy": y}), y, task="multiclass"
    )
    report.features_checked = True
    again = EvalReport.from_json(report.to_json())
    assert again == report
    assert [w.kind for w in again.warnings] == ["id_column", "leakage"]


# ------------------------------------------------------------------------ checks


def test_leaks_and_identifiers_are_found_and_ordinary_columns_are_not(adult_small):
    rng = np.random.default_rng(5)
    n = 300
    y = rng.choice(["approved", "denied"], n, p=[0.6, 0.4])
    X = pd.DataFrame(
        {
            "loan_number": np.arange(100_001, 100_001 + n),  # counts up: an id
            "income": rng.integers(20_000, 150_000, n),  # all different, but a measurement
            "decision_code": np.where(y == "approved", "A", "D"),  # the answer itself
            "score": rng.normal(size=n) + (y == "approved") * 10,  # separates perfectly
            "city": rng.choice(list("abcde"), n),
            "noise": rng.normal(size=n),
        }
    )
    found = {(w.kind, w.column) for w in check_features(X, y, task="binary")}
    assert found == {
        ("id_column", "loan_number"),
        ("leakage", "decision_code"),
        ("leakage", "score"),
    }
    numeric = X["noise"] * 3 + 1
    found = {(w.kind, w.column) for w in check_features(X, numeric, task="regression")}
    assert found == {("id_column", "loan_number"), ("leakage", "noise")}
    features = adult_small.drop(columns=["Y"])
    assert check_features(features, adult_small["Y"], task="binary") == []


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def noise_run(workspace, tmp_path_factory):
    """A model trained on 100 rows of 300 random columns with random labels."""
    from lepton_core.runs import TrainConfig, train

    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(100, 300)), columns=[f"c{i}" for i in range(300)])
    table["label"] = rng.choice(["no", "yes"], 100)
    path = tmp_path_factory.mktemp("noise") / "noise.csv"
    table.to_csv(path, index=False)
    return train(
        TrainConfig(data=str(path), target="label", sensitive=[], explain_rows=5),
        workspace=workspace,
    )


def test_a_run_on_noise_records_its_verdict_and_its_warnings(noise_run, workspace):
    from lepton_core.runs import load_run_reports

    verdict = noise_run.evaluation.verdict
    assert verdict.level == "too_small" and not verdict.better
    # The columns are checked while training, on the training part, and kept with the run.
    assert noise_run.evaluation.features_checked
    assert [w.kind for w in noise_run.evaluation.warnings] == ["many_columns"]
    reports = load_run_reports(workspace, noise_run.run_id, complete=True)
    assert reports.evaluation.verdict == verdict
    assert [w.kind for w in reports.evaluation.warnings] == ["many_columns"]


def test_evaluate_page_says_the_verdict_and_fills_both_halves(noise_run):
    from streamlit.testing.v1 import AppTest

    from app_pages._common import Keys

    root = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(root / "app.py", default_timeout=120)
    at = at.switch_page("app_pages/evaluate.py")
    at.session_state[Keys.RUN_ID] = noise_run.run_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning]
    assert any("too few to judge" in w for w in warnings)
    assert any(re.search(r"300 columns but there are only \d+ rows", w) for w in warnings)
    assert any("likely" in str(m.delta) for m in at.metric if m.label == "Accuracy")
    # No sensitive column: a curve beside the confusion matrix, every figure at full width.
    assert "Every figure" in [s.value for s in at.subheader]
    layouts = [json.loads(c.proto.spec)["layout"] for c in at.get("plotly_chart")]
    titles = [layout.get("title", {}).get("text") for layout in layouts]
    assert titles[:2] == ["Confusion matrix", "Calibration"], titles
    assert not any(column.dataframe for column in at.columns)
    table = at.dataframe[0].value
    assert "likely between" in table.columns
    assert any(str(c).startswith("guessing always '") for c in table.columns)
    # A yes/no model without a sensitive column: mitigation says what is missing.
    assert any("needs a sensitive column" in m.value for m in at.markdown)


def test_a_perfect_score_on_few_test_rows_keeps_a_wide_interval():
    # Every one of 8 test rows right: the bootstrap's percentiles would say "between 100%
    # and 100%"; Wilson's score interval says how little 8 rows prove.
    from lepton_core.evaluation import bootstrap_intervals

    labels = ["normal", "pneumonia"] * 4
    intervals = bootstrap_intervals(labels, labels, task="binary")
    low, high = intervals["accuracy"]
    assert 0.6 < low < 0.7 and high == 1.0
    # Precision, recall, F1: every resample scores 1.000, which says nothing: no interval.
    assert {"precision", "recall", "f1"}.isdisjoint(intervals)
    # On many rows it agrees with the bootstrap's spread: 80 right of 100 → about ±8 points.
    wrong = labels * 10 + ["normal"] * 20
    truth = labels * 10 + ["pneumonia"] * 20
    low, high = bootstrap_intervals(truth, wrong, task="binary")["accuracy"]
    assert low == pytest.approx(0.71, abs=0.01) and high == pytest.approx(0.87, abs=0.01)
