"""Whether recourse is fair: how much the rows a model turns down must change, by group.

For a bounded sample of the rows the model turns down (an equal share per group of each
sensitive attribute, so small groups are searched too), the cheapest valid
counterfactual of each row; per group, the median of its normalised distance and of
its number of changed features, and the share of rows for which none was found within
the constraints (no actionable recourse). A gap is the largest median distance minus
the smallest, over groups with at least ``min_rows`` rows searched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import DataError, JsonMixin, Message
from lepton_core.data import InputSchema
from lepton_core.evaluation import MAX_UNBINNED_GROUPS, MISSING, band_numeric
from lepton_core.models import LeptonModel
from lepton_core.recourse._constraints import RecourseConstraints
from lepton_core.recourse._search import check_model, counterfactuals, desired_label
from lepton_core.workspace import Workspace

__all__ = [
    "REPORT_NAME",
    "GroupRecourse",
    "RecourseReport",
    "RowRecourse",
    "recourse_fairness",
    "recourse_markdown",
    "store_recourse",
    "stored_recourse",
]

#: The name of the run report the result is stored under.
REPORT_NAME = "recourse"
#: Groups with fewer rows searched count in no gap.
MIN_ROWS = 10


@dataclass
class RowRecourse(JsonMixin):
    """One searched row: its cheapest counterfactual's cost, or None when none was found."""

    index: int
    distance: float | None
    changes: int | None


@dataclass
class GroupRecourse(JsonMixin):
    """One group's recourse figures (None where no row of it was searched or found)."""

    group: str
    denied: int
    searched: int
    median_distance: float | None
    median_changes: float | None
    no_recourse_share: float | None


@dataclass
class RecourseReport(JsonMixin):
    """Recourse by group of each sensitive attribute, for the rows turned down."""

    desired: str
    rows: int
    denied: int
    searched: int
    seconds: float
    by_attribute: dict[str, list[GroupRecourse]] = field(default_factory=dict)
    gaps: dict[str, float | None] = field(default_factory=dict)
    notes: list[Message] = field(default_factory=list)
    found: list[RowRecourse] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecourseReport:
        report = super().from_dict(data)
        report.by_attribute = {  # lists of groups are not rebuilt by JsonMixin itself
            k: [g if isinstance(g, GroupRecourse) else GroupRecourse.from_dict(g) for g in v]
            for k, v in report.by_attribute.items()
        }
        return report


def _groups(values: pd.Series) -> pd.Series:
    """Group labels as the fairness report makes them (numbers in bands, missing named)."""
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.nunique(dropna=True) > MAX_UNBINNED_GROUPS:
        return band_numeric(values).astype(str)
    return values.map(lambda v: MISSING if pd.isna(v) else str(v)).astype(str)


def recourse_fairness(
    model: LeptonModel,
    schema: InputSchema,
    X: pd.DataFrame,
    sensitive: pd.DataFrame,
    constraints: RecourseConstraints | None = None,
    *,
    max_rows: int = 120,
    seconds: float = 120.0,
    seconds_per_row: float = 3.0,
    min_rows: int = MIN_ROWS,
    seed: int = 0,
    progress: Callable[[int, int], Any] | None = None,
) -> RecourseReport:
    """Median cost of the cheapest counterfactual per group, for rows the model turns down.

    Parameters
    ----------
    X, sensitive : DataFrame
        The rows (model input) and their sensitive columns, aligned.
    max_rows : int
        At most this many turned-down rows are searched, shared equally among the
        groups of every attribute.
    seconds : float
        The whole budget; rows not reached are left out and a note says so.
    progress : callable, optional
        ``progress(done, planned)`` after each row.
    """
    start = time.perf_counter()
    check_model(model)
    constraints = constraints or RecourseConstraints(immutable=list(sensitive.columns))
    constraints.check(schema)
    if sensitive.shape[1] == 0:
        raise DataError(Message("recourse.no_sensitive"))
    X = schema.prepare(X).reset_index(drop=True)
    sensitive = sensitive.reset_index(drop=True)
    desired = desired_label(model, constraints)
    turned_down = np.flatnonzero(model.predict(X) != desired)
    groups = {c: _groups(sensitive[c]) for c in sensitive.columns}
    planned = _sample(turned_down, groups, max_rows, seed)
    report = RecourseReport(
        desired=str(desired), rows=len(X), denied=len(turned_down), searched=0, seconds=0.0
    )
    if not len(turned_down):
        report.notes.append(Message("recourse.no_denied"))
    for done, i in enumerate(planned):
        left = start + seconds - time.perf_counter()
        if left <= 0:
            report.notes.append(Message("recourse.partial", searched=done, planned=len(planned)))
            break
        found = counterfactuals(
            model,
            schema,
            X.iloc[[i]],
            constraints,
            count=1,
            seconds=min(seconds_per_row, left),
            seed=seed,
        ).counterfactuals
        best = found[0] if found else None
        report.found.append(
            RowRecourse(
                index=int(i),
                distance=best.distance if best else None,
                changes=best.n_changes if best else None,
            )
        )
        if progress is not None:
            progress(done + 1, len(planned))
    report.searched = len(report.found)
    for column, labels in groups.items():
        report.by_attribute[column] = _by_group(report.found, labels, turned_down)
        usable = [
            g.median_distance
            for g in report.by_attribute[column]
            if g.searched >= min_rows and g.median_distance is not None
        ]
        report.gaps[column] = max(usable) - min(usable) if len(usable) >= 2 else None
        if len(usable) < 2 and len(turned_down):
            report.notes.append(Message("recourse.few_groups", attribute=column, rows=min_rows))
    report.seconds = time.perf_counter() - start
    return report


