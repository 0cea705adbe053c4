"""Tests for lepton_core.evaluation._metrics: every figure checked against scikit-learn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression

from lepton_core.core import DataError
from lepton_core.evaluation import (
    MAX_CURVE_POINTS,
    MAX_RESIDUAL_POINTS,
    EvalReport,
    compare_reports,
    evaluate,
    headline,
)

NUMERIC = ["age", "education-num", "hours-per-week", "capital-gain"]

Y_TRUE = np.array(["no", "yes", "yes", "no", "yes", "no", "no", "yes", "yes", "no"])
Y_PRED = np.array(["no", "yes", "no", "no", "yes", "yes", "no", "yes", "no", "no"])
P_YES = np.array([0.1, 0.8, 0.45, 0.3, 0.9, 0.6, 0.2, 0.7, 0.4, 0.35])


@pytest.fixture(scope="module")
def adult_scored(adult_small):
    """Adult-like predictions from a quick logistic regression on numeric columns."""
    X = adult_small[NUMERIC].to_numpy(float)
    model = LogisticRegression(max_iter=1000).fit(X, adult_small["Y"])
    return adult_small["Y"].to_numpy(), model.predict(X), model.predict_proba(X), model.classes_


def test_binary_metrics_equal_sklearn_on_hand_made_arrays():
    report = evaluate(Y_TRUE, Y_PRED, task="binary", y_proba=P_YES)
    pos = Y_TRUE == "yes"
    proba = np.column_stack([1 - P_YES, P_YES])
    assert report.classes == ["no", "yes"]
    assert report.positive_class == "yes"
    assert report.n_rows == 10
    m = report.metrics
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(Y_TRUE, Y_PRED), abs=1e-12)
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(Y_TRUE, Y_PRED))
    assert m["precision"] == pytest.approx(skm.precision_score(Y_TRUE, Y_PRED, pos_label="yes"))
    assert m["recall"] == pytest.approx(skm.recall_score(Y_TRUE, Y_PRED, pos_label="yes"))
    assert m["f1"] == pytest.approx(skm.f1_score(Y_TRUE, Y_PRED, pos_label="yes"))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(pos, P_YES))
    assert m["log_loss"] == pytest.approx(skm.log_loss(pos.astype(int), proba))
    assert report.confusion == skm.confusion_matrix(Y_TRUE, Y_PRED, labels=["no", "yes"]).tolist()
    assert report.confusion == [[4, 1], [2, 3]]
    assert report.per_class["yes"] == pytest.approx(
        {"precision": 0.75, "recall": 0.6, "f1": 2 / 3, "support": 5}
    )
    fpr, tpr, _ = skm.roc_curve(pos, P_YES)
    assert report.roc["yes"] == {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
    precision, recall, _ = skm.precision_recall_curve(pos, P_YES)
    assert report.pr["yes"] == {"precision": precision.tolist(), "recall": recall.tolist()}


def test_calibration_equals_sklearn_with_counts():
    rng = np.random.default_rng(1)
    prob = rng.random(700)
    y = rng.random(700) < prob
    report = evaluate(y.astype(int), (prob > 0.5).astype(int), task="binary", y_proba=prob)
    prob_true, prob_pred = calibration_curve(y, prob, n_bins=10)
    assert report.calibration["prob_true"] == pytest.approx(prob_true.tolist())
    assert report.calibration["prob_pred"] == pytest.approx(prob_pred.tolist())
    assert sum(report.calibration["count"]) == 700
    assert len(report.calibration["count"]) == len(prob_true) == 10


def test_classes_order_follows_the_caller_for_probabilities():
    # A model whose classes_ are not sorted: column 0 is "yes".
    proba = np.column_stack([P_YES, 1 - P_YES])
    report = evaluate(Y_TRUE, Y_PRED, task="binary", y_proba=proba, classes=["yes", "no"])
    assert report.classes == ["yes", "no"]
    assert report.positive_class == "no"
    is_no = (Y_TRUE == "no").astype(int)
    assert report.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(is_no, 1 - P_YES))
    assert report.metrics["log_loss"] == pytest.approx(
        skm.log_loss(Y_TRUE == "yes", np.column_stack([1 - P_YES, P_YES]))
    )
    assert report.metrics["f1"] == pytest.approx(skm.f1_score(Y_TRUE, Y_PRED, pos_label="no"))
    assert report.confusion == skm.confusion_matrix(Y_TRUE, Y_PRED, labels=["yes", "no"]).tolist()


def test_integer_and_float_labels_match_integer_classes():
    y_true = np.array([0.0, 1.0, 1.0, 0.0])
    report = evaluate(y_true, [0, 1, 0, 0], task="binary", classes=[0, 1])
    assert report.classes == ["0", "1"]
    assert report.metrics["accuracy"] == 0.75
    assert report.confusion == [[2, 0], [1, 1]]


def test_integer_labels_sort_as_numbers():
    report = evaluate([2, 10, 2, 10, 1], [2, 10, 10, 10, 1], task="multiclass")
    assert report.classes == ["1", "2", "10"]


def test_multiclass_macro_metrics_and_one_vs_rest_curves():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + 2.0 * np.eye(3)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    names = np.array(["cat", "dog", "eel"])
    y_pred = names[proba.argmax(axis=1)]
    report = evaluate(names[y], y_pred, task="multiclass", y_proba=proba, classes=names)
    m = report.metrics
    assert report.positive_class is None and report.calibration is None
    assert m["f1"] == pytest.approx(skm.f1_score(names[y], y_pred, average="macro"))
    assert m["precision"] == pytest.approx(
        skm.precision_score(names[y], y_pred, average="macro", zero_division=0)
    )
    assert m["recall"] == pytest.approx(skm.recall_score(names[y], y_pred, average="macro"))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    assert set(report.roc) == set(report.pr) == {"cat", "dog", "eel"}
    fpr, tpr, _ = skm.roc_curve(y == 1, proba[:, 1])
    assert len(fpr) <= MAX_CURVE_POINTS  # short enough to be kept whole
    assert report.roc["dog"] == {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
    assert np.asarray(report.confusion).sum() == 300
    assert sum(v["support"] for v in report.per_class.values()) == 300


def test_single_present_class_omits_roc_auc_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = evaluate(
            ["no", "no", "no"],
            ["no", "yes", "no"],
            task="binary",
            y_proba=[0.2, 0.7, 0.1],
            classes=["no", "yes"],
        )
    assert "roc_auc" not in report.metrics
    assert report.roc is None and report.pr is None
    assert report.metrics["accuracy"] == pytest.approx(2 / 3)
    assert "log_loss" in report.metrics
    assert EvalReport.from_json(report.to_json()) == report


def test_curves_are_thinned_keeping_both_ends():
    rng = np.random.default_rng(3)
    prob = rng.random(5000)
    y = (rng.random(5000) < prob).astype(int)
    report = evaluate(y, (prob > 0.5).astype(int), task="binary", y_proba=prob)
    full_fpr, _, _ = skm.roc_curve(y, prob)
    assert len(full_fpr) > MAX_CURVE_POINTS  # otherwise the test checks nothing
    roc, pr = report.roc["1"], report.pr["1"]
    assert 2 < len(roc["fpr"]) <= MAX_CURVE_POINTS and len(roc["fpr"]) == len(roc["tpr"])
    assert len(pr["precision"]) <= MAX_CURVE_POINTS
    assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(roc["fpr"]) >= 0)
    assert pr["recall"][-1] == 0.0 and pr["recall"][0] == 1.0


def test_regression_metrics_and_seeded_residual_sample():
    rng = np.random.default_rng(0)
    actual = rng.normal(50, 10, 5000)
    predicted = actual + rng.normal(0, 3, 5000)
    report = evaluate(actual, predicted, task="regression")
    assert report.metrics["rmse"] == pytest.approx(skm.root_mean_squared_error(actual, predicted))
    assert report.metrics["mae"] == pytest.approx(skm.mean_absolute_error(actual, predicted))
    assert report.metrics["r2"] == pytest.approx(skm.r2_score(actual, predicted))
    assert report.classes is None and report.confusion is None and report.roc is None
    res = report.residuals
    assert len(res["predicted"]) == len(res["actual"]) == MAX_RESIDUAL_POINTS
    assert np.allclose(np.subtract(res["actual"], res["predicted"]), res["residual"])
    assert set(res["actual"]) <= set(actual.tolist())
    assert evaluate(actual, predicted, task="regression").residuals == res  # seeded


def test_adult_like_predictions(adult_scored):
    y, pred, proba, classes = adult_scored
    report = evaluate(y, pred, task="binary", y_proba=proba, classes=classes)
    assert report.classes == ["<=50K", ">50K"] and report.positive_class == ">50K"
    assert report.metrics["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert report.metrics["f1"] == pytest.approx(skm.f1_score(y, pred, pos_label=">50K"))
    assert report.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y == ">50K", proba[:, 1]))
    assert report.metrics["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=classes))
    assert 0.6 < report.metrics["roc_auc"] < 1.0
    assert report.n_rows == 3000


def test_headline_and_compare_reports():
    a = evaluate(Y_TRUE, Y_PRED, task="binary", y_proba=P_YES)
    b = evaluate(Y_TRUE, Y_TRUE, task="binary")
    assert list(headline(a)) == ["accuracy", "roc_auc", "f1"]
    assert list(headline(b)) == ["accuracy", "f1"]
    rows = compare_reports(a, b)
    assert [r["metric"] for r in rows] == [
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
    ]
    assert rows[0] == {"metric": "accuracy", "a": 0.7, "b": 1.0, "difference": pytest.approx(0.3)}
    reg = evaluate([1.0, 2.0, 3.0], [1.5, 2.0, 2.0], task="regression")
    assert list(headline(reg)) == ["rmse", "mae", "r2"]
    assert compare_reports(a, reg) == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"y_true": ["a", "a"], "y_pred": ["a", "a"], "task": "binary"}, DataError, "two classes"),
        (
            {"y_true": ["a", None], "y_pred": ["a", "b"], "task": "binary"},
            DataError,
            "drop the rows",
        ),
        ({"y_true": [1, 2], "y_pred": [1], "task": "regression"}, ValueError, "rows"),
        ({"y_true": ["a", "b"], "y_pred": ["a", "b"], "task": "ranking"}, ValueError, "task"),
        (
            {"y_true": ["a", "b"], "y_pred": ["a", "b"], "task": "binary", "y_proba": [[1, 0]]},
            ValueError,
            "shape",
        ),
        (
            {"y_true": ["a", "c"], "y_pred": ["a", "b"], "task": "binary", "classes": ["a", "b"]},
            ValueError,
            "not among classes",
        ),
        ({"y_true": ["x", "y"], "y_pred": ["x", "y"], "task": "regression"}, DataError, "numeric"),
    ],
)
def test_bad_input_raises(kwargs, error, match):
    with pytest.raises(error, match=match):
        evaluate(**kwargs)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_json_round_trip(task, adult_scored):
    if task == "regression":
        report = evaluate(np.arange(10.0), np.arange(10.0) + 0.5, task="regression")
    elif task == "binary":
        y, pred, proba, classes = adult_scored
        report = evaluate(y, pred, task="binary", y_proba=proba, classes=classes)
    else:
        report = evaluate(["a", "b", "c", "a"], ["a", "b", "b", "a"], task="multiclass")
    again = EvalReport.from_json(report.to_json())
    assert again == report
    assert again.to_json() == report.to_json()
