"""ONNX export of image models: the whole network as one graph, scored by onnxruntime.

- :func:`image_to_onnx`: the :class:`~lepton_core.images._backbone.ImageNetwork` (stem, all
  16 blocks, head convolution, pooling and the linear layer) through ``torch.onnx``
  (the TorchScript exporter, which needs no onnxscript). Its input ``input`` is the
  preprocessed image tensor, float32 ``(n, 3, size, size)`` scaled ``(x - 127) / 128``
  (:func:`~lepton_core.images._backbone.to_input`); its output ``raw`` is the class
  logits. The batch axis is dynamic; the side is the model's ``image_size_``, fixed
  because the network's "same" padding is computed for it. A backbone from the Hugging
  Face Hub or a folder (:mod:`._hub`) exports the same way, its processor's scaling inside
  the graph; one that torch cannot export is refused in one sentence.
- :func:`quantize_image_onnx`: onnxruntime *static* int8 quantisation (QDQ, one scale
  per output channel for weights), activation ranges calibrated on a few training
  images. The linear head (a ``Gemm``) stays float32: a Quick head folds a standardised
  logistic regression into large weights, and quantising it shifted the probabilities
  (on PneumoniaMNIST accuracy fell from 0.81 to 0.61 with it, 0.81 without it).
  Dynamic quantisation was measured and left out: its ``ConvInteger`` ran slower than the
  float graph, and accuracy fell to 0.63 (``bench/README.md``, ``image_onnx.py``).
- :func:`image_onnx_scorer`: a copy of the model that runs the graph, with the model's
  own image reading, squaring and scaling in front of it, a batch at a time.

torch is imported inside the functions, so that the family stays cheap to import.
"""

from __future__ import annotations

import copy
import io
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from lepton_core.core import Message, ModelError
from lepton_core.models import OPSET, OnnxNetwork

__all__ = ["image_onnx_scorer", "image_to_onnx", "quantize_image_onnx"]

_INPUT = "input"
_OUTPUT = "raw"
_CALIBRATION_BATCH = 16


def image_to_onnx(model: Any) -> bytes:
    """Export a fitted image model's network as ONNX.

    Parameters
    ----------
    model : ImageModel
        A fitted model of the ``image`` family.

    Returns
    -------
    bytes
        The ONNX graph: input ``input`` (float32 ``(n, 3, size, size)``, ``n`` dynamic),
        output ``raw`` (float32 ``(n, n_classes)`` logits in the order of ``model.classes_``).

    Raises
    ------
    ModelError
        The model's backbone (one from the Hub or a folder) could not be exported.
    """
    import torch

    _check_image(model)
    network = model.final_estimator_.eval()
    side = int(model.image_size_)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated, but the dynamo exporter needs onnxscript,
        # which is not a dependency; convolutions export the same with either.
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                network,
                (torch.zeros(2, 3, side, side),),
                buffer,
                dynamo=False,
                input_names=[_INPUT],
                output_names=[_OUTPUT],
                dynamic_axes={_INPUT: {0: "n"}, _OUTPUT: {0: "n"}},
                opset_version=OPSET,
            )
        except Exception as error:  # an architecture's operator the exporter lacks
            if not model._hub_backbone():
                raise
            detail = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
            raise ModelError(
                Message("images.onnx_failed", name=model.backbone, detail=detail)
            ) from None
    return buffer.getvalue()


def quantize_image_onnx(onnx_bytes: bytes, inputs: np.ndarray) -> bytes:
    """Static int8 quantisation of a graph from :func:`image_to_onnx`.

    Parameters
    ----------
    onnx_bytes : bytes
        The float graph.
    inputs : ndarray
        Calibration images as the graph reads them, float32 ``(n, 3, size, size)``.

    Returns
    -------
    bytes
        The graph with int8 convolution weights and activations (QDQ nodes); the linear
        head stays float32.
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            starts = range(0, len(inputs), _CALIBRATION_BATCH)
            self.batches = iter(
                {_INPUT: np.ascontiguousarray(inputs[i : i + _CALIBRATION_BATCH])} for i in starts
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, pre, dst = (Path(tmp) / name for name in ("float.onnx", "pre.onnx", "int8.onnx"))
        src.write_bytes(onnx_bytes)
        # onnxruntime logs advice through the root logger on every call; keep it quiet.
        logging.disable(logging.WARNING)
        try:
            # Folds the batch norms and shapes first, so the quantiser sees plain Conv nodes.
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            head = [n.name for n in onnx.load(str(pre)).graph.node if n.op_type == "Gemm"]
            quantize_static(
                str(pre),
                str(dst),
                _Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=head,
            )
        finally:
            logging.disable(logging.NOTSET)
        return dst.read_bytes()


def image_onnx_scorer(model: Any, onnx_bytes: bytes, *, threads: int | None = None) -> Any:
    """A copy of the image model that runs its network as ``onnx_bytes`` in onnxruntime.

    The copy keeps the model's input checks and image reading; only the network is the
    graph (:class:`lepton_core.models.OnnxNetwork`). ``threads``: onnxruntime's intra-op
    threads, default torch's thread count.
    """
    _check_image(model)
    network = OnnxNetwork(onnx_bytes, threads=threads)
    scorer = copy.copy(model)
    scorer.final_estimator_ = network
    return scorer


def _check_image(model: Any) -> None:
    if getattr(model, "family", None) != "image":
        raise ValueError(f"expected an image model, got family {getattr(model, 'family', None)!r}")
    model._check_fitted()