def _sample(rows: np.ndarray, groups: dict[str, pd.Series], max_rows: int, seed: int) -> list[int]:
    """Up to ``max_rows`` of ``rows``, taking turns between the groups of every attribute
    (a small group gives as many rows as a large one until it runs out; a budget cut
    hits every group evenly)."""
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(rows)
    buckets = []
    for labels in groups.values():
        values = labels.to_numpy()[shuffled]
        buckets += [shuffled[values == g].tolist() for g in pd.unique(values)]
    planned: list[int] = []
    taken: set[int] = set()
    for turn in range(max((len(b) for b in buckets), default=0)):
        for bucket in buckets:
            if turn < len(bucket) and bucket[turn] not in taken:
                planned.append(int(bucket[turn]))
                taken.add(bucket[turn])
        if len(planned) >= max_rows:
            break
    return planned[:max_rows]


def _by_group(
    found: list[RowRecourse], labels: pd.Series, turned_down: np.ndarray
) -> list[GroupRecourse]:
    out = []
    denied = labels.iloc[turned_down].value_counts()
    for group in sorted(set(labels.iloc[turned_down]) | set(labels.iloc[[r.index for r in found]])):
        rows = [r for r in found if labels.iloc[r.index] == group]
        costs = [r for r in rows if r.distance is not None]
        out.append(
            GroupRecourse(
                group=str(group),
                denied=int(denied.get(group, 0)),
                searched=len(rows),
                median_distance=float(np.median([r.distance for r in costs])) if costs else None,
                median_changes=float(np.median([r.changes for r in costs])) if costs else None,
                no_recourse_share=1 - len(costs) / len(rows) if rows else None,
            )
        )
    return out


def store_recourse(workspace: Workspace, run_id: str, report: RecourseReport) -> None:
    """Keep the report with the run (the Evaluate page and the model card read it)."""
    workspace.log_report(run_id, REPORT_NAME, report.to_dict())
    Workspace.load_report.cache_clear()  # the run's reports are cached; this one changed


def stored_recourse(workspace: Workspace, run_id: str) -> RecourseReport | None:
    """The report stored with the run, or None where recourse was not computed."""
    data = workspace.find_report(run_id, REPORT_NAME)
    return RecourseReport.from_dict(data) if data else None


def recourse_markdown(report: RecourseReport | None, language: str = "en") -> list[str]:
    """The model card's lines on recourse: one table per sensitive attribute."""
    if report is None:
        return [Message("card.recourse_not_measured").render(language), ""]
    lines = [
        Message(
            "card.recourse_intro",
            outcome=report.desired,
            searched=report.searched,
            denied=report.denied,
        ).render(language),
        "",
    ]
    lines += [note.render(language) for note in report.notes]
    header = Message("card.recourse_header").render(language)
    for attribute, groups in report.by_attribute.items():
        lines += [f"#### {attribute}", "", header, "|---|---|---|---|---|"]
        for g in groups:
            cells = [
                g.group,
                str(g.searched),
                "—" if g.median_distance is None else f"{g.median_distance:.3f}",
                "—" if g.median_changes is None else f"{g.median_changes:g}",
                "—" if g.no_recourse_share is None else f"{g.no_recourse_share:.0%}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        gap = report.gaps.get(attribute)
        if gap is not None:
            lines += ["", Message("card.recourse_gap", gap=gap).render(language)]
        lines.append("")
    return lines
