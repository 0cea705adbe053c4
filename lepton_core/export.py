"""Exports of a model version, checked, and int8 compression with its cost measured.

- :func:`export_mlflow_zip`: the MLflow model folder as a zip (servable by any
  MLflow-compatible platform).
- :func:`export_onnx`: the model's estimator as ONNX — LightGBM through
  onnxmltools, the linear model and the decision tree through skl2onnx, the MLP
  through ``torch.onnx`` — run with onnxruntime on the run's test rows and
  compared with the original (:class:`OnnxExport` reports the agreement).
  The graph takes :meth:`LeptonModel.transform`'s matrix (LightGBM: category
  codes), so Lepton's own input checks and encoding stay in front of it.
- :func:`compress`: dynamic int8 quantisation (torch for the MLP, onnxruntime for
  ONNX graphs), with size, latency, accuracy **and** fairness before and after.
"""

from __future__ import annotations

import copy
import io
import logging
import tempfile
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lepton_core._serde import JsonMixin
from lepton_core.exceptions import ModelError
from lepton_core.models import LeptonModel
from lepton_core.workspace import Workspace

__all__ = [
    "CompressionReport",
    "OnnxExport",
    "OnnxScorer",
    "VariantFigures",
    "compress",
    "export_mlflow_zip",
    "export_onnx",
    "onnx_inputs",
    "to_onnx",
]

_OPSET = 15  # the newest onnxmltools' LightGBM converter supports


@dataclass
class OnnxExport(JsonMixin):
    """An ONNX export and how closely it reproduces the original on the test rows."""

    model: str
    version: int
    family: str
    path: str
    size_bytes: int
    n_rows: int
    label_agreement: float
    max_abs_diff: float
    output: str


def onnx_inputs(model: LeptonModel, X: pd.DataFrame) -> np.ndarray:
    """The float32 matrix the ONNX graph takes: ``model.transform(X)`` (categories as codes)."""
    transformed = model.transform(X)
    if isinstance(transformed, pd.DataFrame):
        columns = []
        for c in transformed.columns:
            col = transformed[c]
            if isinstance(col.dtype, pd.CategoricalDtype):
                # LightGBM splits on category codes; unseen or missing (-1) goes as NaN.
                codes = col.cat.codes.to_numpy(dtype=np.float64)
                codes[codes < 0] = np.nan
                columns.append(codes)
            else:
                columns.append(col.to_numpy(dtype=np.float64))
        transformed = np.column_stack(columns)
    return np.ascontiguousarray(transformed, dtype=np.float32)


def to_onnx(model: LeptonModel, n_features: int) -> tuple[bytes, str]:
    """Convert the model's estimator; return the ONNX bytes and what its output holds.

    The output is ``"probabilities"`` (classifiers converted with their link),
    ``"raw"`` (the MLP's logits) or ``"value"`` (regression).
    """
    family = model.family
    regression = model.task == "regression"
    if family == "lightgbm":
        from onnxmltools import convert_lightgbm
        from onnxmltools.convert.common.data_types import FloatTensorType

        onx = convert_lightgbm(
            model.final_estimator_,
            initial_types=[("input", FloatTensorType([None, n_features]))],
            target_opset=_OPSET,
            zipmap=False,
        )
        return onx.SerializeToString(), "value" if regression else "probabilities"
    if family in ("logistic", "tree"):
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType as SkFloat

        estimator = model.final_estimator_
        options = None if regression else {id(estimator): {"zipmap": False}}
        onx = convert_sklearn(
            estimator,
            initial_types=[("input", SkFloat([None, n_features]))],
            target_opset=_OPSET,
            options=options,
        )
        return onx.SerializeToString(), "value" if regression else "probabilities"
    if family == "mlp":
        import torch

        buffer = io.BytesIO()
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated but needs no onnxscript; a Sequential
            # of Linear/ReLU/Dropout exports the same with either.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                model.final_estimator_.eval(),
                (torch.zeros(2, n_features),),
                buffer,
                dynamo=False,
                input_names=["input"],
                output_names=["raw"],
                dynamic_axes={"input": {0: "n"}, "raw": {0: "n"}},
                opset_version=_OPSET,
            )
        return buffer.getvalue(), "value" if regression else "raw"
    raise ModelError(f"A {family} model cannot be exported to ONNX yet; export the MLflow folder.")


