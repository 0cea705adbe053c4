"""Tests for lepton_core.evaluation: every figure checked against fairlearn computed directly."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression

from lepton_core.core import DataError
from lepton_core.evaluation import (
    AuditReport,
    EvalReport,
    FairnessReport,
    audit_predictions,
    band_numeric,
    fairness_report,
    fairness_reports,
    infer_positive_label,
)

NUMERIC = ["age", "education-num", "hours-per-week", "capital-gain"]
POS = ">50K"


@pytest.fixture(scope="module")
def scored(adult_train, adult_small):
    """The full Adult table with a label prediction and a score from a quick model."""
    model = LogisticRegression(max_iter=1000).fit(
        adult_small[NUMERIC].to_numpy(float), adult_small["Y"]
    )
    X = adult_train[NUMERIC].to_numpy(float)
    return adult_train.assign(pred=model.predict(X), score=model.predict_proba(X)[:, 1])


@pytest.fixture(scope="module")
def scored_small(scored):
    """The first 4,000 scored rows, for tests that need realistic data but not all of it."""
    return scored.iloc[:4000].reset_index(drop=True)


def _assert_equals_fairlearn(report: FairnessReport, y_true, y_pred, sf) -> None:
    """Compare a binary report with fairlearn run on 0/1 labels, to 1e-12.

    The gaps are fairlearn's over the rows of the groups with at least 30 rows.
    """
    y01 = (np.asarray(y_true) == POS).astype(int)
    p01 = (np.asarray(y_pred) == POS).astype(int)
    sf = np.asarray(sf).astype(str)
    large = ~np.isin(sf, report.small_groups)
    gap_args = {"y_true": y01[large], "y_pred": p01[large], "sensitive_features": sf[large]}
    args = {"y_true": y01, "y_pred": p01, "sensitive_features": sf}
    assert report.demographic_parity_difference == pytest.approx(
        demographic_parity_difference(**gap_args), abs=1e-12
    )
    assert report.demographic_parity_ratio == pytest.approx(
        demographic_parity_ratio(**gap_args), abs=1e-12
    )
    assert report.equalized_odds_difference == pytest.approx(
        equalized_odds_difference(**gap_args), abs=1e-12
    )
    frame = MetricFrame(
        metrics={
            "count": count,
            "selection_rate": selection_rate,
            "accuracy": skm.accuracy_score,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "fnr": false_negative_rate,
        },
        **args,
    )
    for group, row in frame.by_group.iterrows():
        assert report.by_group[str(group)] == pytest.approx(row.to_dict(), abs=1e-12)
    assert report.overall == pytest.approx(frame.overall.to_dict(), abs=1e-12)
    assert len(report.by_group) == len(frame.by_group)


def test_sex_equals_fairlearn_on_full_adult(scored):
    report = fairness_report(
        scored["Y"], scored["pred"], sensitive_features=scored["sex"], task="binary"
    )
    assert report.attribute == "sex" and report.positive_class == POS and not report.binned
    assert report.groups == ["Female", "Male"]
    assert sum(report.by_group[g]["count"] for g in report.groups) == len(scored)
    assert report.demographic_parity_difference > 0.01  # the model does treat them differently
    _assert_equals_fairlearn(report, scored["Y"], scored["pred"], scored["sex"])


def test_race_equals_fairlearn(scored_small):
    report = fairness_report(
        scored_small["Y"],
        scored_small["pred"],
        sensitive_features=scored_small["race"],
        task="binary",
    )
    assert report.groups == sorted(scored_small["race"].unique())
    _assert_equals_fairlearn(report, scored_small["Y"], scored_small["pred"], scored_small["race"])
    worst = report.worst_group
    large = [g for g in report.groups if g not in report.small_groups]
    assert report.small_groups == [g for g in report.groups if report.by_group[g]["count"] < 30]
    accuracies = {g: report.by_group[g]["accuracy"] for g in large}
    assert worst["metric"] == "accuracy" and worst["group"] == min(accuracies, key=accuracies.get)
    assert worst["gap"] == pytest.approx(report.overall["accuracy"] - worst["value"])


def test_binned_age_equals_fairlearn(scored_small):
    report = fairness_report(
        scored_small["Y"],
        scored_small["pred"],
        sensitive_features=scored_small["age"],
        task="binary",
    )
    bands = band_numeric(scored_small["age"])
    assert report.binned
    assert report.groups == list(bands.cat.categories)
    assert 3 <= len(report.groups) <= 5
    _assert_equals_fairlearn(
        report, scored_small["Y"], scored_small["pred"], bands.astype(str).to_numpy()
    )


def test_band_numeric_integer_edges_in_order():
    ages = pd.Series([17, 18, 20, 25, 30, 33, 35, 40, 45, 50, 60, 90, None], name="age")
    bands = band_numeric(ages, max_bands=4)
    assert bands.cat.ordered and bands.name == "age"
    labels = [c for c in bands.cat.categories if c != "missing"]
    assert bands.cat.categories[-1] == "missing" and bands.iloc[-1] == "missing"
    assert 2 <= len(labels) <= 4
    edges = [tuple(int(x) for x in label.split("–")) for label in labels]
    assert edges[0][0] == 17 and edges[-1][1] == 90
    for (_, high), (low, _) in itertools.pairwise(edges):
        assert low == high + 1  # contiguous integer bands, no overlap
    for value, band in zip(ages.iloc[:-1], bands.iloc[:-1], strict=True):
        low, high = (int(x) for x in band.split("–"))
        assert low <= value <= high
    # Ordered: bands compare in numeric order, not text order.
    assert list(bands.iloc[:-1]) == sorted(bands.iloc[:-1])


def test_band_numeric_on_adult_age(adult_train):
    bands = band_numeric(adult_train["age"])
    counts = bands.value_counts(sort=False)
    assert len(counts) == 5
    assert counts.min() > 0.1 * len(bands)  # quantile bands are of similar size
    assert bands.cat.categories[0].startswith("17–")
    assert bands.cat.categories[-1].endswith("–90")


def test_band_numeric_floats_and_constant():
    values = pd.Series(np.linspace(0.0, 1.0, 101))
    bands = band_numeric(values, max_bands=3)
    assert len(bands.cat.categories) == 3
    assert bands.cat.categories[0].startswith("0–") and bands.cat.categories[-1].endswith("–1")
    assert list(band_numeric(pd.Series([7, 7, 7])).unique()) == ["7"]


def test_missing_values_form_their_own_group():
    sf = pd.Series(["a", "b", None, "a", "b", None], name="g")
    y = np.array([1, 0, 1, 0, 1, 1])
    report = fairness_report(y, y, sensitive_features=sf, task="binary")
    assert report.groups == ["a", "b", "missing"]
    assert report.by_group["missing"]["count"] == 2
    assert report.small_groups == ["a", "b", "missing"]


def test_single_group_is_a_data_error():
    sf = pd.Series(["x"] * 4, name="country")
    with pytest.raises(DataError, match="The column 'country' has a single group, so fairness"):
        fairness_report([0, 1, 0, 1], [0, 1, 1, 1], sensitive_features=sf, task="binary")


def test_worst_group_ignores_small_groups():
    rng = np.random.default_rng(0)
    sf = pd.Series(["big"] * 200 + ["other"] * 100 + ["tiny"] * 5)
    y = rng.integers(0, 2, 305)
    pred = y.copy()
    pred[:40] = 1 - pred[:40]  # "big" is 80% right
    pred[-5:] = 1 - pred[-5:]  # "tiny" is always wrong
    report = fairness_report(y, pred, sensitive_features=sf, task="binary")
    assert report.small_groups == ["tiny"]
    assert report.worst_group["group"] == "big"
    assert report.worst_group["value"] == pytest.approx(0.8)


def test_multiclass_shape(adult_small):
    y = adult_small["race"].to_numpy()
    pred = np.where(np.arange(len(y)) % 7 == 0, "White", y)
    report = fairness_report(y, pred, sensitive_features=adult_small["sex"], task="multiclass")
    assert report.positive_class is None
    assert report.demographic_parity_difference is None
    assert report.demographic_parity_ratio is None and report.equalized_odds_difference is None
    for row in [report.overall, *report.by_group.values()]:
        assert set(row) == {"count", "accuracy"}
    female = (adult_small["sex"] == "Female").to_numpy()
    assert report.by_group["Female"]["accuracy"] == pytest.approx(
        skm.accuracy_score(y[female], pred[female]), abs=1e-12
    )
    assert report.worst_group["metric"] == "accuracy"


def test_regression_shape(adult_small):
    y = adult_small["hours-per-week"].to_numpy(float)
    pred = y + np.where(adult_small["sex"] == "Male", 5.0, 1.0)
    report = fairness_report(y, pred, sensitive_features=adult_small["sex"], task="regression")
    assert report.by_group["Male"] == pytest.approx(
        {
            "count": (adult_small["sex"] == "Male").sum(),
            "mae": 5.0,
            "mean_prediction": pred[adult_small["sex"] == "Male"].mean(),
        }
    )
    assert report.overall["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert report.demographic_parity_difference is None and report.positive_class is None
    assert report.worst_group["metric"] == "mae" and report.worst_group["group"] == "Male"
    assert report.worst_group["gap"] == pytest.approx(5.0 - report.overall["mae"])


def test_given_positive_label_and_summary(adult_small):
    y = adult_small["Y"]
    report = fairness_report(
        y, y, sensitive_features=adult_small["sex"], task="binary", positive_label="<=50K"
    )
    assert report.positive_class == "<=50K"
    assert report.overall["selection_rate"] == pytest.approx((y == "<=50K").mean())
    assert report.overall["accuracy"] == 1.0 and report.equalized_odds_difference == 0.0
    summary = report.summary()
    assert summary["demographic_parity_difference"] == report.demographic_parity_difference
    assert summary["worst_group"] == report.worst_group["group"]
    assert set(summary) >= {"demographic_parity_ratio", "equalized_odds_difference"}
    with pytest.raises(DataError, match="positive label"):
        fairness_report(
            y, y, sensitive_features=adult_small["sex"], task="binary", positive_label="rich"
        )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["<=50K", ">50K"], ">50K"),
        ([0, 1, 1], 1),
        ([1, 2], 2),
        (["1", "0"], "1"),
        (["Yes", "no"], "Yes"),
        (["True", "False"], "True"),
        ([False, True], True),
        (["bad", "good"], "good"),
    ],
)
def test_infer_positive_label(values, expected):
    assert infer_positive_label(values) == expected


def test_fairness_reports_one_per_column(scored_small):
    reports = fairness_reports(
        scored_small["Y"],
        scored_small["pred"],
        sensitive_features=scored_small[["sex", "race", "age"]],
        task="binary",
    )
    assert [r.attribute for r in reports] == ["sex", "race", "age"]
    assert [r.binned for r in reports] == [False, False, True]


def test_audit_with_label_column(scored_small):
    report = audit_predictions(scored_small, label="Y", prediction="pred", sensitive=["sex", "age"])
    assert report.threshold is None and report.n_rows == len(scored_small)
    assert report.evaluation.positive_class == POS
    assert report.evaluation.metrics["accuracy"] == pytest.approx(
        (scored_small["Y"] == scored_small["pred"]).mean(), abs=1e-12
    )
    assert "roc_auc" not in report.evaluation.metrics
    assert [f.attribute for f in report.fairness] == ["sex", "age"]
    _assert_equals_fairlearn(
        report.fairness[0], scored_small["Y"], scored_small["pred"], scored_small["sex"]
    )


def test_audit_with_score_column_defaults_threshold(scored_small):
    report = audit_predictions(scored_small, label="Y", prediction="score", sensitive=["sex"])
    assert report.threshold == 0.5
    predicted = np.where(scored_small["score"] >= 0.5, POS, "<=50K")
    assert report.evaluation.metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(scored_small["Y"] == POS, scored_small["score"])
    )
    assert report.evaluation.roc is not None and report.evaluation.calibration is not None
    _assert_equals_fairlearn(report.fairness[0], scored_small["Y"], predicted, scored_small["sex"])


def test_audit_with_score_and_threshold_drops_missing_rows(adult_small):
    df = adult_small.assign(score=np.linspace(0, 1, len(adult_small)))
    df.loc[:9, "Y"] = None
    report = audit_predictions(df, label="Y", prediction="score", sensitive=["race"], threshold=0.3)
    assert report.threshold == 0.3 and report.n_rows == len(df) - 10
    kept = df.iloc[10:]
    expected = (kept["score"] >= 0.3).mean()
    assert report.fairness[0].overall["selection_rate"] == pytest.approx(expected)


def test_audit_integer_labels_and_text_predictions():
    df = pd.DataFrame(
        {
            "outcome": [0, 1, 1, 0, 1, 0],
            "guess": ["0", "1", "0", "0", "1", "1"],
            "group": ["a", "a", "a", "b", "b", "b"],
        }
    )
    report = audit_predictions(df, label="outcome", prediction="guess", sensitive=["group"])
    assert report.evaluation.positive_class == "1"
    assert report.evaluation.metrics["accuracy"] == pytest.approx(4 / 6)
    assert report.fairness[0].by_group["b"]["selection_rate"] == pytest.approx(2 / 3)


def test_audit_regression_label():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"price": rng.normal(100, 20, 200), "group": ["a", "b"] * 100})
    df["estimate"] = df["price"] + 2.0
    report = audit_predictions(df, label="price", prediction="estimate", sensitive=["group"])
    assert report.evaluation.task == "regression"
    assert report.evaluation.metrics["mae"] == pytest.approx(2.0)
    assert report.fairness[0].by_group["a"]["mae"] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"label": "Y", "prediction": "nope", "sensitive": ["sex", "colour"]},
            "The table has no column 'nope', 'colour'; pick from its columns",
        ),
        (
            {"label": "empty", "prediction": "pred", "sensitive": ["sex"]},
            "The label column 'empty' has no values; pick the column that holds the true outcomes.",
        ),
        (
            {"label": "Y", "prediction": "sex", "sensitive": ["race"]},
            (
                "The prediction column 'sex' holds values the label column never has "
                "(e.g. 'Male'); pick the column with predicted labels or give a threshold "
                "for scores"
            ),
        ),
        (
            {"label": "Y", "prediction": "pred", "sensitive": []},
            "No sensitive attribute was given, so fairness cannot be checked",
        ),
        (
            {"label": "Y", "prediction": "pred", "sensitive": ["sex"], "threshold": 0.4},
            "holds labels, not scores, so a threshold does not apply",
        ),
        (
            {"label": "race", "prediction": "score", "sensitive": ["sex"]},
            "The prediction column 'score' holds scores but the label column 'race' has 5",
        ),
        (
            {"label": "Y", "prediction": "score", "sensitive": ["sex"], "positive": "rich"},
            "The positive label 'rich' is not among the labels",
        ),
    ],
)
def test_audit_bad_input_messages(scored, kwargs, message):
    df = scored.iloc[:500].assign(empty=None)
    with pytest.raises(DataError) as info:
        audit_predictions(df, **kwargs)
    assert message in str(info.value)
    text = str(info.value)
    assert text.endswith(".") and ". " not in text.replace("e.g. ", "")  # one sentence


def test_audit_single_valued_label_and_bad_threshold(scored):
    df = scored.iloc[:200].assign(Y="<=50K")
    with pytest.raises(DataError, match="holds a single value"):
        audit_predictions(df, label="Y", prediction="pred", sensitive=["sex"])
    with pytest.raises(ValueError, match="threshold"):
        audit_predictions(scored, label="Y", prediction="score", sensitive=["sex"], threshold=1.5)


def test_json_round_trips(scored, adult_small):
    audit = audit_predictions(
        scored.iloc[:2000], label="Y", prediction="score", sensitive=["sex", "race", "age"]
    )
    again = AuditReport.from_json(audit.to_json())
    assert again == audit
    assert isinstance(again.evaluation, EvalReport)
    assert all(isinstance(f, FairnessReport) for f in again.fairness)
    y = adult_small["hours-per-week"].to_numpy(float)
    for report in [
        *audit.fairness,
        fairness_report(y, y + 1, sensitive_features=adult_small["race"], task="regression"),
        fairness_report(
            adult_small["race"],
            adult_small["race"],
            sensitive_features=adult_small["sex"],
            task="multiclass",
        ),
    ]:
        assert FairnessReport.from_json(report.to_json()) == report
