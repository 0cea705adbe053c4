"""Train one model end to end: data → split → fit → evaluate + fairness → SHAP → workspace.

:func:`train` is what ``python -m lepton_core train`` and every background job
run, so a run started from the browser and one started from a script are the
same thing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from lepton_core.core import (
    CallbackList,
    DataError,
    JsonMixin,
    Message,
    TrainerCallback,
    TrainingError,
)
from lepton_core.data import (
    CleanupStep,
    DataSplit,
    InputSchema,
    Schema,
    check_sensitive,
    infer_schema,
    load_hub_dataset,
    load_sample,
    load_table,
    parse_hub_source,
    prepare_features,
    split_table,
    suggest_target,
)
from lepton_core.dp import PrivacyOptions, PrivacyReport
from lepton_core.evaluation import (
    EvalReport,
    FairnessReport,
    check_features,
    evaluate,
    fairness_reports,
)
from lepton_core.explain import explain, rows_to_explain, summarize
from lepton_core.models import family_class, family_names, make_model
from lepton_core.runs._energy import EnergyReport, measured
from lepton_core.runs._ner import ner_dataset, run_ner
from lepton_core.runs._reports import headline_figures
from lepton_core.text import default_text_family
from lepton_core.workspace import DatasetInfo, Workspace, confirm_dataset, slugify

__all__ = [
    "PreparedData",
    "RecordedRun",
    "TrainConfig",
    "TrainResult",
    "prepare_data",
    "record_run",
    "resolve_dataset",
    "split_run_data",
    "train",
]

_BACKGROUND_ROWS = 100
#: The model family that reads one free-text column (``lepton_core.text``).


@dataclass
class TrainConfig(JsonMixin):
    """Everything that defines a training run.

    Attributes
    ----------
    data : str
        A file path, ``sample:NAME`` for a bundled sample, or ``dataset:ID`` for
        a data set confirmed on the Data page.
    target : str, optional
        The column to predict; defaults to the data set's or the suggested one.
    test : str, optional
        A separate test file; otherwise a stratified share of ``data`` is held out.
    sensitive : list of str
        Columns to compare groups by; defaults to the data set's or the suggested ones.
    model : str
        One of ``lightgbm`` (default), ``logistic``, ``tree``, ``mlp``, ``ngram`` or
        ``text`` (the last two read the data set's free-text column); empty: decided from
        the data (the default text family for free text, else ``lightgbm``). Labelled
        sentences (a CoNLL/BIO file, JSON lines with spans, or a data set confirmed as
        entities) take ``ner_crf`` or ``ner_minilm``, empty: ``ner_crf``.
    params : dict
        Model parameters passed to :func:`lepton_core.models._base.make_model`; for
        ``text`` e.g. ``{"base": "minilm", "mode": "quick"}``.
    text_column : str, optional
        The free-text column a ``text`` model reads; defaults to the data set's or
        the first text column.
    explain_rows : int, optional
        Test rows to compute SHAP values for (the explanation stored with the run);
        by default 2,000 for tree and linear models, 200 for the MLP.
    privacy : PrivacyOptions, optional
        Train with differential privacy (Opacus) to this target ε and δ: the MLP, or a
        text model (Quick mode's head, or Fine-tune's encoder biases, layer norms and head).
    """

    data: str
    target: str | None = None
    test: str | None = None
    task: str | None = None
    sensitive: list[str] | None = None
    model: str = "lightgbm"
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    test_size: float = 0.2
    valid_size: float = 0.1
    model_name: str | None = None
    explain_rows: int | None = None
    privacy: PrivacyOptions | None = None
    text_column: str | None = None


@dataclass
class TrainResult(JsonMixin):
    """What one training run produced; every figure was measured on the test part."""

    run_id: str
    model_name: str
    model_version: int
    dataset_id: str
    task: str
    family: str
    config: TrainConfig
    evaluation: EvalReport
    fairness: list[FairnessReport]
    shap_summary: dict[str, Any]
    history: list[dict[str, float]]
    timings: dict[str, float]
    n_train: int
    n_valid: int
    n_test: int
    privacy: PrivacyReport | None = None
    energy: EnergyReport | None = None

    def headline(self) -> dict[str, Any]:
        """Accuracy-type figures plus the first attribute's fairness gaps."""
        return headline_figures(self.evaluation, self.fairness[0] if self.fairness else None)


def resolve_dataset(
    config: TrainConfig, workspace: Workspace
) -> tuple[DatasetInfo, pd.DataFrame, pd.DataFrame | None]:
    """Turn ``config.data`` into a stored data set with its target and sensitive columns."""
    source = config.data
    if source.startswith("dataset:"):
        info = workspace.get_dataset(source.removeprefix("dataset:"))
        df, test = workspace.load_dataset(info.id)
        if config.target and config.target != info.target:
            info = _store(workspace, df, test, config, name=info.name, source=info.source)
        return info, df, test
    if source.startswith("hub:"):
        dataset_id, subset, split = parse_hub_source(source)
        df = load_hub_dataset(dataset_id, config=subset, split=split)
        info = _store(workspace, df, None, config, name=slugify(dataset_id), source=source)
        return info, df, None
    if source.startswith("sample:"):
        sample = load_sample(source.removeprefix("sample:"))
        config.target = config.target or sample.target
        if config.sensitive is None:
            config.sensitive = list(sample.sensitive)
        config.text_column = config.text_column or sample.text_column or None
        info = _store(workspace, sample.train, sample.test, config, name=sample.name, source=source)
        return info, sample.train, sample.test
    df = load_table(source)
    test = load_table(config.test) if config.test else None
    name = slugify(source.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0])
    info = _store(workspace, df, test, config, name=name, source=source)
    return info, df, test


