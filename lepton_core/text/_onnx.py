"""ONNX export of text models: the whole network as one graph, scored by onnxruntime.

- :func:`text_to_onnx`: the :class:`~lepton_core.text.TextClassifier`
  (encoder → mean pooling → head) through ``torch.onnx`` (the TorchScript
  exporter), with inputs ``input_ids`` and ``attention_mask`` (int64, any batch
  size and length) and output ``logits``.
- :func:`quantize_text_onnx`: onnxruntime dynamic int8 quantisation of the
  graph's weight matrices, one scale per output channel.
- :func:`text_onnx_scorer`: a copy of the model that runs the graph, with the
  model's own tokenizer and length-sorted batches in front of it.

The graph builds the attention bias from the 0/1 mask itself: transformers'
mask helpers read shapes as Python numbers, which a traced graph would freeze
at the example's length. Both graphs use standard ONNX operators only.
onnxruntime's transformer optimizer (fused Attention, SkipLayerNorm, GELU) was
measured and left out: on the benchmark's CPU it was no faster than
onnxruntime's own graph optimisations, before or after quantisation, and its
fused graphs run in onnxruntime only (``bench/README.md``, ``text_int8.py``).

torch, onnx and the network module are imported inside the functions, so that the
family (which offers these as methods) stays cheap to import.
"""

from __future__ import annotations

import copy
import io
import warnings
from typing import Any

from lepton_core.core import ModelError
from lepton_core.models import OPSET, OnnxNetwork, quantize_onnx

__all__ = ["quantize_text_onnx", "text_onnx_scorer", "text_to_onnx"]

_INPUTS = ("input_ids", "attention_mask")
_OUTPUT = "logits"
# Dynamic int8 settings chosen on SST-2 dev (bench/text_int8.py): per-tensor scales
# lost 1.6 points; per-channel lost none and ran fastest with MatMul weights only.
_QUANT_OPS = ("MatMul",)
_PER_CHANNEL = True


def text_to_onnx(model: Any) -> bytes:
    """Export a fitted text model's network as ONNX.

    Parameters
    ----------
    model : TextModel
        A fitted model of the ``text`` family.

    Returns
    -------
    bytes
        The ONNX graph: inputs ``input_ids`` and ``attention_mask`` (int64,
        shape ``(batch, sequence)``, both axes dynamic), output ``logits``
        (float32, ``(batch, n_classes)`` in the order of ``model.classes_``).
        Token type ids are the encoder's default (zeros, as the tokenizer
        gives for a single text).
    """
    import torch

    _check_text(model)
    # A CPU copy with eager attention (plain MatMul and Softmax); the model itself
    # keeps the attention implementation it loaded with.
    network = copy.deepcopy(model.final_estimator_).to("cpu").eval()
    network.config._attn_implementation = "eager"
    example = model.tokenizer_(
        ["an example text of some length", "short"], padding=True, return_tensors="pt"
    )
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated but needs no onnxscript; its tracer
        # warnings are about transformers' mask helpers, which _exportable bypasses.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _exportable(network),
            (example["input_ids"], example["attention_mask"]),
            buffer,
            dynamo=False,
            input_names=list(_INPUTS),
            output_names=[_OUTPUT],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                _OUTPUT: {0: "batch"},
            },
            opset_version=OPSET,
        )
    return buffer.getvalue()


def quantize_text_onnx(onnx_bytes: bytes) -> bytes:
    """Dynamic int8 quantisation of a graph from :func:`text_to_onnx`.

    The encoder's Linear weights (attention projections and feed-forward)
    become int8 with one scale per output channel; activations are quantised
    on the fly. Embeddings, LayerNorm, softmax, the attention scores and the
    head (a ``Gemm``) stay float32, as in torch int8 compression.
    """
    import onnx

    # The encoder's Linear layers are MatMul nodes; the head is a Gemm, which the
    # quantiser would otherwise turn into a MatMul and quantise too.
    proto = onnx.load_from_string(onnx_bytes)
    matmuls = [n.name for n in proto.graph.node if n.op_type in _QUANT_OPS]
    return quantize_onnx(
        onnx_bytes,
        op_types_to_quantize=list(_QUANT_OPS),
        nodes_to_quantize=matmuls,
        per_channel=_PER_CHANNEL,
        extra_options={"MatMulConstBOnly": True},  # weights only, not Q·Kᵀ
    )


def text_onnx_scorer(model: Any, onnx_bytes: bytes, *, threads: int | None = None) -> Any:
    """A copy of the text model that runs its network as ``onnx_bytes`` in onnxruntime.

    The copy keeps the model's input checks, tokenizer and length-sorted batches; only
    the network is the graph (:class:`lepton_core.models.OnnxNetwork`).

    Parameters
    ----------
    model : TextModel
        The original model (not changed).
    onnx_bytes : bytes
        A graph from :func:`text_to_onnx` or :func:`quantize_text_onnx`.
    threads : int, optional
        onnxruntime's intra-op threads; default torch's thread count, so the
        scorer uses the cores the original would.
    """
    _check_text(model)
    network = OnnxNetwork(onnx_bytes, model.final_estimator_.config, threads=threads)
    if set(network.inputs) != set(_INPUTS):
        raise ModelError(
            "The ONNX graph does not take input_ids and attention_mask; "
            "export the text model with text_to_onnx."
        )
    scorer = copy.copy(model)
    scorer.final_estimator_ = network
    return scorer


# -- helpers ------------------------------------------------------------------------


def _check_text(model: Any) -> None:
    if getattr(model, "family", None) != "text":
        raise ValueError(f"expected a text model, got family {getattr(model, 'family', None)!r}")
    model._check_fitted()


def _exportable(network: Any) -> Any:
    """``network``'s forward on ``(input_ids, attention_mask)``, the mask made a bias in-graph."""
    import torch

    from lepton_core.text._network import mean_pool

    class Exportable(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            # A 4D mask reaches the attention as it is, so nothing traces shapes as numbers.
            keep = attention_mask[:, None, None, :].to(torch.float32)
            bias = (1.0 - keep) * torch.finfo(torch.float32).min
            hidden = self.network.encoder(input_ids=input_ids, attention_mask=bias)
            return self.network.classifier(mean_pool(hidden.last_hidden_state, attention_mask))

    return Exportable().eval()
