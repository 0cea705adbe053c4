"""int8 weights for the families with a network (the MLP, text models).

Two methods: ``torch-int8``, torch's dynamic quantisation of the network's Linear
layers, and ``onnx-int8``, the network exported to ONNX (the family's
:meth:`~LeptonModel.to_onnx`), its weights quantised by onnxruntime and every
prediction run by onnxruntime. A family decides what gets quantised through its
``_quantise_network`` and ``_quantise_graph`` hooks.

:func:`quantise` swaps the model's network for the int8 one and keeps everything
else (input checks, encoding, tokenizer), so the result is the same family. Its
folder keeps the float weights (plus the int8 graph for ONNX) and loading
quantises them again (:func:`restore`); torch's dynamic quantisation is
deterministic, so the loaded model is the one that was measured.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lepton_core.core import Message, ModelError
from lepton_core.models._onnx import OnnxNetwork

__all__ = ["COMPRESSION_METHODS", "Int8", "quantise", "quantize_dynamic", "restore"]

#: method id → title
COMPRESSION_METHODS = {
    "torch-int8": Message("compression.torch_int8"),
    "onnx-int8": Message("compression.onnx_int8"),
}
_GRAPH_FILE = "model.int8.onnx"


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


def quantise(model: Any, method: str, calibration: Any = None) -> Any:
    """A copy of ``model`` whose network is int8 by ``method``; ``model`` is unchanged.
    ``calibration`` (training rows) is for a family that calibrates its int8 activations.

    Raises
    ------
    ModelError
        The model is already compressed.
    """
    if model.compression_ is not None:
        raise ModelError(
            "This version is already compressed; compress the version it was made from."
        )
    compressed = copy.deepcopy(model)
    int8 = Int8(method, compressed.final_estimator_)
    if method == "onnx-int8":
        data, _ = model.to_onnx()
        int8.graph = model._quantise_graph(data, calibration)
        int8.float_graph_size = len(data)
    _swap(compressed, int8)
    return compressed


def restore(model: Any, method: str, folder: Path) -> None:
    """Compress a model just loaded from ``folder`` as it was when saved."""
    graph = (folder / _GRAPH_FILE).read_bytes() if method == "onnx-int8" else None
    _swap(model, Int8(method, model.final_estimator_, graph))


def quantize_dynamic(network: Any) -> Any:
    """A copy of the torch ``network`` with int8 Linear layers (dynamic quantisation).

    ``network`` itself stays float, moved to the CPU in evaluation mode."""
    import torch

    with warnings.catch_warnings():
        # Eager dynamic quantisation is deprecated in favour of torchao, which is not a
        # dependency; it still runs on torch 2.13 CPU.
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(
            network.cpu().eval(), {torch.nn.Linear}, dtype=torch.qint8
        )


def _swap(model: Any, int8: Int8) -> None:
    if int8.graph is not None:
        network: Any = OnnxNetwork(int8.graph, getattr(int8.float_network, "config", None))
    else:
        network = model._quantise_network(int8.float_network)
    model.final_estimator_ = network
    model.compression_ = int8
