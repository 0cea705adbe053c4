"""Counterfactuals: the smallest changes to one record that turn the model's answer.

DiCE's random search (``dice-ml``) proposes changed records; Lepton then makes each
one smaller (changes the search did not need are undone, numbers moved back as far as
the answer allows), scores it with the model again, keeps it only if the answer is the
one wanted and every constraint holds, and says it in one sentence.

DiCE sees every number in *steps from the record's value* (whole numbers between the
lowest and highest step the constraints allow), so ranges, steps and "only up" hold by
construction; categories are text, and a missing value stays missing (its feature is
left as it is). The model is read through a ``predict_proba`` wrapper whose second
column is above one half exactly when the model picks the wanted outcome.

dice-ml is imported inside :func:`counterfactuals` (it loads in about a second).
"""

from __future__ import annotations

import contextlib
import io
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import DataError, JsonMixin, Message, ModelError, is_classification
from lepton_core.data import InputSchema
from lepton_core.models import LeptonModel
from lepton_core.recourse._constraints import RecourseConstraints

__all__ = [
    "MAX_COUNTERFACTUALS",
    "Change",
    "Counterfactual",
    "CounterfactualSet",
    "check_model",
    "counterfactuals",
    "desired_label",
    "violations",
]

#: The most counterfactuals returned for one record.
MAX_COUNTERFACTUALS = 10
_MISSING = "\x00missing"  # a category DiCE can carry for a missing value
_OUTCOME = "\x00outcome"
_SAMPLES = 400  # records DiCE tries per number of changed features
_MAX_STEPS = 10**9
_GRID = 8  # values tried between a number's old and new value when moving it back


@dataclass
class Change(JsonMixin):
    """One feature's old and new value."""

    feature: str
    before: Any
    after: Any


@dataclass
class Counterfactual(JsonMixin):
    """A changed record that the model, scored again, answers as wanted.

    ``distance`` is the normalised cost: each changed number counts the share of its
    training range it moved, each changed category counts 1.
    """

    record: dict[str, Any]
    changes: list[Change]
    label: Any
    probability: float
    distance: float
    sentence: Message

    @property
    def n_changes(self) -> int:
        return len(self.changes)


@dataclass
class CounterfactualSet(JsonMixin):
    """Counterfactuals for one record, cheapest first, and why there are none if so."""

    record: dict[str, Any]
    label: Any
    probability: float
    desired: Any
    counterfactuals: list[Counterfactual] = field(default_factory=list)
    note: Message | None = None
    seconds: float = 0.0


def desired_label(model: LeptonModel, constraints: RecourseConstraints) -> Any:
    """The class the person wants, as the model names it (checked to be one of its classes)."""
    classes = list(model.classes_)
    if constraints.desired is None:
        from lepton_core.evaluation import infer_positive_label

        return infer_positive_label(np.asarray(classes))
    by_text = {str(c): c for c in classes}
    if str(constraints.desired) not in by_text:
        raise DataError(
            Message(
                "recourse.unknown_outcome",
                outcome=str(constraints.desired),
                outcomes=", ".join(by_text),
            )
        )
    return by_text[str(constraints.desired)]


def check_model(model: LeptonModel) -> None:
    """Refuse models counterfactuals cannot be searched for, in one sentence."""
    if not is_classification(model.task):
        raise ModelError(Message("recourse.regression"))
    if model.reads != "table":
        raise ModelError(Message("recourse.text_model"))


