"""Binary fairness figures are counted, not asked of fairlearn group by group: they must be
fairlearn's figures exactly, edge cases included."""

from __future__ import annotations

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
from sklearn.metrics import accuracy_score

from lepton_core.evaluation import fairness_report

METRICS = {
    "count": count,
    "selection_rate": selection_rate,
    "accuracy": accuracy_score,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
}


def _table(seed: int) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    rng = np.random.default_rng(seed)
    n = 1000  # every group above the 30-row minimum
    y_true = rng.integers(0, 2, n)
    y_pred = np.where(rng.random(n) < 0.7, y_true, 1 - y_true)
    group = pd.Series(rng.choice(["a", "b", "c"], n, p=[0.5, 0.4, 0.1]), name="g")
    # Edge groups: no positives at all, no negatives at all, everything predicted positive.
    group[:40] = "no_pos"
    y_true[:40] = 0
    group[40:80] = "no_neg"
    y_true[40:80] = 1
    group[80:120] = "all_pred"
    y_pred[80:120] = 1
    return y_true, y_pred, group


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_figures_are_fairlearns(seed: int) -> None:
    y_true, y_pred, group = _table(seed)
    report = fairness_report(
        y_true, y_pred, sensitive_features=group, task="binary", positive_label=1
    )
    frame = MetricFrame(
        metrics=METRICS, y_true=y_true, y_pred=y_pred, sensitive_features=group.to_numpy()
    )
    for g in report.groups:
        expected = frame.by_group.loc[g].to_dict()
        assert report.by_group[g] == pytest.approx(expected, abs=0, rel=1e-15), g
    assert report.overall == pytest.approx(frame.overall.to_dict(), abs=0, rel=1e-15)
    sf = {"sensitive_features": group}
    assert report.demographic_parity_difference == pytest.approx(
        demographic_parity_difference(y_true, y_pred, **sf), rel=1e-15
    )
    assert report.demographic_parity_ratio == pytest.approx(
        demographic_parity_ratio(y_true, y_pred, **sf), rel=1e-15
    )
    assert report.equalized_odds_difference == pytest.approx(
        equalized_odds_difference(y_true, y_pred, **sf), rel=1e-15
    )


def test_gaps_leave_small_groups_out_as_fairlearn_would_on_the_large_ones() -> None:
    y_true, y_pred, group = _table(3)
    group[:3] = "tiny"  # 3 rows: below the 30-row minimum
    report = fairness_report(
        y_true, y_pred, sensitive_features=group, task="binary", positive_label=1
    )
    assert report.small_groups == ["tiny"]
    keep = (group != "tiny").to_numpy()
    sf = {"sensitive_features": group[keep]}
    assert report.demographic_parity_difference == pytest.approx(
        demographic_parity_difference(y_true[keep], y_pred[keep], **sf), rel=1e-15
    )
    assert report.equalized_odds_difference == pytest.approx(
        equalized_odds_difference(y_true[keep], y_pred[keep], **sf), rel=1e-15
    )


def test_no_ratio_when_no_group_is_ever_selected() -> None:
    y_true = np.array([0, 1] * 40)
    group = pd.Series(["a", "b"] * 40)
    report = fairness_report(
        y_true, np.zeros(80, dtype=int), sensitive_features=group, task="binary", positive_label=1
    )
    assert report.demographic_parity_difference == 0.0
    assert report.demographic_parity_ratio is None