def _store(
    workspace: Workspace,
    df: pd.DataFrame,
    test: pd.DataFrame | None,
    config: TrainConfig,
    *,
    name: str,
    source: str,
) -> DatasetInfo:
    schema = infer_schema(df)
    target = config.target or suggest_target(df, schema)
    if target is None:
        raise DataError(Message("runs.no_target"))
    text_column = config.text_column or ""
    if not text_column and _reads_text(config.model):
        text_column = _first_text_column(schema, target)
    return confirm_dataset(
        workspace,
        df,
        name=name,
        target=target,
        task=config.task,  # type: ignore[arg-type]
        sensitive=config.sensitive,
        text_column=text_column,
        test=test,
        source=source,
    )


def _reads_text(family: str) -> bool:
    """Whether ``family`` learns from one text column (an unknown name does not); image
    families read one too, of image references."""
    try:
        return family_class(family).reads in ("text", "image")
    except ValueError:
        return False


def _data_family(schema: Schema, target: str, text_column: str | None) -> str:
    """The family a data set starts with: the default text family for a data set with a
    chosen text column or whose only inputs are free text, else LightGBM."""
    texts = [c.name for c in schema.columns if c.kind == "text" and c.name != target]
    if text_column or (texts and not schema.feature_columns(target)):
        return default_text_family()
    return "lightgbm"


def _first_text_column(schema: Schema, target: str) -> str:
    names = [c.name for c in schema.columns if c.kind == "text" and c.name != target]
    if not names:
        raise DataError(Message("runs.no_text_column"))
    return names[0]


@dataclass
class PreparedData:
    """A run's data set, split and turned into model input."""

    info: DatasetInfo
    schema: Schema
    split: DataSplit
    features: list[str]
    x_train: pd.DataFrame
    x_valid: pd.DataFrame
    x_test: pd.DataFrame


def split_run_data(
    config: TrainConfig, info: DatasetInfo, df: pd.DataFrame, test: pd.DataFrame | None
) -> DataSplit:
    """The training, validation and test parts a run with ``config`` uses (seeded)."""
    return split_table(
        df,
        info.target,
        task=info.task,  # type: ignore[arg-type]
        test=test,
        test_size=config.test_size,
        valid_size=config.valid_size,
        seed=config.seed,
    )