class _Space:
    """One record's search space: DiCE's view of each feature and the way back."""

    def __init__(
        self, schema: InputSchema, row: pd.DataFrame, constraints: RecourseConstraints
    ) -> None:
        self.schema, self.row, self.constraints = schema, row, constraints
        self.before = row.iloc[0].to_dict()
        self.steps: dict[str, float] = {}
        self.width: dict[str, float] = {}
        self.features: dict[str, list[Any]] = {}  # DiCE's features: [low, high] or categories
        self.permitted: dict[str, list[Any]] = {}
        self.mutable: list[str] = []
        fixed = set(constraints.immutable)
        for f in schema.fields:
            value = self.before[f.name]
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            if f.kind == "numeric":
                lo_t = f.minimum if f.minimum is not None else 0.0
                hi_t = f.maximum if f.maximum is not None else lo_t
                self.width[f.name] = (hi_t - lo_t) or 1.0
                step = constraints.steps.get(f.name) or (1.0 if f.integer else _step(hi_t - lo_t))
                self.steps[f.name] = step
                lo, hi = constraints.ranges.get(f.name, [lo_t, hi_t])
                if missing or f.name in fixed:
                    self.features[f.name] = [0, 0]
                    continue
                k_lo = math.ceil((lo - value) / step - 1e-9)
                k_hi = math.floor((hi - value) / step + 1e-9)
                if f.name in constraints.only_up:
                    k_lo = max(k_lo, 0)
                # A value far outside the range would ask DiCE for steps past int64.
                k_lo, k_hi = max(k_lo, -_MAX_STEPS), min(k_hi, _MAX_STEPS)
                # DiCE's range must hold the record itself; the search then keeps inside.
                self.features[f.name] = [min(k_lo, 0), max(k_hi, 0)]
                if k_lo <= k_hi and (k_lo, k_hi) != (0, 0):
                    self.permitted[f.name] = [k_lo, k_hi]
                    self.mutable.append(f.name)
            else:
                shown = _MISSING if missing else str(value)
                levels = list(dict.fromkeys([*(f.choices or []), shown]))
                self.features[f.name] = levels
                free = not missing and f.name not in fixed and len(f.choices or []) > 1
                if f.kind == "categorical" and free:  # dates, flags and text stay
                    self.mutable.append(f.name)
        self.origin = self.query().iloc[0].to_dict()

    def query(self) -> pd.DataFrame:
        """The record as DiCE sees it."""
        out = {}
        for f in self.schema.fields:
            if f.kind == "numeric":
                out[f.name] = [0]
            else:
                value = self.before[f.name]
                missing = value is None or (isinstance(value, float) and math.isnan(value))
                out[f.name] = [_MISSING if missing else str(value)]
        return pd.DataFrame(out)

    def decode(self, frame: pd.DataFrame) -> pd.DataFrame:
        """DiCE's records as model input (numbers back from steps, missing values back)."""
        out = {}
        for f in self.schema.fields:
            col = frame[f.name]
            if f.kind == "numeric":
                k = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
                out[f.name] = self.before[f.name] + np.round(k) * self.steps[f.name]
            elif f.name in self.mutable:
                values = col.astype(str).to_numpy(dtype=object)
                values[values == _MISSING] = np.nan
                out[f.name] = values
            else:  # never changed: the record's own value, as the model read it
                out[f.name] = self.row[f.name].repeat(len(frame)).to_numpy()
        return pd.DataFrame(out)

    def cost(self, after: dict[str, Any]) -> tuple[float, list[str]]:
        """The normalised distance of a DiCE record from the record, and what changed."""
        total, changed = 0.0, []
        for f in self.schema.fields:
            if f.kind == "numeric":
                k = after[f.name]
                if k:
                    changed.append(f.name)
                    total += abs(k) * self.steps[f.name] / self.width[f.name]
            elif str(after[f.name]) != self.origin[f.name]:
                changed.append(f.name)
                total += 1.0
        return total, changed


class _Wrapper:
    """The model as DiCE reads it: column 1 is above 0.5 exactly when it answers ``desired``."""

    def __init__(self, model: LeptonModel, space: _Space, desired_index: int) -> None:
        self.model, self.space, self.index = model, space, desired_index

    def scores(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        proba = self.model.predict_proba(self.space.decode(frame))
        wanted = proba[:, self.index]
        others = np.delete(proba, self.index, axis=1).max(axis=1)
        return (wanted - others + 1) / 2, wanted

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        score = self.scores(frame)[0]
        return np.column_stack([1 - score, score])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.scores(frame)[0] > 0.5).astype(int)


def counterfactuals(
    model: LeptonModel,
    schema: InputSchema,
    record: dict[str, Any] | pd.DataFrame,
    constraints: RecourseConstraints | None = None,
    *,
    count: int = 3,
    seconds: float = 10.0,
    seed: int = 0,
) -> CounterfactualSet:
    """Up to ``count`` diverse, small changes to ``record`` that give the wanted answer.

    Parameters
    ----------
    model : LeptonModel
        A fitted classifier reading a table.
    schema : InputSchema
        The model's input schema (ranges and categories seen in training).
    record : dict or one-row DataFrame
    constraints : RecourseConstraints, optional
        What may change; default: everything but nothing sensitive is known, so all.
    count : int
        At most this many (capped at :data:`MAX_COUNTERFACTUALS`), cheapest first, each
        changing a different set of features where possible.
    seconds : float
        A time budget: when spent, the counterfactuals found so far are checked and
        returned.

    Raises
    ------
    ModelError
        For a regression or text model.
    DataError
        For a record with a missing column, a value the model cannot read, or
        constraints naming a feature the model does not read.
    """
    start = time.perf_counter()
    check_model(model)
    constraints = constraints or RecourseConstraints()
    constraints.check(schema)
    count = max(1, min(int(count), MAX_COUNTERFACTUALS))
    frame = pd.DataFrame([record]) if isinstance(record, dict) else record
    if len(frame) != 1:
        raise DataError(Message("recourse.one_record", rows=len(frame)))
    row = schema.prepare(frame).reset_index(drop=True)
    desired = desired_label(model, constraints)
    index = list(model.classes_).index(desired)
    label, proba = model.predict_scored(row)
    result = CounterfactualSet(
        record=_plain(row.iloc[0].to_dict()),
        label=_plain(label[0]),
        probability=float(proba[0, index]),
        desired=_plain(desired),
    )
    if label[0] == desired:
        result.note = Message("recourse.already", outcome=str(desired))
        return result
    space = _Space(schema, row, constraints)
    if not space.mutable:
        result.note = Message("recourse.nothing_mutable")
        return result
    wrapper = _Wrapper(model, space, index)
    found = _dice(space, wrapper, count * 4, seed)
    found = _smaller(found, space, wrapper, deadline=start + seconds)
    result.counterfactuals = _pick(_checked(found, space, wrapper, desired, model), count)
    if not result.counterfactuals:
        result.note = Message("recourse.none_found")
    result.seconds = time.perf_counter() - start
    return result


