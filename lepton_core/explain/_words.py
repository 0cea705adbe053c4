"""Plain words for predictions and their explanations, for a reader with a spreadsheet.

Column names as labels ("education-num" -> "Education num"), what a model
predicts ("Predicts whether income is >50K"), the usual range of an input
("Usually between 25 and 54"), a row's outcome (predicted label, its chance,
the true label) and its top reasons as sentences ("Age = 52 pushed the chance of
>50K up by 12 points"). Sentences are :class:`~lepton_core.core.Message` objects: English
as strings, and a page renders them in the reader's language.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lepton_core.core import JsonMixin, Message
from lepton_core.explain._base import Explanation
from lepton_core.explain._probability import to_probability

__all__ = [
    "RowOutcome",
    "friendly_name",
    "key_features",
    "prediction_title",
    "reason_sentences",
    "row_outcome",
    "usual_range",
]

#: Target names that say nothing about what is predicted.
_VAGUE_TARGETS = {"y", "target", "label", "labels", "class", "outcome", "output", "result"}
_YES = {"1", "true", "yes", "y", "t"}


def friendly_name(name: Any) -> str:
    """A column name as a label: hyphens and underscores as spaces, first letter upper-case.

    Names with capitals inside ("HbA1c", "CamelCase") keep them.
    """
    text = re.sub(r"[\s_\-]+", " ", str(name)).strip() or str(name)
    return text[:1].upper() + text[1:]


def _subject(target: str) -> str | None:
    """The target as the subject of a sentence, or None when its name says nothing."""
    name = re.sub(r"[\s_\-]+", " ", str(target)).strip()
    if len(name) <= 1 or name.lower() in _VAGUE_TARGETS:
        return None
    return name


def prediction_title(target: str, task: str, classes: Sequence[Any] | None = None) -> Message:
    """What a model predicts, as a page title.

    Examples
    --------
    >>> str(prediction_title("income", "binary", ["<=50K", ">50K"]))
    'Predicts whether income is >50K'
    >>> str(prediction_title("Y", "binary", ["<=50K", ">50K"]))
    'Predicts whether the answer is >50K or <=50K'
    >>> str(prediction_title("species", "multiclass", ["setosa", "versicolor", "virginica"]))
    'Predicts species: setosa, versicolor or virginica'
    >>> str(prediction_title("hours-per-week", "regression"))
    'Predicts hours per week (a number)'
    """
    subject = _subject(target)
    names = [str(c) for c in classes or []]
    if task == "binary" and len(names) == 2:
        negative, positive = names
        if positive.lower() in _YES and subject:
            return Message("explain.title.yes_or_no", subject=subject)
        if subject:
            return Message("explain.title.whether", subject=subject, positive=positive)
        return Message("explain.title.whether_answer", positive=positive, negative=negative)
    if task != "regression" and names:
        shown = names if len(names) <= 5 else [*names[:4], "…"]
        listed: Message | str = shown[0] if len(shown) > 1 else ""
        for name in shown[1:-1]:
            listed = Message("explain.comma", first=listed, then=name)
        either = Message("explain.or", first=listed, last=shown[-1])
        if subject:
            return Message("explain.title.classes", subject=subject, listed=either)
        return Message("explain.title.answer_classes", listed=either)
    if subject:
        return Message("explain.title.number_of", subject=subject)
    return Message("explain.title.number")


def _number(value: float, integer: bool) -> str:
    if integer or float(value).is_integer():
        return f"{round(value):,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def usual_range(values: Sequence[Any], *, integer: bool = False) -> Message | None:
    """The text "Usually between Q1 and Q3" from the quartiles of ``values``; None without numbers.

    Whole-number columns are shown as whole numbers.
    """
    numbers = np.asarray([v for v in values if _is_number(v)], dtype=float)
    if numbers.size == 0:
        return None
    q1, q3 = np.percentile(numbers, [25, 75])
    if integer:
        q1, q3 = math.floor(q1), math.ceil(q3)
    low, high = _number(q1, integer), _number(q3, integer)
    if low == high:
        most, top = _number(numbers.min(), integer), _number(numbers.max(), integer)
        if most == top:
            return Message("explain.range.always", value=low)
        return Message("explain.range.usually", value=low, low=most, high=top)
    return Message("explain.range.between", low=low, high=high)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def key_features(
    importance: Sequence[tuple[str, float]],
    *,
    at_most: int = 6,
    at_least: int = 3,
    share: float = 0.8,
) -> list[str]:
    """The features that matter: the fewest of the ranked ``importance`` covering ``share``
    of the total, at least ``at_least`` and at most ``at_most`` of them."""
    ranked = [(name, max(float(score), 0.0)) for name, score in importance]
    total = sum(score for _, score in ranked)
    chosen: list[str] = []
    covered = 0.0
    for name, score in ranked:
        if len(chosen) >= at_most or (len(chosen) >= at_least and covered >= share * total):
            break
        chosen.append(name)
        covered += score
    return chosen


@dataclass
class RowOutcome(JsonMixin):
    """What the model said about one explained row, and what was true.

    Attributes
    ----------
    predicted : Any
        The predicted label (classification) or value (regression).
    probability : float or None
        The model's chance of ``predicted`` (classification only).
    actual : Any
        The true label or value, when it is known.
    """

    predicted: Any
    probability: float | None = None
    actual: Any = None

    @property
    def correct(self) -> bool | None:
        """Whether the prediction was right (None when the truth is unknown or a number)."""
        if self.actual is None or self.probability is None:
            return None
        return str(self.actual) == str(self.predicted)


def row_outcome(
    expl: Explanation, row: int, *, predictions: dict[str, Any] | None = None
) -> RowOutcome:
    """The predicted label, its chance and the true label of one explained row.

    Parameters
    ----------
    expl : Explanation
        The explanation (any output space).
    row : int
        Which explained row.
    predictions : dict, optional
        The run's stored test predictions (``y_true``, ``y_pred``, ``classes``,
        ``proba`` for the table that was explained); without them, or when the row
        cannot be matched, the label comes from the explanation's own output.
    """
    expl._check_row(row)
    position = _position(expl, row, predictions)
    if predictions is not None and position is not None:
        predicted = predictions["y_pred"][position]
        actual = predictions["y_true"][position]
        probability = None
        classes = [str(c) for c in predictions.get("classes") or []]
        proba = predictions.get("proba")
        if proba is not None and str(predicted) in classes:
            probability = float(proba[position][classes.index(str(predicted))])
        return RowOutcome(predicted, probability, actual)
    chances = to_probability(expl)
    if chances.output_space != "probability":  # regression
        return RowOutcome(float(expl.model_output[row][0]))
    out = np.asarray(chances.model_output[row], dtype=float)
    if len(expl.outputs) == 1:  # binary: the chance of the positive class
        positive = expl.outputs[0]
        negative = expl.classes[0] if expl.classes and len(expl.classes) == 2 else f"not {positive}"
        p = float(out[0])
        return RowOutcome(positive, p) if p >= 0.5 else RowOutcome(negative, 1.0 - p)
    k = int(np.argmax(out))
    return RowOutcome(expl.outputs[k], float(out[k]))


def _position(expl: Explanation, row: int, predictions: dict[str, Any] | None) -> int | None:
    if predictions is None:
        return None
    n = len(predictions.get("y_pred") or [])
    if expl.positions is not None:
        position = expl.positions[row]
    elif len(expl.values) == n:  # every row was explained, in order
        position = row % n
    else:
        return None
    return position if 0 <= position < n else None


def _value(value: Any) -> str:
    if value is None:
        return Message("explain.missing")
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.4g}"
    return str(value)


def _amount(contribution: float, space: str) -> str | None:
    """The size of a contribution in words; None when it is too small to say."""
    if space == "probability":
        points = abs(contribution) * 100
        shown = f"{points:.0f}" if points >= 9.5 else f"{points:.1f}"
        if shown == "0.0":
            return None
        if shown == "1":
            return Message("explain.point", points=shown)
        return Message("explain.points", points=shown)
    return f"{abs(contribution):.3g}"


def reason_sentences(
    expl: Explanation, row: int, output: int | str = 0, *, top: int = 3
) -> list[Message]:
    """The ``top`` largest contributions of one row as sentences, largest first.

    In probability space: "Age = 52 pushed the chance of >50K up by 12 points"; in
    other spaces the amount is in that space ("... the log-odds of >50K up by 0.53").
    A text row's reasons are its words: '"great" pushed the chance of pos up by 8 points'.
    """
    k = expl.output_index(output)
    label = expl.outputs[k]
    space = expl.output_space
    if space == "probability":
        what = Message("explain.what.chance", label=label)
    elif space == "value":
        what = (
            Message("explain.what.prediction")
            if label == "prediction"
            else Message("explain.what.predicted", label=label)
        )
    else:
        what = Message("explain.what.space", space=space, label=label)
    sentences = []
    for name, value, contribution in expl.row(row, k):
        if len(sentences) >= top:
            break
        if contribution == 0 or (expl.is_text and not str(value)):
            continue
        who = (
            Message("explain.word", word=str(value))
            if expl.is_text
            else Message("explain.column_value", column=friendly_name(name), value=_value(value))
        )
        amount = _amount(contribution, space)
        if amount is None:
            continue
        sentences.append(
            Message("explain.reason.up", who=who, what=what, amount=amount)
            if contribution > 0
            else Message("explain.reason.down", who=who, what=what, amount=amount)
        )
    return sentences
