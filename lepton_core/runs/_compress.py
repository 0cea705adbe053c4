"""int8 compression: a model version quantised into a new version, measured like any other.

Two methods, for the models with weight matrices (the MLP and text models):

- ``torch-int8``: torch's dynamic quantisation of the network's Linear layers (for
  a text model, the encoder's; its small head stays float32);
- ``onnx-int8``: the network exported to ONNX (:func:`lepton_core.runs._export.to_onnx`),
  its weights quantised by onnxruntime, and every prediction run by onnxruntime.

:func:`quantise` swaps the model's network for the int8 one and keeps everything
else (input checks, encoding, tokenizer), so the result is the same family:
explanations, serving, the demo page and the model card treat it as they treat
its parent. Its folder keeps the float weights it was made from (plus the int8
graph for ONNX) and loading quantises them again; torch's dynamic quantisation is
deterministic, so the loaded model is the one that was measured.

:func:`compress` registers the result as a new version of the same model —
scored, fairness-checked and explained on the parent's test rows by
:func:`lepton_core.runs._training.record_run` — and reports size, latency, accuracy
**and** fairness before and after.
"""

from __future__ import annotations

import copy
import io
import logging
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from lepton_core.core import JsonMixin, ModelError
from lepton_core.models import LeptonModel
from lepton_core.workspace import Workspace

__all__ = [
    "COMPRESSION_METHODS",
    "CompressionReport",
    "Int8",
    "VariantFigures",
    "compress",
    "quantise",
]

#: method id → title
COMPRESSION_METHODS = {"torch-int8": "PyTorch int8", "onnx-int8": "ONNX int8 (onnxruntime)"}
_FAMILIES = ("mlp", "text")
_GRAPH_FILE = "model.int8.onnx"
_LATENCY_ROWS = 256  # rows scored per latency measurement (median of three)
_TEXT_EXPLAIN_ROWS = 10  # token SHAP is seconds a row; the page waits for it


@dataclass
class Int8:
    """How a model's network was compressed; the float network is what gets saved."""

    method: str
    float_network: Any
    graph: bytes | None = None  # the int8 ONNX graph (``onnx-int8``)
    float_graph_size: int = 0  # bytes of the float graph it was quantised from

    def save(self, folder: Path) -> list[str]:
        """Write what loading needs besides the float weights; return the file names."""
        if self.graph is None:
            return []
        (folder / _GRAPH_FILE).write_bytes(self.graph)
        return [_GRAPH_FILE]


def quantise(model: LeptonModel, method: str) -> LeptonModel:
    """A copy of ``model`` whose network is int8; ``model`` itself is unchanged.

    Raises
    ------
    ModelError
        The model has no network to quantise, or is already compressed.
    """
    if method not in COMPRESSION_METHODS:
        raise ValueError(
            f"Unknown compression method {method!r}; use one of {', '.join(COMPRESSION_METHODS)}."
        )
    if model.compression_ is not None:
        raise ModelError(
            "This version is already compressed; compress the version it was made from."
        )
    if model.family not in _FAMILIES:
        raise ModelError(
            "int8 compression applies to the neural network (MLP) and text models; tree and "
            "linear models have no weight matrices worth quantising."
        )
    compressed = copy.deepcopy(model)
    int8 = Int8(method, compressed.final_estimator_)
    if method == "onnx-int8":
        from lepton_core.runs._export import to_onnx

        data, _ = to_onnx(model)
        int8.graph, int8.float_graph_size = _quantise_graph(model, data), len(data)
    _swap(compressed, int8)
    return compressed


def restore(model: LeptonModel, method: str, folder: Path) -> None:
    """Compress a model just loaded from ``folder`` as it was when saved."""
    graph = (folder / _GRAPH_FILE).read_bytes() if method == "onnx-int8" else None
    _swap(model, Int8(method, model.final_estimator_, graph))


def _swap(model: LeptonModel, int8: Int8) -> None:
    import torch

    if int8.graph is not None:
        from lepton_core.runs._export import OnnxNetwork

        network: Any = OnnxNetwork(int8.graph, getattr(int8.float_network, "config", None))
    else:
        with warnings.catch_warnings():
            # Eager dynamic quantisation is deprecated in favour of torchao, which is not a
            # dependency; it still runs on torch 2.13 CPU.
            warnings.simplefilter("ignore")
            if model.family == "text":
                # The encoder's Linear layers only: the small head stays float32, so a head
                # with large weights (a linear probe on separable data) keeps its precision.
                network = copy.deepcopy(int8.float_network).cpu().eval()
                network.encoder = torch.ao.quantization.quantize_dynamic(
                    network.encoder, {torch.nn.Linear}, dtype=torch.qint8
                )
            else:
                network = torch.ao.quantization.quantize_dynamic(
                    int8.float_network.cpu().eval(), {torch.nn.Linear}, dtype=torch.qint8
                )
    model.final_estimator_ = network
    model.compression_ = int8


