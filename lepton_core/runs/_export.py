"""Exports of a model version, checked against the original on its test rows.

- :func:`export_mlflow_zip`: the MLflow model folder as a zip (servable by any
  MLflow-compatible platform).
- :func:`export_onnx`: the model's estimator as ONNX, converted by its family
  (``LeptonModel.to_onnx``: LightGBM through onnxmltools, the linear model and the
  decision tree through skl2onnx, the MLP, text and image models through
  ``torch.onnx``), run with onnxruntime on the run's test rows and compared with the
  original (:class:`OnnxExport` reports the agreement). A tabular graph takes
  :meth:`LeptonModel.transform`'s matrix (LightGBM: category codes), a text graph
  token ids, an image graph the scaled pixel tensor, so Lepton's own input checks,
  encoding, tokenizer and image reading stay in front.

int8 compression, which makes a new model version, is :mod:`lepton_core.runs._compress`.
"""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import JsonMixin, Message, ModelError
from lepton_core.models import LeptonModel
from lepton_core.runs._training import TrainConfig, split_run_data
from lepton_core.workspace import Workspace

__all__ = [
    "OnnxExport",
    "export_mlflow_zip",
    "export_onnx",
    "load_test_rows",
    "onnx_scorer",
    "to_onnx",
]


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
    """The model's estimator as ONNX (its family converts it), and what the output holds.

    The output is ``"probabilities"`` (classifiers converted with their link),
    ``"raw"`` (logits) or ``"value"`` (regression). An ``onnx-int8`` compressed
    version gives its int8 graph.
    """
    if model.compression_ is not None:
        if model.compression_.graph is None:
            raise ModelError(Message("runs.int8_no_onnx"))
        return model.compression_.graph, "value" if model.task == "regression" else "raw"
    return model.to_onnx()


def onnx_scorer(model: LeptonModel, onnx_bytes: bytes, output: str) -> Any:
    """What scores like ``model`` with its graph from :func:`to_onnx` in onnxruntime."""
    return model.onnx_scorer(onnx_bytes, output)


def load_test_rows(
    workspace: Workspace, run_id: str
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """The run's test rows (features, target, sensitive columns), split as training did."""
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
    info = workspace.model_version(name, version)
    out = Path(dest) / f"{info.name}-v{info.version}-mlflow.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = workspace.checked_model_folder(info.name, info.version, tmp)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                zf.write(path, Path("model") / path.relative_to(folder))
    return out