def _dice(space: _Space, wrapper: _Wrapper, total: int, seed: int) -> list[dict[str, Any]]:
    """DiCE's proposals, as DiCE records (dicts)."""
    import dice_ml
    from dice_ml.explainer_interfaces.dice_random import DiceRandom

    data = dice_ml.Data(features=space.features, outcome_name=_OUTCOME)
    explainer = DiceRandom(data, dice_ml.Model(model=wrapper, backend="sklearn"))
    # DiCE prints when it finds fewer than asked (Lepton says so itself), and its pandas
    # calls warn of pandas 4 changes that are DiCE's to make.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = explainer._generate_counterfactuals(
            space.query(),
            total_CFs=total,
            desired_class=1,
            permitted_range=space.permitted,
            features_to_vary=space.mutable,
            stopping_threshold=0.5,
            posthoc_sparsity_param=None,
            sample_size=_SAMPLES,
            random_seed=seed,
        )
    frame = found.final_cfs_df
    if frame is None or not len(frame):
        return []
    return frame[list(space.features)].to_dict("records")


def _flips(space: _Space, wrapper: _Wrapper, records: list[dict[str, Any]]) -> np.ndarray:
    if not records:
        return np.zeros(0, dtype=bool)
    return wrapper.predict(pd.DataFrame(records, columns=list(space.features))) == 1


def _smaller(
    found: list[dict[str, Any]], space: _Space, wrapper: _Wrapper, *, deadline: float
) -> list[dict[str, Any]]:
    """Undo the changes each proposal does not need, then move numbers back where possible.

    Each round scores every candidate's variants in one call, so the model is asked a
    few times per record, not once per variant.
    """
    origin = space.origin
    live = [{k: (round(float(v)) if k in space.steps else v) for k, v in r.items()} for r in found]
    while time.perf_counter() < deadline:  # undo one change per candidate per round
        variants, owners = [], []
        for i, cand in enumerate(live):
            for name in space.cost(cand)[1]:
                variants.append(cand | {name: origin[name]})
                owners.append(i)
        ok = _flips(space, wrapper, variants)
        best: dict[int, dict[str, Any]] = {}
        for i, variant, flips in zip(owners, variants, ok, strict=True):
            if flips and (i not in best or space.cost(variant)[0] < space.cost(best[i])[0]):
                best[i] = variant
        if not best:
            break
        for i, variant in best.items():
            live[i] = variant
    # Then each number, one feature per round: values between the last one known not to
    # turn the answer (``bad``, the record's own at first) and the current one are tried,
    # twice, so the change ends within about 2 % of the least that works.
    for position in range(len(space.mutable)):
        bad: dict[int, int] = {}
        for _ in range(2):
            if time.perf_counter() >= deadline:
                return live
            variants, owners = [], []
            for i, cand in enumerate(live):
                numbers = [n for n in space.cost(cand)[1] if n in space.steps]
                if position < len(numbers):
                    name, k = numbers[position], cand[numbers[position]]
                    grid = {int(v) for v in np.round(np.linspace(bad.get(i, 0), k, _GRID))}
                    for j in sorted(grid - {bad.get(i, 0), k}, key=abs):
                        variants.append(cand | {name: j})
                        owners.append((i, name, j))
            if not variants:
                break
            for (i, name, j), variant, flips in zip(
                owners, variants, _flips(space, wrapper, variants), strict=True
            ):
                if flips and space.cost(variant)[0] < space.cost(live[i])[0]:
                    live[i] = variant
                elif not flips and abs(j) < abs(live[i][name]):
                    bad[i] = j if abs(j) > abs(bad.get(i, 0)) else bad.get(i, 0)
    return live


