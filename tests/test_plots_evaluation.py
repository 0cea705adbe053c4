"""Tests for the evaluation and fairness figures: built from reports, titled, with traces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from lepton_core.evaluation import evaluate, fairness_report
from lepton_core.plots import (
    calibration_figure,
    compare_figure,
    confusion_matrix_figure,
    fairness_group_figure,
    fairness_rates_figure,
    pr_figure,
    residual_figure,
    roc_figure,
)

RNG = np.random.default_rng(0)
PROB = RNG.random(400)
Y = np.where(RNG.random(400) < PROB, "yes", "no")
PRED = np.where(PROB >= 0.5, "yes", "no")


@pytest.fixture(scope="module")
def binary():
    return evaluate(Y, PRED, task="binary", y_proba=PROB)


@pytest.fixture(scope="module")
def multiclass():
    names = np.array(["a", "b", "c"])
    y = RNG.integers(0, 3, 300)
    proba = RNG.dirichlet(np.ones(3), 300) * 0.5 + np.eye(3)[y] * 0.5
    return evaluate(names[y], names[proba.argmax(1)], task="multiclass", y_proba=proba)


@pytest.fixture(scope="module")
def regression():
    actual = RNG.normal(size=300)
    return evaluate(actual, actual + RNG.normal(scale=0.3, size=300), task="regression")


@pytest.fixture(scope="module")
def fairness():
    groups = pd.Series(["big"] * 250 + ["mid"] * 130 + ["tiny"] * 20, name="group")
    return fairness_report(Y, PRED, sensitive_features=groups, task="binary")


def _check(fig: go.Figure, n_traces: int | None = None) -> None:
    assert isinstance(fig, go.Figure)
    assert len(fig.data) >= 1 if n_traces is None else len(fig.data) == n_traces
    assert fig.layout.title.text
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    assert fig.layout.template.layout.to_plotly_json() == _white_layout()


def _white_layout():
    import plotly.io as pio

    return pio.templates["plotly_white"].layout.to_plotly_json()


def test_confusion_matrix_figure(binary):
    fig = confusion_matrix_figure(binary)
    _check(fig, 1)
    assert fig.data[0].type == "heatmap"
    assert np.asarray(fig.data[0].z).tolist() == binary.confusion
    assert list(fig.data[0].x) == binary.classes


def test_roc_figure_binary_and_multiclass(binary, multiclass):
    fig = roc_figure(binary)
    _check(fig, 2)  # the positive class and the chance line
    assert list(fig.data[0].x) == binary.roc["yes"]["fpr"]
    assert f"{binary.metrics['roc_auc']:.3f}" in fig.layout.title.text
    _check(roc_figure(multiclass), 4)


def test_pr_figure(binary, multiclass):
    fig = pr_figure(binary)
    _check(fig, 2)
    assert list(fig.data[0].y) == binary.pr["yes"]["precision"]
    assert fig.data[1].y[0] == pytest.approx((Y == "yes").mean())  # chance = share of positives
    _check(pr_figure(multiclass), 3)


def test_calibration_figure(binary):
    fig = calibration_figure(binary)
    _check(fig, 2)
    assert list(fig.data[1].x) == binary.calibration["prob_pred"]
    assert list(fig.data[1].y) == binary.calibration["prob_true"]


def test_residual_figure(regression):
    fig = residual_figure(regression)
    _check(fig, 1)
    assert list(fig.data[0].y) == regression.residuals["residual"]


def test_fairness_group_figure_marks_small_groups(fairness):
    fig = fairness_group_figure(fairness)
    _check(fig, 2)
    bars, overall = fig.data
    assert list(bars.x) == ["big", "mid", "tiny"]
    assert list(bars.y) == [fairness.by_group[g]["selection_rate"] for g in bars.x]
    assert list(bars.marker.pattern.shape) == ["", "", "/"]
    assert "small" in bars.text[2] and bars.text[0] == ""
    assert set(overall.y) == {fairness.overall["selection_rate"]}
    acc = fairness_group_figure(fairness, "accuracy")
    assert "Accuracy" in acc.layout.title.text and acc.layout.yaxis.title.text == "Accuracy"
    with pytest.raises(ValueError, match="metric"):
        fairness_group_figure(fairness, "mae")


def test_fairness_rates_figure(fairness):
    fig = fairness_rates_figure(fairness)
    _check(fig, 3)
    assert [t.name for t in fig.data] == [
        "True positive rate",
        "False positive rate",
        "False negative rate",
    ]
    assert list(fig.data[0].y) == [fairness.by_group[g]["tpr"] for g in fairness.groups]
    assert fig.layout.barmode == "group"


def test_fairness_rates_figure_needs_binary():
    groups = pd.Series(["a", "b"] * 50)
    y = np.arange(100.0)
    report = fairness_report(y, y, sensitive_features=groups, task="regression")
    _check(fairness_group_figure(report, "mae"), 2)
    with pytest.raises(ValueError, match="binary"):
        fairness_rates_figure(report)


def test_compare_figure(binary):
    other = evaluate(Y, Y, task="binary")
    fig = compare_figure(binary, other, labels=("LightGBM", "Baseline"))
    _check(fig, 2)
    assert [t.name for t in fig.data] == ["LightGBM", "Baseline"]
    assert len(fig.data[0].x) == 5  # the metrics both reports hold
    assert fig.data[1].y[0] == 1.0


def test_missing_parts_raise_clear_errors(binary, regression):
    without_proba = evaluate(Y, PRED, task="binary")
    with pytest.raises(ValueError, match="probabilities"):
        roc_figure(without_proba)
    with pytest.raises(ValueError, match="probabilities"):
        pr_figure(without_proba)
    with pytest.raises(ValueError, match="binary"):
        calibration_figure(regression)
    with pytest.raises(ValueError, match="regression"):
        residual_figure(binary)
    with pytest.raises(ValueError, match="classification"):
        confusion_matrix_figure(regression)
    with pytest.raises(ValueError, match="share no metric"):
        compare_figure(binary, regression)


def test_tradeoff_axes_stay_within_zero_and_one():
    from lepton_core.evaluation import Tradeoff, TradeoffPoint, tradeoff_figure

    points = [
        TradeoffPoint("a", "m:1 · lightgbm", "lightgbm", 0.99, 0.0, 1.5, True),
        TradeoffPoint("b", "m:2 · logistic", "logistic", 0.80, 0.02, None, False),
    ]
    fig = tradeoff_figure(Tradeoff("ds", "sex", "demographic_parity_difference", points))
    x_low, x_high = fig.layout.xaxis.range
    y_low, y_high = fig.layout.yaxis.range
    assert 0.0 <= x_low < 0.0 + 1e-9 and x_high <= 1.0
    assert 0.0 <= y_low <= 0.8 and y_high == 1.0
    empty = tradeoff_figure(Tradeoff("ds", "sex", "demographic_parity_difference", []))
    assert tuple(empty.layout.yaxis.range) == (0.0, 1.0)


def test_share_figures_keep_their_axis_within_zero_and_one(fairness):
    assert tuple(fairness_group_figure(fairness).layout.yaxis.range) == (0, 1.0)
    assert tuple(fairness_rates_figure(fairness).layout.yaxis.range) == (0, 1.0)
    assert "not in the gaps" in fairness_group_figure(fairness).layout.title.text


def test_training_curves_draw_accuracy_on_its_own_axis():
    # A quick image model logs its validation accuracy beside the losses: a share drawn on
    # the loss axis read as a loss (0.75 "loss" at the top of the chart).
    from lepton_core.plots import training_curves_figure

    history = [
        {"step": 1.0, "train_loss": 0.6, "valid_loss": 0.5, "valid_accuracy": 0.7},
        {"step": 2.0, "train_loss": 0.3, "valid_loss": 0.4, "valid_accuracy": 0.8},
    ]
    fig = training_curves_figure(history)
    axes = {trace.name: trace.yaxis for trace in fig.data}
    assert axes == {"training loss": "y", "validation loss": "y", "validation accuracy": "y2"}
    assert fig.layout.yaxis2.tickformat == ".0%" and fig.layout.yaxis.title.text == "loss"
    only_losses = training_curves_figure(
        [{k: v for k, v in h.items() if "accuracy" not in k} for h in history]
    )
    assert "yaxis2" not in only_losses.layout.to_plotly_json()


def test_training_curves_of_a_few_whole_steps_have_whole_ticks():
    # Four steps of a quick image model were labelled 3, 3.5, 4, ... on the step axis.
    from lepton_core.plots import training_curves_figure

    few = [{"step": float(s), "train_loss": 1 / s} for s in range(3, 7)]
    assert training_curves_figure(few).layout.xaxis.dtick == 1
    many = [{"step": float(s), "train_loss": 1 / s} for s in range(1, 200)]
    assert training_curves_figure(many).layout.xaxis.dtick is None  # Plotly picks
