"""Model cards from a run's stored results, with bootstrap confidence intervals."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from lepton_core.core import WorkspaceError
from lepton_core.evaluation import fairness_report
from lepton_core.runs import model_card, set_intended_use
from lepton_core.runs._modelcard import _fairness_rows


@pytest.fixture(scope="module")
def card(adult_run, workspace):
    return model_card(workspace, adult_run.model_name, adult_run.model_version)


def test_metrics_are_the_runs_with_bootstrap_intervals(card, adult_run):
    by_name = {m.name: m for m in card.metrics}
    assert set(by_name) == {"accuracy", "balanced_accuracy", "f1", "roc_auc"}
    assert card.n_resamples == 200
    for name, m in by_name.items():
        assert m.value == pytest.approx(adult_run.evaluation.metrics[name])
        assert m.low < m.value < m.high, name
    # The accuracy interval is about as wide as the normal approximation says.
    acc, n = by_name["accuracy"], adult_run.n_test
    expected = 2 * 1.96 * math.sqrt(acc.value * (1 - acc.value) / n)
    assert acc.high - acc.low == pytest.approx(expected, rel=0.3)


def test_data_fairness_features_privacy_and_limitations(card, adult_run):
    assert card.dataset["n_test"] == str(adult_run.n_test)
    assert len(card.dataset["fingerprint"]) == 64
    assert card.family == "lightgbm" and card.params["learning_rate"] == "0.1"
    sex = next(f for f in card.fairness if f["attribute"] == "sex")
    report = next(r for r in adult_run.fairness if r.attribute == "sex")
    assert sex["groups"]["Female"]["accuracy"] == report.by_group["Female"]["accuracy"]
    assert card.top_features[0][0] == adult_run.shap_summary["importance"][">50K"][0][0]
    assert card.privacy[0].startswith("None recorded")
    assert any("fares worst" in text for text in card.limitations)


def test_markdown_and_intended_use(adult_run, workspace):
    name, version = adult_run.model_name, adult_run.model_version
    set_intended_use(workspace, name, version, "Screening demo for a fairness workshop.")
    text = model_card(workspace, name, version, n_resamples=20).to_markdown()
    assert text.startswith(f"# Model card: {name} version {version}")
    for section in ("Intended use", "Data", "Performance", "Fairness by group", "Privacy"):
        assert f"## {section}" in text
    assert "Screening demo for a fairness workshop." in text
    assert "| Female |" in text and "95% confidence intervals" in text


def test_runs_without_stored_predictions_get_point_figures(adult_run, workspace, monkeypatch):
    real = workspace.load_report

    def no_predictions(run_id, name):
        if name == "test_predictions":
            raise WorkspaceError("no report")
        return real(run_id, name)

    monkeypatch.setattr(workspace, "load_report", no_predictions)
    card = model_card(workspace, adult_run.model_name, adult_run.model_version)
    assert card.n_resamples == 0
    assert all(m.low is None for m in card.metrics)
    assert "no test predictions" in card.to_markdown()


def test_card_says_the_verdict_baseline_and_lists_small_groups_apart(card, adult_run):
    baseline = adult_run.evaluation.baseline
    assert card.verdict == adult_run.evaluation.verdict.text
    assert "the model is clearly better" in card.verdict
    assert card.baseline_guess == f"'{baseline.guess}'"
    accuracy = next(m for m in card.metrics if m.name == "accuracy")
    assert accuracy.baseline == pytest.approx(baseline.metrics["accuracy"])
    # The card's intervals are the evaluation's: one bootstrap, same rows, same seed.
    assert [accuracy.low, accuracy.high] == adult_run.evaluation.intervals["accuracy"]
    text = card.to_markdown()
    assert f"**Verdict.** {card.verdict}" in text
    assert f"| always guessing '{baseline.guess}' |" in text
    # A group of one row is listed apart and left out of the gaps.
    groups = pd.Series(["a"] * 60 + ["b"] * 59 + ["c"], name="band")
    y = np.array(["no", "yes"] * 60)
    report = fairness_report(y, np.roll(y, 1), sensitive_features=groups, task="binary")
    small = dataclasses.replace(card, fairness=[_fairness_rows(report)])
    section = small.to_markdown().split("### band", 1)[1].split("## Most", 1)[0]
    assert "between the groups with at least 30 test rows" in section
    measured, apart = section.split("Too small to judge (fewer than 30 test rows", 1)
    assert "| a |" in measured and "| c |" not in measured and "| c | 1 |" in apart
