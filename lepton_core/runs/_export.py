"""Exports of a model version, checked against the original on its test rows.

- :func:`export_mlflow_zip`: the MLflow model folder as a zip (servable by any
  MLflow-compatible platform).
- :func:`export_onnx`: the model's estimator as ONNX — LightGBM through
  onnxmltools, the linear model and the decision tree through skl2onnx, the MLP
  and text models through ``torch.onnx`` (:mod:`lepton_core.text.onnx`) — run
  with onnxruntime on the run's test rows and compared with the original
  (:class:`OnnxExport` reports the agreement). A tabular graph takes
  :meth:`LeptonModel.transform`'s matrix (LightGBM: category codes), a text graph
  token ids, so Lepton's own input checks, encoding and tokenizer stay in front.

int8 compression, which makes a new model version, is :mod:`lepton_core.runs._compress`.
"""

from __future__ import annotations

import io
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import JsonMixin, ModelError
from lepton_core.data import InputSchema
from lepton_core.models import LeptonModel, probabilities_from_raw
from lepton_core.workspace import Workspace

__all__ = [
    "OnnxExport",
    "OnnxNetwork",
    "OnnxScorer",
    "export_mlflow_zip",
    "export_onnx",
    "onnx_scorer",
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


def to_onnx(model: LeptonModel) -> tuple[bytes, str]:
    """Convert the model's estimator; return the ONNX bytes and what its output holds.

    The output is ``"probabilities"`` (classifiers converted with their link),
    ``"raw"`` (the MLP's logits) or ``"value"`` (regression). An ``onnx-int8``
    compressed version gives its int8 graph.
    """
    family = model.family
    regression = model.task == "regression"
    if model.compression_ is not None:
        if model.compression_.graph is None:
            raise ModelError(
                "A PyTorch int8 version has no ONNX form; export the version it was made from, "
                "or compress that one with ONNX int8."
            )
        return model.compression_.graph, "value" if regression else "raw"
    if family == "text":
        from lepton_core.text.onnx import text_to_onnx

        return text_to_onnx(model), "raw"
    n_features = len(model.feature_names_out_)
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


def onnx_scorer(model: LeptonModel, onnx_bytes: bytes, output: str) -> Any:
    """What scores like ``model`` with its graph from :func:`to_onnx` in onnxruntime."""
    if model.family == "text":
        from lepton_core.text.onnx import text_onnx_scorer

        return text_onnx_scorer(model, onnx_bytes)
    return OnnxScorer(model, onnx_bytes, output)


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

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        feed = {"input": np.ascontiguousarray(inputs, dtype=np.float32)}
        return np.asarray(self.session.run([self._output], feed)[0], dtype=np.float64)

    def _proba(self, out: np.ndarray) -> np.ndarray:
        if self.output == "probabilities":
            return out
        return probabilities_from_raw(out[:, 0] if out.shape[1] == 1 else out)

    def _scored(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        out = self._run(inputs)
        if self.task == "regression":
            return out.reshape(-1), None
        proba = self._proba(out)
        return self.classes_[proba.argmax(axis=1)], proba

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self._proba(self._run(self.model.transform(X)))

    def predict_scored(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """As :meth:`LeptonModel.predict_scored`: labels and probabilities in one pass."""
        return self._scored(self.model.transform(X))

    def predict_records(
        self, records: list[dict[str, Any]], schema: InputSchema
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """As :meth:`LeptonModel.predict_records`."""
        schema.check(records)
        inputs = self.model.record_inputs(records, schema)
        return self._scored(
            inputs if inputs is not None else self.model.transform(schema.to_frame(records))
        )

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.predict_scored(X)[0]


class OnnxNetwork:
    """An ONNX graph in onnxruntime, called as the torch network it replaces is.

    The MLP's network takes a float tensor; a text network takes ``input_ids`` and
    ``attention_mask`` and returns an object with ``logits``.
    """

    def __init__(self, graph: bytes, config: Any = None, *, threads: int | None = None):
        import onnxruntime as ort
        import torch

        options = ort.SessionOptions()
        options.log_severity_level = 3
        # As many threads as torch uses, so the graph gets the cores the network would.
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.config = config  # a text network's: the number of labels
        self._device_probe = torch.zeros(0)

    def __call__(self, x: Any = None, **batch: Any) -> Any:
        import torch

        if x is not None:  # the MLP
            return torch.from_numpy(self.session.run(None, {self.inputs[0]: x.numpy()})[0])
        feed = {name: batch[name].cpu().numpy() for name in self.inputs}
        return SimpleNamespace(logits=torch.from_numpy(self.session.run(None, feed)[0]))

    def eval(self) -> OnnxNetwork:
        return self

    def parameters(self) -> Any:
        # Callers find the device of a network's inputs from its first parameter.
        return iter([self._device_probe])


def load_test_rows(
    workspace: Workspace, run_id: str
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """The run's test rows (features, target, sensitive columns), split as training did."""
    from lepton_core.runs._training import TrainConfig, split_run_data

    config = TrainConfig.from_dict(workspace.load_report(run_id, "config"))
    info = workspace.get_dataset(workspace.get_run(run_id).dataset_id)
    split = split_run_data(config, info, *workspace.load_dataset(info.id))
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
    X, _, _ = load_test_rows(workspace, info.run_id)
    data, output = to_onnx(model)
    path = Path(dest) / f"{info.name}-v{info.version}.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    scorer = onnx_scorer(model, data, output)
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
