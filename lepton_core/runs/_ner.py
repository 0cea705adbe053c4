"""Named-entity recognition as a run: labelled sentences confirmed as a data set, split,
fitted by an entity family, scored with seqeval and registered as a model version.

A data set of sentences is stored in :meth:`~lepton_core.ner.NerData.table`'s form (a
``text`` column and an ``entities`` column of JSON spans) with the task ``"ner"``, which
is how the pages and :func:`~lepton_core.runs.train` tell it from a table. The run keeps
the usual reports (``config``, ``evaluation`` with the entity-level micro figures and one
row per type, an empty ``fairness``, ``history``, ``input_schema``) plus ``ner``: the
whole :class:`~lepton_core.ner.NerReport` (per-type scores, confusion of types, worst
sentences), ``ner_answers``: what the model found in each test sentence in the form the
prediction log keeps an entity answer (:func:`found_kinds`; ``y_pred``, with the kinds
truly there as ``y_true``), which monitoring compares the live answers with, and for a
family whose kinds are matched rather than learnt (``ner_spacy``) ``ner_kinds``:
``{"note"}``, which of its kinds stand for which of the data set's. No
SHAP explanation is stored for entity models: one entity at a time is explained on
request (:func:`~lepton_core.ner.explain_entity`, on sentences such as
:func:`ner_test_sentences` gives); the run's tag ``explanation`` says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import NER_TASK, CallbackList, DataError, Message, TrainingError
from lepton_core.data import InputField, InputSchema, fingerprint, load_table
from lepton_core.evaluation import EvalReport
from lepton_core.models import family_class, family_names, make_model
from lepton_core.ner import (
    ENTITIES_COLUMN,
    NER_EXTENSIONS,
    TEXT_COLUMN,
    NerData,
    NerReport,
    Sentence,
    evaluate_ner,
    load_ner,
    looks_like_ner,
    ner_from_table,
)
from lepton_core.workspace import DatasetInfo, Workspace, slugify

__all__ = [
    "NER_TASK",
    "NO_NAMES",
    "NerRun",
    "confirm_ner_dataset",
    "found_kinds",
    "is_ner_dataset",
    "load_ner_dataset",
    "ner_dataset",
    "ner_test_sentences",
    "run_ner",
    "split_sentences",
]

_NO_SHAP = {
    "explainer": "none",
    "output_space": "",
    "outputs": [ENTITIES_COLUMN],
    "importance": {ENTITIES_COLUMN: []},
    "n_rows": 0,
}
#: Fewest labelled sentences a run accepts: some to learn from and some to test on.
MIN_SENTENCES = 5
#: What the prediction log keeps for a text in which an entity model found no name.
NO_NAMES = "(none)"


def found_kinds(kinds: Iterable[str]) -> str:
    """One entity answer as the prediction log keeps it: the kinds of name found, each once,
    sorted and joined (``"location, person"``), or :data:`NO_NAMES`.

    A plain value per answer lets monitoring compare the mix of what a model finds over
    time with what it found in its test sentences, as it does a classifier's labels.

    Parameters
    ----------
    kinds : iterable of str
        The kind of each name found (repeats allowed).

    Returns
    -------
    str
    """
    return ", ".join(sorted(set(kinds))) or NO_NAMES


def is_ner_dataset(info: DatasetInfo) -> bool:
    """Whether a confirmed data set holds labelled sentences."""
    return info.task == NER_TASK


def _reads_ner(family: str) -> bool:
    try:
        return family_class(family).reads == "ner"
    except ValueError:
        return False


def confirm_ner_dataset(
    workspace: Workspace,
    data: NerData,
    *,
    name: str,
    test: NerData | None = None,
    source: str = "",
) -> DatasetInfo:
    """Store labelled sentences (and optional test sentences) as a data set; the same
    sentences and name give the same id."""
    table = data.table()
    return workspace.save_dataset(
        table,
        name=name,
        target=ENTITIES_COLUMN,
        task=NER_TASK,
        sensitive=[],
        fingerprint=fingerprint(table),
        test=test.table() if test is not None else None,
        source=source,
        text_column=TEXT_COLUMN,
    )


def load_ner_dataset(workspace: Workspace, dataset_id: str) -> tuple[NerData, NerData | None]:
    """A confirmed NER data set's sentences and its test sentences (None without)."""
    table, test = workspace.load_dataset(dataset_id)
    return ner_from_table(table), (ner_from_table(test) if test is not None else None)