def _quantise_graph(model: LeptonModel, data: bytes) -> bytes:
    """An ONNX graph with int8 weights (onnxruntime dynamic quantisation)."""
    if model.family == "text":  # per channel, encoder only: no accuracy lost on SST-2
        from lepton_core.text.onnx import quantize_text_onnx

        return quantize_text_onnx(data)
    return quantize_onnx(data)


def quantize_onnx(data: bytes, **options: Any) -> bytes:
    """``data`` with int8 weights by onnxruntime's ``quantize_dynamic`` (``options`` passed on)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "model.onnx", Path(tmp) / _GRAPH_FILE
        src.write_bytes(data)
        # onnxruntime logs advice through the root logger on every call; keep it quiet.
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8, **options)
        finally:
            logging.disable(logging.NOTSET)
        return dst.read_bytes()


# ------------------------------------------------------------------ the new version
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
    """A compressed version next to its parent (every figure measured on the test rows).

    ``latency_ms`` is the median time to score ``latency_rows`` test rows in one call.
    """

    model: str
    version: int
    method: str
    new_version: int
    run_id: str
    n_rows: int
    latency_rows: int
    before: VariantFigures
    after: VariantFigures
    label_agreement: float


def compress(
    workspace: Workspace, name: str, version: str | int | None, *, method: str = "torch-int8"
) -> CompressionReport:
    """Quantise a model version to int8, register the result as a new version, compare them.

    Raises
    ------
    ModelError
        The version does not exist, or the method does not apply to its family.
    """
    from lepton_core.runs._reports import load_run_reports
    from lepton_core.runs._training import TrainConfig, prepare_data, record_run

    info = workspace.model_version(name, version)
    model = workspace.load_model(info.name, info.version)
    compressed = quantise(model, method)
    parent = load_run_reports(workspace, info.run_id)
    config = replace(
        TrainConfig.from_dict(workspace.load_report(info.run_id, "config")), model_name=info.name
    )
    data = prepare_data(replace(config, data=f"dataset:{parent.run.dataset_id}"), workspace)
    recorded = record_run(
        workspace,
        data,
        compressed,
        config=config,
        run_name=f"{info.name}-{method}",
        params={
            **{f"model.{k}": v for k, v in model.get_params().items()},
            "compression.method": method,
            "compression.parent": info.ref,
        },
        tags={"parent_run": info.run_id, "compression": method},
        reports={
            "compression": {
                "method": method,
                "title": COMPRESSION_METHODS[method],
                "parent": info.ref,
            },
            # Quantising the weights keeps the parent's differential-privacy guarantee.
            "privacy": workspace.find_report(info.run_id, "privacy"),
        },
        explain_rows=_TEXT_EXPLAIN_ROWS if model.family == "text" else config.explain_rows,
    )
    rows = data.x_test.head(_LATENCY_ROWS)
    before_size, after_size = _sizes(model, compressed)
    before = _figures("original", model, before_size, rows, parent.evaluation, parent.fairness)
    after = _figures(
        COMPRESSION_METHODS[method],
        compressed,
        after_size,
        rows,
        recorded.evaluation,
        recorded.fairness,
    )
    labels = [
        workspace.load_report(run_id, "test_predictions")["y_pred"]
        for run_id in (info.run_id, recorded.run_id)
    ]
    return CompressionReport(
        model=info.name,
        version=info.version,
        method=method,
        new_version=recorded.model_version,
        run_id=recorded.run_id,
        n_rows=len(data.x_test),
        latency_rows=len(rows),
        before=before,
        after=after,
        label_agreement=float(np.mean(np.asarray(labels[0]) == np.asarray(labels[1]))),
    )


def _sizes(model: LeptonModel, compressed: LeptonModel) -> tuple[int, int]:
    """Bytes of the float and the int8 weights (ONNX: the float and the int8 graph)."""
    int8 = compressed.compression_
    if int8.graph is not None:
        return int8.float_graph_size, len(int8.graph)
    return _state_size(model.final_estimator_), _state_size(compressed.final_estimator_)


def _state_size(network: Any) -> int:
    import torch

    buffer = io.BytesIO()
    torch.save(network.state_dict(), buffer)
    return len(buffer.getvalue())


def _figures(
    name: str, model: LeptonModel, size: int, rows: Any, evaluation: Any, fairness: list
) -> VariantFigures:
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        model.predict(rows)
        timings.append((time.perf_counter() - start) * 1000)
    gaps = {
        r.attribute: {
            "demographic_parity_difference": r.demographic_parity_difference,
            "equalized_odds_difference": r.equalized_odds_difference,
        }
        for r in fairness
    }
    return VariantFigures(name, size, statistics.median(timings), evaluation.metrics, gaps)
