"""Model cards: what a model version is for, what it was trained on, and how well and fairly
it works, in Markdown, from the figures its training run stored.

Confidence intervals are percentile bootstrap intervals over the stored test
predictions, from the same function as the evaluation's
(:func:`~lepton_core.evaluation.bootstrap_intervals`); runs that predate stored
predictions get point figures only. Next to every figure stands what always giving the
most common answer (or the average) scores, and a verdict in words; fairness gaps count
only groups with enough test rows (the evaluation's rule). The intended use is the one
field a person writes; it is kept as a tag on the model version.

The card's sentences are :class:`~lepton_core.core.Message` objects (English as
strings); :meth:`ModelCard.to_markdown` writes the card in English or Simplified Chinese.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any

from lepton_core.core import JsonMixin, Message, cache_entries, in_language
from lepton_core.data import ACTION_TITLES, AnonymisationStep
from lepton_core.evaluation import bootstrap_intervals
from lepton_core.models import COMPRESSION_METHODS, METHOD_TITLES
from lepton_core.recourse import RecourseReport, recourse_markdown, stored_recourse
from lepton_core.runs._energy import energy_facts
from lepton_core.runs._reports import load_run_reports
from lepton_core.workspace import Workspace

__all__ = ["MetricEstimate", "ModelCard", "cached_model_card", "model_card", "set_intended_use"]

_INTENDED_USE_TAG = "lepton.intended_use"
_MAX_INTENDED_USE = 4000
_NO_USE = Message("card.no_use")
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
    intended_use: Message | str
    task: str
    family: str
    params: dict[str, str]
    dataset: dict[str, Any]
    metrics: list[MetricEstimate]
    confidence: float
    n_resamples: int
    fairness: list[dict[str, Any]]
    mitigation: Message | str | None
    top_features: list[tuple[str, float]]
    privacy: list[Message | str]
    limitations: list[Message | str]
    generated: float = field(default_factory=time.time)
    verdict: Message | str | None = None
    baseline_guess: Message | str | None = None
    warnings: list[Message | str] = field(default_factory=list)
    ensemble: Message | str | None = None  # an ensemble's members and weights
    energy: list[Message | str] = field(default_factory=list)  # what training used, and how
    recourse: RecourseReport | None = None  # what the rows turned down would have to change

    def to_markdown(self, *, language: str = "en") -> str:
        """The card as a Markdown document in ``language`` (``"en"`` or ``"zh"``)."""
        ds = self.dataset

        def say(text: object) -> str:
            if isinstance(text, dict) and {"id", "values"} <= set(text):
                text = Message.from_dict(text)  # a note inside ``fairness``, read back from JSON
            return in_language(text, language)

        params = ", ".join(f"`{k}={v}`" for k, v in sorted(self.params.items()))
        registered = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created))
        lines = [
            say(Message("card.title", model=self.model, version=self.version)),
            "",
            say(Message("card.intended_use")),
            "",
            say(self.intended_use),
            "",
            say(Message("card.model")),
            "",
            say(Message("card.task", task=self.task)),
            say(Message("card.family", family=self.family)),
            say(Message("card.run", run=self.run_id, registered=registered)),
            say(Message("card.params", params=params or Message("card.defaults"))),
            *([say(self.ensemble)] if self.ensemble else []),
            "",
            say(Message("card.data")),
            "",
            say(
                Message(
                    "card.dataset",
                    name=ds.get("name") or Message("card.unnamed"),
                    target=str(ds.get("target")),
                )
            ),
            say(
                Message(
                    "card.fingerprint",
                    fingerprint=ds.get("fingerprint") or Message("card.not_recorded"),
                )
            ),
            say(
                Message(
                    "card.rows",
                    train=ds.get("n_train", "?"),
                    valid=ds.get("n_valid", "?"),
                    test=ds.get("n_test", "?"),
                )
            ),
            say(
                Message(
                    "card.sensitive",
                    names=", ".join(ds.get("sensitive") or []) or Message("card.none_chosen"),
                )
            ),
            "",
            say(Message("card.performance")),
            "",
        ]
        if self.verdict:
            lines += [say(Message("card.verdict", verdict=say(self.verdict))), ""]
        lines += [say(Message("card.warning", warning=say(text))) for text in self.warnings]
        if self.warnings:
            lines.append("")
        if self.n_resamples:
            lines.append(
                say(
                    Message(
                        "card.intervals", confidence=self.confidence, resamples=self.n_resamples
                    )
                )
            )
        else:
            lines.append(say(Message("card.no_intervals")))
        guess = (
            Message("card.always_guessing", guess=say(self.baseline_guess))
            if self.baseline_guess
            else Message("card.baseline")
        )
        lines += ["", say(Message("card.metric_header", guess=say(guess))), "|---|---|---|---|"]
        for m in self.metrics:
            interval = f"{m.low:.3f} – {m.high:.3f}" if m.low is not None else "—"
            lines.append(f"| {m.name} | {m.value:.3f} | {interval} | {_cell(m.baseline)} |")
        lines += ["", say(Message("card.fairness")), ""]
        if self.mitigation:
            lines += [say(self.mitigation), ""]
        if not self.fairness:
            lines.append(say(Message("card.fairness_not_measured")))
        for report in self.fairness:
            gaps = []
            if report.get("demographic_parity_difference") is not None:
                gaps.append(say(Message("card.dpd", value=report["demographic_parity_difference"])))
            if report.get("equalized_odds_difference") is not None:
                gaps.append(say(Message("card.eod", value=report["equalized_odds_difference"])))
            lines += [f"### {report['attribute']}", ""]
            least = report.get("min_group_rows") or 30
            small = report.get("small_groups") or []
            if gaps:
                joined = "; ".join(gaps).capitalize()
                lines += [say(Message("card.gaps", gaps=joined, rows=least)), ""]
            if report.get("note"):
                lines += [say(report["note"]), ""]
            columns = report["columns"]
            group = say(Message("card.group"))
            header = [
                f"| {group} | " + " | ".join(columns) + " |",
                "|---" * (len(columns) + 1) + "|",
            ]
            lines += header
            lines += [
                _row(group, row, columns)
                for group, row in report["groups"].items()
                if group not in small
            ]
            if small:
                lines += ["", say(Message("card.too_small", rows=least)), "", *header]
                lines += [_row(g, report["groups"].get(g, {}), columns) for g in small]
            lines.append("")
        if self.task != "regression":  # recourse is about answers that can be turned
            lines += [say(Message("card.recourse")), ""]
            lines += recourse_markdown(self.recourse, language)
        lines += [say(Message("card.features")), ""]
        lines += [
            f"{i}. {name} ({score:.3f})" for i, (name, score) in enumerate(self.top_features, 1)
        ]
        lines += ["", say(Message("card.privacy")), ""]
        lines += [f"- {say(fact)}" for fact in self.privacy]
        if self.energy:
            lines += ["", say(Message("energy.card")), ""]
            lines += [f"- {say(fact)}" for fact in self.energy]
        lines += ["", say(Message("card.limitations")), ""]
        lines += [f"- {say(text)}" for text in self.limitations]
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


def _privacy_facts(workspace: Workspace, run_id: str) -> list[Message | str]:
    facts: list[Message | str] = []
    anonymisation = workspace.find_report(run_id, "anonymisation") or {}
    for stored in anonymisation.get("steps") or []:
        # The detail was stored as a Message's id and values (or, before that, as text).
        step = AnonymisationStep.from_dict({"option": None, "detail": "", **stored})
        detail = Message("card.detail", detail=step.detail) if step.detail else ""
        facts.append(
            Message(
                "card.anonymised",
                column=str(step.column),
                action=ACTION_TITLES.get(step.action, str(step.action)),
                detail=detail,
            )
        )
    dp = workspace.find_report(run_id, "privacy") or {}
    if isinstance(dp, dict) and dp.get("epsilon") is not None:
        delta = Message("card.delta", delta=dp["delta"]) if dp.get("delta") is not None else ""
        facts.append(Message("card.dp", epsilon=dp["epsilon"], delta=delta))
    return facts or [Message("card.no_privacy")]


def _ensemble_fact(workspace: Workspace, run_id: str) -> Message | None:
    report = workspace.find_report(run_id, "ensemble")
    if report is None:
        return None
    members = [
        f"{m.get('model') or m['family']} × {m['weight']:.3f}"
        for m in report["members"]
        if m["weight"] > 0
    ]
    return Message("card.ensemble", count=len(members), members=", ".join(members))


def _ner_kinds_fact(workspace: Workspace, run_id: str) -> list[Message]:
    # An entity model with ready-made kinds (ner_spacy): which stand for the data set's.
    report = workspace.find_report(run_id, "ner_kinds")
    return [Message.from_dict(report["note"])] if report else []


def _mitigation_fact(workspace: Workspace, run_id: str) -> Message | None:
    report = workspace.find_report(run_id, "mitigation")
    if report is None:
        return None
    return Message(
        "card.mitigated",
        parent=str(report["parent_model"]),
        title=METHOD_TITLES.get(report.get("method"), report["title"]),
        sensitive=str(report["sensitive"]),
        fitted_on=(
            Message("card.fitted_on_validation")
            if report["fitted_on"] == "validation part"
            else Message("card.fitted_on_training")
            if report["fitted_on"] == "training part"
            else str(report["fitted_on"])
        ),
    )


def _compression_facts(workspace: Workspace, run_id: str) -> list[Message | str]:
    report = workspace.find_report(run_id, "compression")
    if report is None:
        return []
    title = COMPRESSION_METHODS.get(report.get("method"), report["title"])
    return [Message("card.compressed", parent=str(report["parent"]), title=title)]


def _limitations(ds: dict[str, Any], reports: Any, schema: Any) -> list[Message | str]:
    out: list[Message | str] = [Message("card.test_rows", rows=ds.get("n_test", "?"))]
    for report in reports.fairness:
        worst = report.worst_group or {}
        if worst.get("gap") is not None and worst["gap"] > _SMALL_GAP:
            out.append(
                Message(
                    "card.worst_group",
                    attribute=report.attribute,
                    group=str(worst["group"]),
                    metric=str(worst["metric"]),
                    value=worst["value"],
                    gap=worst["gap"],
                )
            )
        if report.small_groups:
            out.append(
                Message(
                    "card.small_groups",
                    attribute=report.attribute,
                    rows=report.min_group_rows,
                    groups=", ".join(report.small_groups),
                )
            )
    numeric = [f for f in schema.fields if f.kind == "numeric" and f.minimum is not None]
    if numeric:
        ranges = ", ".join(f"{f.name} {f.minimum:g}–{f.maximum:g}" for f in numeric[:6])
        out.append(Message("card.ranges", ranges=ranges))
    texts = [f.name for f in schema.fields if f.kind == "text"]
    if texts:
        out.append(Message("card.text_only", column=str(texts[0])))
    if not reports.fairness:
        out.append(Message("card.fairness_not_measured_limit"))
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
        intended_use=_intended_use(mv.tags.get(_INTENDED_USE_TAG)),
        task=task,
        family=params.get("family", reports.run.family),
        params={k.removeprefix("model."): v for k, v in params.items() if k.startswith("model.")},
        dataset=dataset,
        metrics=estimates,
        confidence=0.95,
        n_resamples=n_resamples if stored else 0,
        fairness=[_fairness_rows(r) for r in reports.fairness],
        mitigation=_mitigation_fact(workspace, run_id),
        ensemble=_ensemble_fact(workspace, run_id),
        top_features=top_features,
        privacy=_privacy_facts(workspace, run_id),
        energy=energy_facts(workspace, run_id),
        recourse=stored_recourse(workspace, run_id),
        limitations=[
            *_ner_kinds_fact(workspace, run_id),
            *_compression_facts(workspace, run_id),
            *_limitations(dataset, reports, schema),
        ],
        verdict=verdict.text if verdict else None,
        baseline_guess=(
            None
            if baseline is None
            else f"'{baseline.guess}'"
            if baseline.rule == "most common answer"
            else Message("card.the_average", value=baseline.guess)
        ),
        warnings=[w.text for w in reports.evaluation.warnings],
    )


def _intended_use(tag: str | None) -> Message | str:
    # An empty description is stored as the English "not stated" sentence.
    return tag if tag and tag != _NO_USE else _NO_USE


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


@functools.lru_cache(maxsize=cache_entries(32))
def _cached(workspace: Workspace, name: str, version: int, intended_use: str) -> ModelCard:
    # intended_use is part of the key only: a new text means a new card.
    return model_card(workspace, name, version)