def _read_file(path: str) -> NerData:
    if Path(path).suffix.lower() in NER_EXTENSIONS:
        return load_ner(path)
    return ner_from_table(load_table(path))


def _looks_like_ner(path: str) -> bool:
    file = Path(path)
    if not file.is_file():
        return False
    with file.open("rb") as handle:
        return looks_like_ner(handle.read(65536), file.name)


def ner_dataset(config: Any, workspace: Workspace) -> DatasetInfo | None:
    """The NER data set a :class:`~lepton_core.runs.TrainConfig` names, confirmed (a file is
    stored first), or None when its data is a table for the other families.

    Raises
    ------
    DataError
        An entity family was asked for on data that holds no labelled sentences, or the
        file cannot be read as sentences.
    """
    source: str = config.data
    wants_ner = _reads_ner(config.model)
    if source.startswith("dataset:"):
        info = workspace.get_dataset(source.removeprefix("dataset:"))
        if is_ner_dataset(info):
            return info
    elif not source.startswith(("sample:", "hub:")) and (wants_ner or _looks_like_ner(source)):
        data = _read_file(source)
        test = _read_file(config.test) if config.test else None
        name = slugify(source.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0])
        return confirm_ner_dataset(workspace, data, name=name, test=test, source=source)
    if wants_ner:
        raise DataError(Message("ner_flow.not_ner_data", source=source, family=config.model))
    return None


def split_sentences(
    sentences: list[Sentence],
    test: list[Sentence] | None = None,
    *,
    test_size: float = 0.2,
    valid_size: float = 0.1,
    seed: int = 0,
) -> tuple[list[Sentence], list[Sentence], list[Sentence]]:
    """Training, validation and test sentences, shuffled with ``seed``; ``test`` (when
    given) is the test part and only validation sentences are held out.

    Raises
    ------
    DataError
        Too few sentences to learn from and test on.
    """
    n = len(sentences)
    if n < MIN_SENTENCES:
        raise DataError(Message("ner_flow.few_sentences", n=n, least=MIN_SENTENCES))
    order = [sentences[i] for i in np.random.default_rng(seed).permutation(n)]
    n_test = 0 if test is not None else max(1, round(n * test_size))
    n_valid = min(round(n * valid_size), n - n_test - 1)
    held_test = list(test) if test is not None else order[:n_test]
    return order[n_test + n_valid :], order[n_test : n_test + n_valid], held_test


def ner_test_sentences(workspace: Workspace, run_id: str) -> list[Sentence]:
    """The sentences an entity run was tested on, split again as the run split them
    (empty when its data set is gone)."""
    config = workspace.load_report(run_id, "config")
    try:
        data, test = load_ner_dataset(workspace, workspace.get_run(run_id).dataset_id)
    except DataError:
        return []
    return split_sentences(
        data.sentences,
        test.sentences if test is not None else None,
        test_size=float(config.get("test_size", 0.2)),
        valid_size=float(config.get("valid_size", 0.1)),
        seed=int(config.get("seed", 0)),
    )[2]


@dataclass
class NerRun:
    """What :func:`run_ner` recorded."""

    run_id: str
    model_name: str
    model_version: int
    family: str
    evaluation: EvalReport
    report: NerReport
    history: list[dict[str, float]] = field(default_factory=list)
    n_train: int = 0
    n_valid: int = 0
    n_test: int = 0


def _evaluation(report: NerReport) -> EvalReport:
    """The entity-level figures in the shape every run stores (micro averages, per type)."""
    return EvalReport(
        task="multiclass",
        n_rows=report.sentences,
        metrics=report.metrics(),
        classes=list(report.by_type),
        per_class={k: dict(v) for k, v in report.by_type.items()},
    )


def _test_answers(test: list[Sentence], tags: list[list[str]]) -> dict[str, list[str]]:
    """The kinds found in (``y_pred``) and truly in (``y_true``) each test sentence."""
    found = [
        Sentence(s.text, s.tokens, s.starts, t).entities for s, t in zip(test, tags, strict=True)
    ]
    return {
        "y_true": [found_kinds(e.type for e in s.entities) for s in test],
        "y_pred": [found_kinds(e.type for e in entities) for entities in found],
    }