class OnnxScorer:
    """Scores like the original model, with the estimator run by onnxruntime.

    Parameters
    ----------
    model : LeptonModel
        The original model (its input checks and ``transform`` are reused).
    onnx_bytes : bytes
        The graph from :func:`to_onnx`.
    output : str
        What the graph outputs (``"probabilities"``, ``"raw"`` or ``"value"``).
    """

    def __init__(self, model: LeptonModel, onnx_bytes: bytes, output: str):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # the LightGBM graph's label shape warning is harmless
        self.model, self.output = model, output
        self.task, self.family = model.task, model.family
        self.classes_ = getattr(model, "classes_", None)
        self.session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        names = [o.name for o in self.session.get_outputs()]
        self._output = "probabilities" if "probabilities" in names else names[-1]

    def _run(self, X: pd.DataFrame) -> np.ndarray:
        out = self.session.run([self._output], {"input": onnx_inputs(self.model, X)})[0]
        return np.asarray(out, dtype=np.float64)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        out = self._run(X)
        if self.output == "probabilities":
            return out
        from scipy.special import expit, softmax

        if out.shape[1] == 1:
            positive = expit(out[:, 0])
            return np.column_stack([1.0 - positive, positive])
        return softmax(out, axis=1)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.task == "regression":
            return self._run(X).reshape(-1)
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _test_rows(workspace: Workspace, run_id: str) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """The run's test rows (features, target, sensitive columns), split as training did."""
    from lepton_core.data import split_table

    config = workspace.load_report(run_id, "config")
    run = workspace.get_run(run_id)
    info = workspace.get_dataset(run.dataset_id)
    df, test = workspace.load_dataset(info.id)
    split = split_table(
        df,
        info.target,
        task=info.task,  # type: ignore[arg-type]
        test=test,
        test_size=config.get("test_size", 0.2),
        valid_size=config.get("valid_size", 0.1),
        seed=config.get("seed", 0),
    )
    schema = workspace.load_input_schema(run_id)
    sensitive = [c for c in info.sensitive if c in split.test.columns]
    return (
        schema.prepare(split.test).reset_index(drop=True),
        split.test[info.target].reset_index(drop=True),
        split.test[sensitive].reset_index(drop=True),
    )


def export_onnx(
    workspace: Workspace, name: str, version: str | int | None, dest: str | Path
) -> OnnxExport:
    """Export a model version to ``dest`` (a folder) as ONNX and check it on the test rows.

    Raises
    ------
    ModelError
        The model does not exist, or its family has no ONNX converter.
    """
    info = workspace.model_version(name, version)
    model = workspace.load_model(info.name, info.version)
    if model.family == "text":
        raise ModelError(
            "A text model cannot be exported to ONNX yet; export the MLflow folder (zip) instead."
        )
    X, _, _ = _test_rows(workspace, info.run_id)
    data, output = to_onnx(model, onnx_inputs(model, X.head(1)).shape[1])
    path = Path(dest) / f"{info.name}-v{info.version}.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    scorer = OnnxScorer(model, data, output)
    if model.task == "regression":
        ours, theirs = model.predict(X), scorer.predict(X)
        agreement = float(np.mean(np.isclose(ours, theirs, rtol=1e-4, atol=1e-4)))
        diff = float(np.max(np.abs(ours - theirs)))
    else:
        ours, theirs = model.predict_proba(X), scorer.predict_proba(X)
        agreement = float(np.mean(ours.argmax(axis=1) == theirs.argmax(axis=1)))
        diff = float(np.max(np.abs(ours - theirs)))
    return OnnxExport(
        model=info.name,
        version=info.version,
        family=model.family,
        path=str(path),
        size_bytes=len(data),
        n_rows=len(X),
        label_agreement=agreement,
        max_abs_diff=diff,
        output=output,
    )


def export_mlflow_zip(
    workspace: Workspace, name: str, version: str | int | None, dest: str | Path
) -> Path:
    """Zip the version's MLflow model folder (after checking its files) into folder ``dest``."""
    import mlflow.artifacts

    info = workspace.model_version(name, version)
    workspace.load_model(info.name, info.version)  # refuses a folder changed on disk
    out = Path(dest) / f"{info.name}-v{info.version}-mlflow.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=workspace.model_location(info.name, info.version),
                dst_path=tmp,
                tracking_uri=workspace.tracking_uri,
            )
        )
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                zf.write(path, Path("model") / path.relative_to(folder))
    return out


# ---------------------------------------------------------------- compression
@dataclass
class VariantFigures(JsonMixin):
    """One variant's cost and quality on the test rows."""

    name: str
    size_bytes: int
    latency_ms: float
    metrics: dict[str, float]
    fairness: dict[str, dict[str, float | None]]


@dataclass
class CompressionReport(JsonMixin):
    """Before/after figures of int8 compression (every figure measured on the test rows)."""

    model: str
    version: int
    method: str
    n_rows: int
    before: VariantFigures
    after: VariantFigures
    label_agreement: float


