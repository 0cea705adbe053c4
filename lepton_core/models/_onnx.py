"""ONNX for every family: the opset, onnxruntime scoring, and int8 graphs.

A family converts its own estimator (:meth:`LeptonModel.to_onnx`); what runs the
graph is shared: :class:`OnnxScorer` scores like the original model (its input
checks and ``transform`` in front), :class:`OnnxNetwork` stands in for a torch
network inside the model, and :func:`quantize_onnx` gives a graph int8 weights.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lepton_core.models._columns import probabilities_from_raw

if TYPE_CHECKING:
    from lepton_core.data import InputSchema

__all__ = ["OPSET", "OnnxNetwork", "OnnxScorer", "quantize_onnx"]

#: The newest opset onnxmltools' LightGBM converter supports; every family uses it.
OPSET = 15


class OnnxScorer:
    """Scores like the original model, with the estimator run by onnxruntime.

    Parameters
    ----------
    model : LeptonModel
        The original model (its input checks and ``transform`` are reused).
    onnx_bytes : bytes
        The graph from :meth:`LeptonModel.to_onnx`.
    output : str
        What the graph outputs (``"probabilities"``, ``"raw"`` or ``"value"``).
    """

    def __init__(self, model: Any, onnx_bytes: bytes, output: str):
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


def quantize_onnx(data: bytes, **options: Any) -> bytes:
    """``data`` with int8 weights by onnxruntime's ``quantize_dynamic`` (``options`` passed on)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
        src.write_bytes(data)
        # onnxruntime logs advice through the root logger on every call; keep it quiet.
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8, **options)
        finally:
            logging.disable(logging.NOTSET)
        return dst.read_bytes()