def prepare_data(config: TrainConfig, workspace: Workspace) -> PreparedData:
    """Resolve, split and prepare the data of ``config``: the same seed gives the same parts.

    Training, Auto mode and mitigation all call this, so a mitigated or searched
    model sees exactly the rows its run did.
    """
    info, df, test_df = resolve_dataset(config, workspace)
    if config.sensitive is not None and config.sensitive != info.sensitive:
        check_sensitive(df, config.sensitive)
        info.sensitive = list(config.sensitive)
    schema = infer_schema(df)
    if not config.model:  # "the data's default", decided once, here (the CLI without --model)
        config.model = _data_family(schema, info.target, info.text_column)
    split = split_run_data(config, info, df, test_df)
    if _reads_text(config.model):
        column = config.text_column or info.text_column or _first_text_column(schema, info.target)
        if column not in df.columns or column == info.target:
            raise DataError(Message("runs.unknown_text_column", column=column))
        info.text_column = column
        # Text models read one column, as written; the other columns stay for fairness.
        x_train, x_valid, x_test = (
            part[[column]].fillna("").astype("str")
            for part in (split.train, split.valid, split.test)
        )
        return PreparedData(info, schema, split, [column], x_train, x_valid, x_test)
    features = schema.feature_columns(info.target)
    if not features:
        raise DataError(Message("runs.no_features"))
    x_train, x_valid, x_test = (
        prepare_features(part, schema, info.target)
        for part in (split.train, split.valid, split.test)
    )
    return PreparedData(info, schema, split, features, x_train, x_valid, x_test)


def train(
    config: TrainConfig,
    *,
    callbacks: list[TrainerCallback] | None = None,
    workspace: Workspace | None = None,
) -> TrainResult:
    """Train, evaluate, explain and register one model, with the energy it used.

    Raises
    ------
    DataError
        The data cannot be read or cannot be used as configured.
    TrainingError
        Training was cancelled or could not produce a model.
    """
    workspace = workspace or Workspace()
    return measured(workspace, lambda: _train(config, callbacks=callbacks, workspace=workspace))


def _train(
    config: TrainConfig,
    *,
    callbacks: list[TrainerCallback] | None = None,
    workspace: Workspace | None = None,
) -> TrainResult:
    """:func:`train` without the energy meter."""
    families = family_names()
    if config.model and config.model not in families:
        raise TrainingError(
            Message("runs.unknown_family", family=config.model, known=", ".join(families))
        )
    workspace = workspace or Workspace()
    cb = CallbackList(callbacks)
    lap = Laps()
    cb.phase("loading")
    cb.train_begin()
    ner_info = ner_dataset(config, workspace)
    if ner_info is not None:  # labelled sentences: their own split, seqeval scores, no SHAP
        ner = run_ner(config, ner_info, workspace, callbacks=cb, lap=lap)
        cb.train_end()
        workspace.set_run_tags(ner.run_id, {"timings": _compact(lap.timings)})
        return TrainResult(
            run_id=ner.run_id,
            model_name=ner.model_name,
            model_version=ner.model_version,
            dataset_id=ner_info.id,
            task=ner_info.task,
            family=ner.family,
            config=config,
            evaluation=ner.evaluation,
            fairness=[],
            shap_summary={},
            history=ner.history,
            timings=lap.timings,
            n_train=ner.n_train,
            n_valid=ner.n_valid,
            n_test=ner.n_test,
        )
    for name in ("task", "seed"):
        if name in config.params:  # would reach the model twice
            raise TrainingError(
                f"'{name}' is a setting of the whole run, not a model parameter; set the "
                f"run's {name} instead."
            )
    data = prepare_data(config, workspace)
    info, split = data.info, data.split
    task, target = info.task, info.target
    lap("load")

    cb.phase("training")
    try:
        model = make_model(config.model, task, seed=config.seed, **config.params)  # type: ignore[arg-type]
    except ValueError as exc:  # a setting the family does not have (the API's and CLI's users)
        raise TrainingError(str(exc)) from None
    if config.privacy is not None:
        model = model.private(config.privacy)
    has_valid = len(split.valid) > 0  # none with valid_size=0 (e.g. Auto's final refit)
    model.fit(
        data.x_train,
        split.train[target].to_numpy(),
        X_valid=data.x_valid if has_valid else None,
        y_valid=split.valid[target].to_numpy() if has_valid else None,
        progress=cb.step,
    )
    if cb.control.should_stop:
        raise TrainingError(Message("runs.training_cancelled"))
    lap("fit")

    privacy: PrivacyReport | None = getattr(model, "privacy_", None)
    recorded = record_run(
        workspace,
        data,
        model,
        config=config,
        run_name=f"{config.model_name or info.name}-{config.model}",
        params={f"model.{k}": v for k, v in model.get_params().items()},
        reports={"privacy": privacy.to_dict() if privacy is not None else None},
        metrics=(
            {"privacy_epsilon": privacy.epsilon, "privacy_delta": privacy.delta}
            if privacy is not None
            else {}
        ),
        callbacks=cb,
        lap=lap,
    )
    lap("save")
    cb.train_end()
    history = [dict(h) for h in model.history_]
    result = trained(recorded, data, config, config.model, history, lap, privacy=privacy)
    workspace.set_run_tags(recorded.run_id, {"timings": _compact(lap.timings)})
    return result


