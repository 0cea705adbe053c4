"""Is the model any good? A trivial baseline on every evaluation, and a verdict in plain words.

The baseline is the guess that needs no model: the most common answer in the test part
for classification, the average for regression. Its figures are measured on the same
test rows and with the same metric definitions as the model's
(:mod:`._intervals`). Taking the most common answer of the test part itself makes the
baseline a little stronger than one taken from the training part, so "clearly better"
errs on the side of caution.

The verdict compares the model with the baseline row by row: the bootstrap interval of
the difference (accuracy for classification, the average error for regression) must lie
above zero for the model to be *clearly better*. A test part under
:data:`MIN_TEST_ROWS` rows is *too small* to judge, whatever its figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lepton_core.core import JsonMixin, Message
from lepton_core.evaluation._intervals import (
    _classification_statistics,
    _regression_statistics,
    _wsum,
    bootstrap,
)

__all__ = ["MIN_TEST_ROWS", "Baseline", "Verdict"]

#: Test parts with fewer rows than this are too small to judge a model by.
MIN_TEST_ROWS = 50


@dataclass
class Baseline(JsonMixin):
    """What always giving the same answer scores on the test rows.

    Attributes
    ----------
    rule : str
        ``"most common answer"`` (classification) or ``"average"`` (regression).
    guess : str or float
        The answer always given: a class label, or the average of the true values.
    metrics : dict of str to float
        The same metrics as the model's, for the constant guess (``roc_auc`` is 0.5).
    """

    rule: str
    guess: Any
    metrics: dict[str, float]


@dataclass
class Verdict(JsonMixin):
    """A plain judgement of one evaluation.

    Attributes
    ----------
    level : str
        ``"better"`` (clearly better than the baseline), ``"not_better"`` or
        ``"too_small"`` (too few test rows to judge; takes precedence).
    better : bool
        Whether the model is clearly better than the baseline: the interval of the
        difference lies above zero.
    too_small : bool
        Whether the test part has fewer than :data:`MIN_TEST_ROWS` rows.
    metric : str
        The figure compared: ``accuracy`` (classification) or ``mae`` (regression).
    value, baseline : float
        The model's and the baseline's figure.
    difference : list of float or None
        ``[low, high]``: the interval of how much better the model is than the baseline
        (accuracy gained, or average error saved); None when it could not be computed.
    text : Message
        The verdict in words for a spreadsheet user (English; a page renders it in the
        reader's language). Reports saved before text was kept as a Message hold a str.
    """

    level: str
    better: bool
    too_small: bool
    metric: str
    value: float
    baseline: float
    difference: list[float] | None
    text: Message


def _number(x: float) -> str:
    return f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def baseline_and_verdict(
    true_s: np.ndarray,
    pred_s: np.ndarray,
    *,
    task: str,
    classes: list[str] | None,
    has_proba: bool,
    metrics: dict[str, float],
    intervals: dict[str, list[float]] | None,
    n_resamples: int,
    seed: int,
) -> tuple[Baseline, Verdict | None]:
    """The baseline's figures, and the verdict (None without resamples to judge by).

    ``true_s``/``pred_s`` are label strings (classification) or floats (regression);
    ``classes`` are the label strings in the model's order.
    """
    n = len(true_s)
    ones = np.ones(n)
    if task == "regression":
        guess = float(np.mean(true_s))
        constant = np.full(n, guess)
        stats = _regression_statistics(true_s, constant)
        base_metrics = {k: fn(ones) for k, fn in stats.items() if k in metrics}
        # Positive: how much smaller the model's error is than the baseline's, row by row.
        saved = np.abs(true_s - constant) - np.abs(true_s - pred_s)
        gain = {"gain": lambda w: _wsum(w, saved) / n}
        baseline = Baseline("average", guess, base_metrics)
        metric = "mae"
    else:
        assert classes is not None
        counts = {c: int(np.sum(true_s == c)) for c in classes}
        guess = max(classes, key=lambda c: counts[c])  # first of the most common, in order
        constant = np.full(n, guess, dtype=object)
        shares = np.array([counts[c] / n for c in classes])
        proba = np.tile(shares, (n, 1)) if has_proba else None
        stats = _classification_statistics(true_s, constant, task, classes, proba)
        base_metrics = {k: fn(ones) for k, fn in stats.items() if k in metrics}
        if "roc_auc" in base_metrics:
            base_metrics["roc_auc"] = 0.5  # a constant score ranks no row above another
        gained = (true_s == pred_s).astype(float) - (true_s == constant).astype(float)
        gain = {"gain": lambda w: _wsum(w, gained) / n}
        baseline = Baseline("most common answer", guess, base_metrics)
        metric = "accuracy"
    if n_resamples < 1 or metric not in metrics:
        return baseline, None
    difference = bootstrap(gain, n, n_resamples=n_resamples, seed=seed).get("gain")
    better = difference is not None and difference[0] > 0
    too_small = n < MIN_TEST_ROWS
    value, base = metrics[metric], base_metrics[metric]
    interval = (intervals or {}).get(metric)
    text = _words(task, n, value, base, guess, interval, better=better, too_small=too_small)
    level = "too_small" if too_small else ("better" if better else "not_better")
    return baseline, Verdict(level, better, too_small, metric, value, base, difference, text)


def _words(
    task: str,
    n: int,
    value: float,
    base: float,
    guess: Any,
    interval: list[float] | None,
    *,
    better: bool,
    too_small: bool,
) -> Message:
    if task == "regression":
        likely: Message | str = (
            Message("verdict.likely_number", low=_number(interval[0]), high=_number(interval[1]))
            if interval
            else ""
        )
        worse = value >= base
    else:
        likely = (
            Message("verdict.likely_percent", low=interval[0], high=interval[1]) if interval else ""
        )
        worse = value <= base
    if better:
        judgement = Message("verdict.clearly_better")
    elif worse:
        judgement = Message("verdict.no_better")
    else:
        judgement = Message("verdict.not_clearly_better")
    if task == "regression":
        text = Message(
            "verdict.regression",
            value=_number(value),
            likely=likely,
            guess=_number(float(guess)),
            base=_number(base),
            judgement=judgement,
        )
    else:
        text = Message(
            "verdict.classification",
            value=value,
            likely=likely,
            guess=str(guess),
            base=base,
            judgement=judgement,
        )
    if too_small:
        return Message("verdict.too_small", rows=n, verdict=text)
    if not better:
        return Message("verdict.not_better", verdict=text)
    return text