def _checked(
    found: list[dict[str, Any]],
    space: _Space,
    wrapper: _Wrapper,
    desired: Any,
    model: LeptonModel,
) -> list[Counterfactual]:
    """Score each proposal with the model itself; keep those that answer ``desired`` and
    keep every constraint."""
    if not found:
        return []
    frame = space.decode(pd.DataFrame(found, columns=list(space.features)))
    labels, proba = model.predict_scored(frame)
    index = list(model.classes_).index(desired)
    out, seen = [], set()
    for i, after in enumerate(frame.to_dict("records")):
        distance, changed = space.cost(found[i])
        key = tuple(sorted((n, str(after[n])) for n in changed))
        if labels[i] != desired or not changed or key in seen:
            continue
        if violations(space.before, after, space.constraints, space.schema, space.steps):
            continue
        seen.add(key)
        changes = [Change(n, _plain(space.before[n]), _plain(after[n])) for n in changed]
        out.append(
            Counterfactual(
                record=_plain(after),
                changes=changes,
                label=_plain(labels[i]),
                probability=float(proba[i, index]),
                distance=float(distance),
                sentence=sentence(changes, desired, float(proba[i, index])),
            )
        )
    return sorted(out, key=lambda c: (c.distance, c.n_changes))


def _pick(found: list[Counterfactual], count: int) -> list[Counterfactual]:
    """The cheapest, then each next cheapest that changes a different set of features (a
    costlier way of changing the same features says nothing new, so it is left out)."""
    picked: list[Counterfactual] = []
    sets: list[frozenset[str]] = []
    for cf in found:
        features = frozenset(c.feature for c in cf.changes)
        if features not in sets and len(picked) < count:
            picked.append(cf)
            sets.append(features)
    return sorted(picked, key=lambda c: (c.distance, c.n_changes))


def violations(
    before: dict[str, Any],
    after: dict[str, Any],
    constraints: RecourseConstraints,
    schema: InputSchema,
    steps: dict[str, float] | None = None,
) -> list[str]:
    """The features of ``after`` that break a constraint (empty when it keeps them all).

    ``steps`` are the steps numbers move by (the constraints' own, else 1 for whole
    numbers); a number must move by whole steps and stay in its range.
    """
    bad = []
    fields = {f.name: f for f in schema.fields}
    for name, field_ in fields.items():
        old, new = before[name], after[name]
        if _same(old, new):
            continue
        if name in constraints.immutable:
            bad.append(name)
        elif field_.kind == "numeric":
            lo, hi = constraints.ranges.get(name, [field_.minimum, field_.maximum])
            step = (steps or {}).get(name) or constraints.steps.get(name)
            if step is None and field_.integer:
                step = 1.0
            moved = float(new) - float(old)
            if (
                (lo is not None and new < lo - 1e-9)
                or (hi is not None and new > hi + 1e-9)
                or (name in constraints.only_up and moved < 0)
                or (step and abs(moved / step - round(moved / step)) > 1e-6)
            ):
                bad.append(name)
    return bad


def sentence(changes: list[Change], desired: Any, probability: float) -> Message:
    """One sentence: "With 4 more hours-per-week (40 → 44) and education “Bachelors”
    instead of “HS-grad”, the model would predict >50K (62% chance)."
    """
    parts: list[Message] = []
    for c in changes:
        if isinstance(c.after, int | float) and isinstance(c.before, int | float):
            values = {
                "amount": _number(abs(c.after - c.before)),
                "feature": c.feature,
                "before": _number(c.before),
                "after": _number(c.after),
            }
            if c.after > c.before:
                parts.append(Message("recourse.change.up", **values))
            else:
                parts.append(Message("recourse.change.down", **values))
        else:
            parts.append(
                Message(
                    "recourse.change.category",
                    feature=c.feature,
                    before=str(c.before),
                    after=str(c.after),
                )
            )
    joined = parts[-1]
    if len(parts) > 1:
        head = parts[0]
        for part in parts[1:-1]:
            head = Message("recourse.list", first=head, rest=part)
        joined = Message("recourse.and", first=head, last=parts[-1])
    return Message(
        "recourse.sentence", changes=joined, outcome=str(desired), probability=probability
    )


def _step(width: float) -> float:
    """A round step for a number without one: about a hundredth of its range."""
    if not width > 0:
        return 1.0
    return float(10 ** math.floor(math.log10(width / 100)))


def _number(value: float) -> str:
    value = float(value)
    return str(round(value)) if abs(value - round(value)) < 1e-9 else f"{value:.4g}"


def _same(a: Any, b: Any) -> bool:
    missing_a = a is None or (isinstance(a, float) and math.isnan(a))
    missing_b = b is None or (isinstance(b, float) and math.isnan(b))
    if missing_a or missing_b:
        return missing_a and missing_b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(float(a) - float(b)) < 1e-9
    return str(a) == str(b)


def _plain(value: Any) -> Any:
    """JSON-friendly: numpy scalars as Python ones, NaN as None, whole floats as ints."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    return value