def _figures(
    name: str, scorer: Any, size: int, X: pd.DataFrame, y: pd.Series, groups: pd.DataFrame
) -> VariantFigures:
    from lepton_core.evaluation import evaluate
    from lepton_core.fairness import fairness_reports
    from lepton_core.tasks import is_classification

    task = scorer.task
    start = time.perf_counter()
    for _ in range(3):
        pred = scorer.predict(X)
    latency = (time.perf_counter() - start) / 3 * 1000
    classification = is_classification(task)
    proba = scorer.predict_proba(X) if classification else None
    classes = list(scorer.classes_) if classification else None
    report = evaluate(y.to_numpy(), pred, task=task, y_proba=proba, classes=classes)
    fairness = {}
    if len(groups.columns):
        positive = classes[1] if task == "binary" and classes else None
        for r in fairness_reports(
            y.to_numpy(), pred, sensitive_features=groups, task=task, positive_label=positive
        ):
            fairness[r.attribute] = {
                "demographic_parity_difference": r.demographic_parity_difference,
                "equalized_odds_difference": r.equalized_odds_difference,
            }
    return VariantFigures(name, size, latency, report.metrics, fairness)


def _state_size(network: Any) -> int:
    import torch

    buffer = io.BytesIO()
    torch.save(network.state_dict(), buffer)
    return len(buffer.getvalue())


class _TorchQuantised:
    """An MLP or text model with its Linear layers dynamically quantised to int8 (torch)."""

    def __init__(self, model: LeptonModel):
        import torch

        with warnings.catch_warnings():
            # Eager dynamic quantisation is deprecated in favour of torchao, which is not a
            # dependency; it still runs on torch 2.13 CPU.
            warnings.simplefilter("ignore")
            if model.family == "text":
                # The encoder's Linear layers only: the small head stays float32, so a head
                # with large weights (a linear probe on separable data) keeps its precision.
                self.network = copy.deepcopy(model.final_estimator_).eval()
                self.network.encoder = torch.ao.quantization.quantize_dynamic(
                    self.network.encoder, {torch.nn.Linear}, dtype=torch.qint8
                )
            else:
                self.network = torch.ao.quantization.quantize_dynamic(
                    model.final_estimator_.eval(), {torch.nn.Linear}, dtype=torch.qint8
                )
        self.model, self.task, self.classes_ = model, model.task, getattr(model, "classes_", None)
        if model.family == "text":  # the same tokenizer and batching, the int8 network
            self.model = copy.copy(model)
            self.model.final_estimator_ = self.network

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        import torch

        if self.model.family == "text":
            return self.model.logits(X.iloc[:, 0])
        with torch.no_grad():
            return self.network(torch.as_tensor(onnx_inputs(self.model, X))).numpy()

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        from scipy.special import expit, softmax

        out = self._raw(X).astype(np.float64)
        if out.shape[1] == 1:
            return np.column_stack([1.0 - expit(out[:, 0]), expit(out[:, 0])])
        return softmax(out, axis=1)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.task == "regression":
            return self._raw(X).reshape(-1).astype(np.float64)
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def compress(
    workspace: Workspace, name: str, version: str | int | None, *, method: str = "onnx-int8"
) -> CompressionReport:
    """Quantise a model version to int8 and measure what it costs.

    Parameters
    ----------
    method : str
        ``"onnx-int8"`` (onnxruntime dynamic quantisation of the ONNX export; any family
        with weight matrices) or ``"torch-int8"`` (torch dynamic quantisation; the MLP).

    Raises
    ------
    ModelError
        The method does not apply to this model's family.
    """
    info = workspace.model_version(name, version)
    model = workspace.load_model(info.name, info.version)
    X, y, groups = _test_rows(workspace, info.run_id)
    if method == "torch-int8":
        if model.family not in ("mlp", "text"):
            raise ModelError(
                "torch int8 quantisation applies to the neural network (MLP) and text models."
            )
        # Sizes of the network's weights alone on both sides; the preprocessing is shared.
        before_scorer: Any = model
        before_size = _state_size(model.final_estimator_)
        after_scorer: Any = _TorchQuantised(model)
        after_size = _state_size(after_scorer.network)
    elif method == "onnx-int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        if model.family in ("lightgbm", "tree"):
            raise ModelError(
                "Tree models have no weight matrices to quantise; int8 compression applies "
                "to the logistic and neural network models."
            )
        if model.family == "text":
            raise ModelError(
                "Text models have no ONNX export yet; choose PyTorch int8 compression instead."
            )
        data, output = to_onnx(model, onnx_inputs(model, X.head(1)).shape[1])
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
            src.write_bytes(data)
            # onnxruntime logs advice through the root logger on every call; keep it quiet.
            logging.disable(logging.WARNING)
            try:
                quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
            finally:
                logging.disable(logging.NOTSET)
            quantised = dst.read_bytes()
        before_scorer, before_size = OnnxScorer(model, data, output), len(data)
        after_scorer, after_size = OnnxScorer(model, quantised, output), len(quantised)
    else:
        raise ValueError(f"unknown compression method {method!r}")
    before = _figures("original", before_scorer, before_size, X, y, groups)
    after = _figures(method, after_scorer, after_size, X, y, groups)
    agreement = float(np.mean(before_scorer.predict(X) == after_scorer.predict(X)))
    return CompressionReport(
        model=info.name,
        version=info.version,
        method=method,
        n_rows=len(X),
        before=before,
        after=after,
        label_agreement=agreement,
    )
