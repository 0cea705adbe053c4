"""Model cards: what a model version is for, what it was trained on, and how well and fairly
it works, in Markdown, from the figures its training run stored.

Confidence intervals are percentile bootstrap intervals over the stored test
predictions, from the same function as the evaluation's
(:func:`~lepton_core.evaluation.bootstrap_intervals`); runs that predate stored
predictions get point figures only. Next to every figure stands what always giving the
most common answer (or the average) scores, and a verdict in words; fairness gaps count
only groups with enough test rows (the evaluation's rule). The intended use is the one
field a person writes; it is kept as a tag on the model version.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any

from lepton_core.core import JsonMixin
from lepton_core.evaluation import bootstrap_intervals
from lepton_core.runs._reports import load_run_reports
from lepton_core.workspace import Workspace

__all__ = ["MetricEstimate", "ModelCard", "cached_model_card", "model_card", "set_intended_use"]

_INTENDED_USE_TAG = "lepton.intended_use"
_MAX_INTENDED_USE = 4000
_NO_USE = "Not stated yet; the publisher can describe it on the Deploy page."
_SMALL_GAP = 0.02
_CARD_METRICS = {
    "binary": ("accuracy", "balanced_accuracy", "f1", "roc_auc"),
    "multiclass": ("accuracy", "balanced_accuracy", "f1"),
    "regression": ("rmse", "mae", "r2"),
}


@dataclass
class MetricEstimate(JsonMixin):
    """A test-set figure with its bootstrap confidence interval (None when not computable).

    ``baseline`` is the same figure for always giving the most common answer (or the
    average), None when not measured.
    """

    name: str
    value: float
    low: float | None = None
    high: float | None = None
    baseline: float | None = None


@dataclass
class ModelCard(JsonMixin):
    """Everything a model card shows; :meth:`to_markdown` renders it."""

    model: str
    version: int
    run_id: str
    created: float
    intended_use: str
    task: str
    family: str
    params: dict[str, str]
    dataset: dict[str, Any]
    metrics: list[MetricEstimate]
    confidence: float
    n_resamples: int
    fairness: list[dict[str, Any]]
    mitigation: str | None
    top_features: list[tuple[str, float]]
    privacy: list[str]
    limitations: list[str]
    generated: float = field(default_factory=time.time)
    verdict: str | None = None
    baseline_guess: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_markdown(self) -> str:
        """The card as a Markdown document."""
        ds = self.dataset
        lines = [
            f"# Model card: {self.model} version {self.version}",
            "",
            "## Intended use",
            "",
            self.intended_use,
            "",
            "## Model",
            "",
            f"- Task: {self.task}",
            f"- Family: {self.family}",
            f"- Training run: `{self.run_id}`, registered "
            f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(self.created))}",
            "- Parameters: "
            + (", ".join(f"`{k}={v}`" for k, v in sorted(self.params.items())) or "defaults"),
            "",
            "## Data",
            "",
            f"- Data set: {ds.get('name') or 'unnamed'} (target `{ds.get('target')}`)",
            f"- Fingerprint (SHA-256 of the table): `{ds.get('fingerprint') or 'not recorded'}`",
            f"- Rows: {ds.get('n_train', '?')} train, {ds.get('n_valid', '?')} validation, "
            f"{ds.get('n_test', '?')} test",
            f"- Sensitive attributes: {', '.join(ds.get('sensitive') or []) or 'none chosen'}",
            "",
            "## Performance on the test set",
            "",
        ]
        if self.verdict:
            lines += [f"**Verdict.** {self.verdict}", ""]
        lines += [f"- **Warning.** {text}" for text in self.warnings]
        if self.warnings:
            lines.append("")
        if self.n_resamples:
            lines.append(
                f"{self.confidence:.0%} confidence intervals (the true figure is likely "
                f"between the two numbers) from {self.n_resamples} bootstrap resamples of the "
                "test predictions."
            )
        else:
            lines.append("The run stored no test predictions, so there are no intervals.")
        guess = f"always guessing {self.baseline_guess}" if self.baseline_guess else "baseline"
        lines += ["", f"| metric | value | interval | {guess} |", "|---|---|---|---|"]
        for m in self.metrics:
            interval = f"{m.low:.3f} – {m.high:.3f}" if m.low is not None else "—"
            lines.append(f"| {m.name} | {m.value:.3f} | {interval} | {_cell(m.baseline)} |")
        lines += ["", "## Fairness by group", ""]
        if self.mitigation:
            lines += [self.mitigation, ""]
        if not self.fairness:
            lines.append("Not measured: no sensitive attribute was chosen.")
        for report in self.fairness:
            gaps = []
            for key, label in (
                ("demographic_parity_difference", "demographic parity difference"),
                ("equalized_odds_difference", "equalized odds difference"),
            ):
                if report.get(key) is not None:
                    gaps.append(f"{label} {report[key]:.3f}")
            lines += [f"### {report['attribute']}", ""]
            least = report.get("min_group_rows") or 30
            small = report.get("small_groups") or []
            if gaps:
                lines += [
                    "; ".join(gaps).capitalize()
                    + f", between the groups with at least {least} test rows.",
                    "",
                ]
            if report.get("note"):
                lines += [report["note"], ""]
            columns = report["columns"]
            header = ["| group | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
            lines += header
            lines += [
                _row(group, row, columns)
                for group, row in report["groups"].items()
                if group not in small
            ]
            if small:
                lines += [
                    "",
                    f"Too small to judge (fewer than {least} test rows; figures mostly chance, "
                    "left out of the gaps):",
                    "",
                    *header,
                ]
                lines += [_row(g, report["groups"].get(g, {}), columns) for g in small]
            lines.append("")
        lines += ["## Most important features", ""]
        lines += [
            f"{i}. {name} ({score:.3f})" for i, (name, score) in enumerate(self.top_features, 1)
        ]
        lines += ["", "## Privacy", ""]
        lines += [f"- {fact}" for fact in self.privacy]
        lines += ["", "## Limitations", ""]
        lines += [f"- {text}" for text in self.limitations]
        return "\n".join(lines) + "\n"


def _row(group: str, row: dict[str, Any], columns: list[str]) -> str:
    return f"| {group} | " + " | ".join(_cell(row.get(c)) for c in columns) + " |"


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


# ---------------------------------------------------------------- intervals
def _estimates(
    evaluation: Any, stored: dict[str, Any] | None, *, n_resamples: int, seed: int
) -> list[MetricEstimate]:
    """The card's figures, with intervals from the stored predictions when there are any."""
    task, metrics = evaluation.task, evaluation.metrics
    names = [k for k in _CARD_METRICS.get(task, ()) if k in metrics]
    intervals: dict[str, list[float]] = {}
    if stored and n_resamples > 0:
        intervals = bootstrap_intervals(
            stored["y_true"],
            stored["y_pred"],
            task=task,
            classes=stored.get("classes"),
            y_proba=stored.get("proba"),
            metrics=names,
            n_resamples=n_resamples,
            seed=seed,
        )
    base = evaluation.baseline.metrics if evaluation.baseline else {}
    return [
        MetricEstimate(
            name,
            metrics[name],
            *(intervals.get(name) or (None, None)),
            baseline=base.get(name),
        )
        for name in names
    ]