def run_ner(
    config: Any,
    info: DatasetInfo,
    workspace: Workspace,
    *,
    callbacks: CallbackList | None = None,
    lap: Any = None,
) -> NerRun:
    """Fit ``config.model`` (an entity family; empty: ``ner_crf``) on the data set's
    sentences, score it on the test part and register it.

    Raises
    ------
    TrainingError
        The family reads tables or texts, not labelled sentences, or training was
        cancelled.
    DataError
        Too few sentences, or none with entities.
    """
    cb = callbacks or CallbackList(None)
    lap = lap or (lambda name: None)
    names = family_names(reads="ner")
    family = config.model or names[0]
    if family not in names:
        raise TrainingError(Message("ner_flow.table_family", family=family, names=", ".join(names)))
    config.model = family
    data, test_data = load_ner_dataset(workspace, info.id)
    train, valid, test = split_sentences(
        data.sentences,
        test_data.sentences if test_data is not None else None,
        test_size=config.test_size,
        valid_size=config.valid_size,
        seed=config.seed,
    )
    lap("load")

    cb.phase("training")
    model = make_model(family, "multiclass", seed=config.seed, **config.params)
    model.fit(train, X_valid=valid or None, progress=cb.step)
    if cb.control.should_stop:
        raise TrainingError(Message("runs.training_cancelled"))
    lap("fit")

    cb.phase("evaluating")
    # One pass over the test sentences: scored here, and kept as the test answers live
    # traffic is compared with (see NerModel.evaluate, which scores the worded ones).
    tags = model.predict_tags(test)
    worded = [i for i, s in enumerate(test) if s.tokens]
    report = evaluate_ner([test[i] for i in worded], [tags[i] for i in worded])
    evaluation = _evaluation(report)
    lap("evaluate")

    cb.phase("saving")
    model_name = config.model_name or info.name
    # A family that matches ready-made kinds to the data set's says which stand for which.
    kinds = model.kinds_note()
    extra = {"ner_kinds": {"note": kinds.to_dict()}} if kinds is not None else {}
    run_id, version = workspace.log_run(
        run_name=f"{model_name}-{family}",
        params={
            "family": family,
            "task": NER_TASK,
            "target": ENTITIES_COLUMN,
            "sensitive": "",
            "seed": config.seed,
            "n_train": len(train),
            "n_valid": len(valid),
            "n_test": len(test),
            "data_fingerprint": info.fingerprint,
            **{f"model.{k}": v for k, v in model.get_params().items()},
        },
        tags={
            "dataset_id": info.id,
            "dataset_name": info.name,
            "family": family,
            "task": NER_TASK,
            "explanation": str(Message("ner_flow.no_explanation")),
        },
        metrics={f"test_{k}": v for k, v in evaluation.metrics.items()},
        history=model.history_,
        reports={
            "config": config.to_dict(),
            "evaluation": evaluation.to_dict(),
            "fairness": [],
            "ner": report.to_dict(),
            # Not "test_predictions": readers of that one take its answers for a
            # classifier's, whose accuracy and intervals mean nothing here.
            "ner_answers": _test_answers(test, tags),
            **extra,
            # No stored SHAP for entity models (the Explain page explains one name at a
            # time): an empty summary keeps the model card's shape.
            "shap_summary": _NO_SHAP,
            # Example inputs for the Deploy page, in the table runs' form.
            "background": json.loads(
                pd.DataFrame({TEXT_COLUMN: [s.text for s in train[:100]]}).to_json(
                    orient="split", index=False
                )
            ),
            "history": model.history_,
            # One free-text input (a sentence), whatever the column's values look like; its
            # example (the demo's and the Deploy page's) is a sentence with names in it.
            "input_schema": InputSchema(
                [
                    InputField(
                        name=TEXT_COLUMN,
                        kind="text",
                        default=next((s.text for s in train if s.entities), train[0].text),
                    )
                ]
            ).to_dict(),
        },
        model=model,
        model_name=model_name,
        input_example=pd.DataFrame({TEXT_COLUMN: [s.text for s in train[:5]]}),
    )
    lap("save")
    return NerRun(
        run_id=run_id,
        model_name=model_name,
        model_version=version,
        family=family,
        evaluation=evaluation,
        report=report,
        history=[dict(h) for h in model.history_],
        n_train=len(train),
        n_valid=len(valid),
        n_test=len(test),
    )