class Laps:
    """A run's stopwatch: ``lap("fit")`` stores the seconds since the previous lap under
    that name in ``timings`` (the run's tags and the Train page show them)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._clock = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._clock, 3)
        self._clock = now


def trained(
    recorded: RecordedRun,
    data: PreparedData,
    config: TrainConfig,
    family: str,
    history: list[dict[str, float]],
    lap: Laps,
    *,
    privacy: PrivacyReport | None = None,
) -> TrainResult:
    """The result of a table run that :func:`record_run` registered."""
    return TrainResult(
        run_id=recorded.run_id,
        model_name=recorded.model_name,
        model_version=recorded.model_version,
        dataset_id=data.info.id,
        task=data.info.task,
        family=family,
        config=config,
        evaluation=recorded.evaluation,
        fairness=recorded.fairness,
        shap_summary=recorded.shap_summary,
        history=history,
        timings=lap.timings,
        n_train=len(data.split.train),
        n_valid=len(data.split.valid),
        n_test=len(data.split.test),
        privacy=privacy,
    )


@dataclass
class RecordedRun(JsonMixin):
    """A model version registered by :func:`record_run` and the figures stored with it."""

    run_id: str
    model_name: str
    model_version: int
    evaluation: EvalReport
    fairness: list[FairnessReport]
    shap_summary: dict[str, Any]


def record_run(
    workspace: Workspace,
    data: PreparedData,
    model: Any,
    *,
    config: TrainConfig,
    run_name: str,
    params: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    metrics: dict[str, float] | None = None,
    reports: dict[str, Any] | None = None,
    sensitive: list[str] | None = None,
    explain_rows: int | None = None,
    callbacks: CallbackList | None = None,
    lap: Any = None,
) -> RecordedRun:
    """Score a fitted model on the test part, explain it, and register it as a new version.

    Training, mitigation and compression all end here, so every version carries the
    same reports (evaluation, fairness, SHAP, input schema, test predictions) measured
    the same way. ``params``, ``tags``, ``metrics`` and ``reports`` add to the common
    ones; ``sensitive`` adds fairness attributes to the data set's. Explaining reports
    its rows through ``callbacks`` (``advance``); a stop request there cancels the run.
    """
    cb = callbacks or CallbackList(None)
    lap = lap or (lambda name: None)
    info, split, features = data.info, data.split, data.features
    task, target = info.task, info.target
    text = _reads_text(config.model)

    cb.phase("evaluating")
    y_test = split.test[target].to_numpy()
    y_pred, proba = model.predict_scored(data.x_test)
    classes = list(model.classes_) if proba is not None else None
    evaluation = evaluate(y_test, y_pred, task=task, y_proba=proba, classes=classes)  # type: ignore[arg-type]
    if not text:  # columns that make a score look better than it is (leaks, IDs, p >> n)
        evaluation.warnings = check_features(split.train[features], split.train[target], task=task)
        evaluation.features_checked = True
    attributes = list(dict.fromkeys([*info.sensitive, *(sensitive or [])]))
    fairness = (
        fairness_reports(
            y_test,
            y_pred,
            sensitive_features=split.test[attributes].reset_index(drop=True),
            task=task,  # type: ignore[arg-type]
            positive_label=classes[1] if task == "binary" and classes else None,
        )
        if attributes
        else []
    )
    lap("evaluate")

    unit = "texts" if text else "rows"
    max_rows = explain_rows or config.explain_rows or model.explain_rows  # None: the default
    cb.phase(
        "explaining",
        total=rows_to_explain(model, len(data.x_test), max_rows),
        unit=unit,
        figures=headline_figures(evaluation, fairness[0] if fairness else None),
    )
    background_raw = split.train[features].sample(
        min(_BACKGROUND_ROWS, len(split.train)), random_state=config.seed
    )
    background = (
        background_raw.fillna("").astype("str")
        if text
        else prepare_features(background_raw, data.schema, target)
    )
    explanation = explain(
        model,
        data.x_test,
        background=background,
        max_rows=max_rows,
        seed=config.seed,
        # Token SHAP can take most of a text run: the bar and the ETA follow it.
        progress=lambda done, total: cb.advance(done, total, unit=unit),
    )
    if cb.control.should_stop:
        raise TrainingError(Message("runs.training_cancelled"))
    shap_summary = summarize(explanation)
    lap("explain")

    cb.phase("saving")
    model_name = config.model_name or info.name
    all_metrics = {f"test_{k}": v for k, v in evaluation.metrics.items()}
    all_metrics.update(metrics or {})
    for report in fairness:
        for key, value in report.summary().items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                all_metrics[f"fairness_{report.attribute}_{key}"] = value
    run_id, version = workspace.log_run(
        run_name=run_name,
        params={
            "family": config.model,
            "task": task,
            "target": target,
            "sensitive": ",".join(attributes),
            "seed": config.seed,
            "n_train": len(split.train),
            "n_valid": len(split.valid),
            "n_test": len(split.test),
            "data_fingerprint": info.fingerprint,
            **(params or {}),
        },
        tags={
            "dataset_id": info.id,
            "dataset_name": info.name,
            "family": config.model,
            "task": task,
            **(tags or {}),
        },
        metrics=all_metrics,
        history=model.history_,
        reports={
            "config": config.to_dict(),
            "evaluation": evaluation.to_dict(),
            "fairness": [r.to_dict() for r in fairness],
            "explanation": explanation.to_dict(),
            "shap_summary": shap_summary,
            "input_schema": InputSchema.from_frame(
                split.train,
                data.schema,
                features,
                [CleanupStep.from_dict(step) for step in data.info.cleanups],
            ).to_dict(),
            "background": json.loads(background_raw.to_json(orient="split", index=False)),
            "history": model.history_,
            # Test labels and predictions, for bootstrap confidence intervals (model card).
            "test_predictions": _test_predictions(y_test, y_pred, proba, classes),
            # What was done to personal data before training (empty when nothing was).
            "anonymisation": {"parent": info.parent, "steps": info.anonymisation},
            **(reports or {}),
        },
        model=model,
        model_name=model_name,
        input_example=data.x_train.head(5),
    )
    return RecordedRun(run_id, model_name, version, evaluation, fairness, shap_summary)


def _test_predictions(y_true: Any, y_pred: Any, proba: Any, classes: list | None) -> dict:
    def plain(values: Any) -> list:
        return [v.item() if hasattr(v, "item") else v for v in values]

    return {
        "y_true": plain(y_true),
        "y_pred": plain(y_pred),
        "classes": plain(classes) if classes is not None else None,
        "proba": proba.round(6).tolist() if proba is not None else None,
    }


def _compact(values: dict[str, float]) -> str:
    return ",".join(f"{k}={v:.2f}" for k, v in values.items())