# ----------------------------------------------------------------- the card
def _fairness_rows(report: Any) -> dict[str, Any]:
    wanted = ("count", "accuracy", "selection_rate", "tpr", "fpr", "mae")
    columns = [c for c in wanted if c in report.overall]
    return {
        "attribute": report.attribute,
        "demographic_parity_difference": report.demographic_parity_difference,
        "equalized_odds_difference": report.equalized_odds_difference,
        "columns": columns,
        "groups": {g: report.by_group.get(g, {}) for g in report.groups},
        "small_groups": list(report.small_groups),
        "min_group_rows": report.min_group_rows,
        "note": report.note,
    }


def _privacy_facts(workspace: Workspace, run_id: str) -> list[str]:
    facts = []
    anonymisation = workspace.find_report(run_id, "anonymisation") or {}
    for step in anonymisation.get("steps") or []:
        detail = f" ({step['detail']})" if step.get("detail") else ""
        facts.append(
            f"Column `{step.get('column')}`: {step.get('action')} before training{detail}."
        )
    dp = workspace.find_report(run_id, "privacy") or {}
    if isinstance(dp, dict) and dp.get("epsilon") is not None:
        facts.append(
            f"Trained with differential privacy: ε = {dp['epsilon']:.2f}"
            + (f", δ = {dp['delta']:.1e}" if dp.get("delta") is not None else "")
            + "."
        )
    return facts or ["None recorded: no columns were removed or hashed and no ε was set."]


def _mitigation_fact(workspace: Workspace, run_id: str) -> str | None:
    report = workspace.find_report(run_id, "mitigation")
    if report is None:
        return None
    return (
        f"This is a fairness-mitigated version of {report['parent_model']}: "
        f"{report['title']} by `{report['sensitive']}`, fitted on the {report['fitted_on']}. "
        "Its figures below were measured on the same test rows as the original's."
    )


def _compression_facts(workspace: Workspace, run_id: str) -> list[str]:
    report = workspace.find_report(run_id, "compression")
    if report is None:
        return []
    return [
        f"This is an int8-compressed version of {report['parent']} ({report['title']}); its "
        "figures were measured on the same test rows as the original's, and a few of its "
        "predictions can differ from the original's."
    ]


def _limitations(ds: dict[str, Any], reports: Any, schema: Any) -> list[str]:
    out = [
        f"Figures were measured on {ds.get('n_test', '?')} held-out test rows; on people, "
        "places or times unlike the training data the model may do worse.",
    ]
    for report in reports.fairness:
        worst = report.worst_group or {}
        if worst.get("gap") is not None and worst["gap"] > _SMALL_GAP:
            out.append(
                f"By {report.attribute}, the group '{worst['group']}' fares worst: "
                f"{worst['metric']} {worst['value']:.3f}, {worst['gap']:.3f} worse than overall."
            )
        if report.small_groups:
            out.append(
                f"Groups of {report.attribute} with fewer than {report.min_group_rows} test rows "
                f"({', '.join(report.small_groups)}) have unreliable figures and are left out of "
                "its fairness gaps."
            )
    numeric = [f for f in schema.fields if f.kind == "numeric" and f.minimum is not None]
    if numeric:
        ranges = ", ".join(f"{f.name} {f.minimum:g}–{f.maximum:g}" for f in numeric[:6])
        out.append(f"Inputs outside the ranges seen in training ({ranges}) are extrapolations.")
    texts = [f.name for f in schema.fields if f.kind == "text"]
    if texts:
        out.append(
            f"The model reads only the text in '{texts[0]}', cut to its maximum length in "
            "tokens; language unlike the training texts (other languages, domains, slang) "
            "may be misread."
        )
    if not reports.fairness:
        out.append("Fairness was not measured because no sensitive attribute was chosen.")
    return out


def model_card(
    workspace: Workspace,
    name: str,
    version: str | int | None = None,
    *,
    n_resamples: int = 200,
    seed: int = 0,
    top: int = 10,
) -> ModelCard:
    """Build the card of a model version from its run's stored results.

    Raises
    ------
    ModelError
        The model or version does not exist.
    WorkspaceError
        The run's reports cannot be read.
    """
    info = workspace.model_version(name, version)
    run_id = info.run_id
    reports = load_run_reports(workspace, run_id, complete=True)
    params = dict(workspace.client.get_run(run_id).data.params)
    mv = workspace.client.get_model_version(info.name, str(info.version))
    schema = workspace.load_input_schema(run_id)
    dataset = {
        "name": reports.run.dataset_name,
        "id": reports.run.dataset_id,
        "target": params.get("target"),
        "fingerprint": params.get("data_fingerprint"),
        "n_train": params.get("n_train"),
        "n_valid": params.get("n_valid"),
        "n_test": params.get("n_test"),
        "sensitive": [s for s in params.get("sensitive", "").split(",") if s],
    }
    task = reports.evaluation.task
    stored = workspace.find_report(run_id, "test_predictions")
    estimates = _estimates(reports.evaluation, stored, n_resamples=n_resamples, seed=seed)
    baseline = reports.evaluation.baseline
    verdict = reports.evaluation.verdict
    summary = workspace.load_report(run_id, "shap_summary")
    first = summary["outputs"][0]
    top_features = [(f, float(s)) for f, s in summary["importance"][first][:top]]
    return ModelCard(
        model=info.name,
        version=info.version,
        run_id=run_id,
        created=info.created,
        intended_use=mv.tags.get(_INTENDED_USE_TAG) or _NO_USE,
        task=task,
        family=params.get("family", reports.run.family),
        params={k.removeprefix("model."): v for k, v in params.items() if k.startswith("model.")},
        dataset=dataset,
        metrics=estimates,
        confidence=0.95,
        n_resamples=n_resamples if stored else 0,
        fairness=[_fairness_rows(r) for r in reports.fairness],
        mitigation=_mitigation_fact(workspace, run_id),
        top_features=top_features,
        privacy=_privacy_facts(workspace, run_id),
        limitations=[
            *_compression_facts(workspace, run_id),
            *_limitations(dataset, reports, schema),
        ],
        verdict=verdict.text if verdict else None,
        baseline_guess=(
            None
            if baseline is None
            else f"'{baseline.guess}'"
            if baseline.rule == "most common answer"
            else f"the average ({baseline.guess:.3g})"
        ),
        warnings=[w.text for w in reports.evaluation.warnings],
    )


def set_intended_use(workspace: Workspace, name: str, version: int, text: str) -> None:
    """Store the publisher's description of what the model version is for."""
    info = workspace.model_version(name, version)
    text = text.strip()[:_MAX_INTENDED_USE]
    workspace.client.set_model_version_tag(
        info.name, str(info.version), _INTENDED_USE_TAG, text or _NO_USE
    )


def cached_model_card(workspace: Workspace, name: str, version: int) -> ModelCard:
    """:func:`model_card`, computed once per version and intended-use text (pages rerun often)."""
    info = workspace.model_version(name, version)
    mv = workspace.client.get_model_version(info.name, str(info.version))
    return _cached(workspace, info.name, info.version, mv.tags.get(_INTENDED_USE_TAG, ""))


@functools.lru_cache(maxsize=32)
def _cached(workspace: Workspace, name: str, version: int, intended_use: str) -> ModelCard:
    # intended_use is part of the key only: a new text means a new card.
    return model_card(workspace, name, version)
