"""Image backbones other than the built-in: a transformers image model from the Hugging Face
Hub or a local folder (``AutoModel`` + ``AutoImageProcessor``), used in Quick mode.

Loading goes through :func:`lepton_core.models.from_pretrained` (the text family's rules: a
folder as it is, safetensors only, a hub id from the cache first, one sentence offline).
The weights files are hashed (SHA-256) when a model is trained and checked again when it
is loaded.

:class:`HubImageNetwork` reads what the built-in network reads, the tensor of
:func:`~lepton_core.images._backbone.to_input`, and turns it into the processor's input
itself (one scale and shift per channel: its rescaling and mean/std normalisation), so
prediction, region SHAP and the ONNX graph work unchanged. Its pooled features are
``pooler_output`` where the checkpoint holds the pooler's weights (ConvNeXt, ResNet,
Swin), else the mean of ``last_hidden_state`` over its tokens or cells: a ViT
classification checkpoint has no pooler weights, and transformers would start one at
random. This module imports torch at the top; the family imports it lazily.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lepton_core.core import Message, ModelError
from lepton_core.models import from_pretrained, pretrained_source

__all__ = ["HubBackbone", "HubImageNetwork", "load_backbone", "new_hub_network"]

_INDEX = "model.safetensors.index.json"


@dataclass(frozen=True)
class HubBackbone:
    """A loaded transformers image model and what the family keeps about it.

    Attributes
    ----------
    name : str
        What the person typed (a hub id or a folder).
    source : str
        Where it loads from: the hub id, or the folder's absolute path (what a saved
        model records, so that it loads from any working folder).
    encoder : Module
        The model without a task head, in eval mode, frozen.
    image_size : int
        The side of the square the processor makes.
    scale, shift : ndarray
        Per channel: processor input = ``scale * to_input(pixels) + shift``.
    pooled : bool
        Whether the features may be ``pooler_output``: the pooler's weights, where it has
        any, were in the checkpoint. Else (or with no pooler) the mean of ``last_hidden_state``.
    weights_sha256 : dict
        SHA-256 of each weights file, by file name.
    """

    name: str
    source: str
    encoder: Any
    image_size: int
    scale: np.ndarray
    shift: np.ndarray
    pooled: bool
    weights_sha256: dict[str, str]


def _builtin() -> str:
    return Message("images.builtin")


def _load(loader: Any, name: str, source: str, **kwargs: Any) -> Any:
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "weights not used" is expected: no task head
    hf_logging.disable_progress_bar()
    try:
        return from_pretrained(loader, name, source, builtin=_builtin(), **kwargs)
    finally:
        hf_logging.set_verbosity(verbosity)


def _weights_folder(source: str) -> Path:
    """The folder the weights were read from: ``source`` itself, or the hub id's snapshot
    in the local cache (where the loader has just put them)."""
    if Path(source).is_dir():
        return Path(source)
    from transformers.utils import cached_file

    return Path(cached_file(source, "config.json", local_files_only=True)).parent


def _weights_files(folder: Path) -> list[Path]:
    index = folder / _INDEX
    if index.is_file():  # sharded: the files the index names
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [folder / n for n in names]
    single = folder / "model.safetensors"
    return [single] if single.is_file() else sorted(folder.glob("*.safetensors"))


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_sha256(folder: Path) -> dict[str, str]:
    """SHA-256 of each safetensors weights file in ``folder``, by file name."""
    out = {}
    for path in _weights_files(folder):
        stat = path.stat()
        out[path.name] = _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return out


def _side(processor: Any) -> int:
    """The square the processor hands the model (its crop, else its resize)."""
    for size in (getattr(processor, "crop_size", None), getattr(processor, "size", None)):
        if size is None:
            continue
        # A dict in older processors, a SizeDict (attributes) in newer ones.
        get = size.get if isinstance(size, dict) else lambda k, s=size: getattr(s, k, None)
        if get("height") and get("width"):
            return int(min(get("height"), get("width")))
        if get("shortest_edge"):
            return int(get("shortest_edge"))
    return 224


def _affine(processor: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per channel ``(scale, shift)`` from ``to_input``'s ``(p - 127) / 128`` to the
    processor's ``(p * rescale - mean) / std``."""
    rescale = float(processor.rescale_factor) if getattr(processor, "do_rescale", True) else 1.0
    mean, std = np.zeros(3), np.ones(3)
    if getattr(processor, "do_normalize", False):
        mean = np.broadcast_to(np.asarray(processor.image_mean, dtype=np.float64), 3)
        std = np.broadcast_to(np.asarray(processor.image_std, dtype=np.float64), 3)
    scale = 128.0 * rescale / std
    shift = (127.0 * rescale - mean) / std
    return scale.astype(np.float32), shift.astype(np.float32)


def load_backbone(name: str, expected: dict[str, str] | None = None) -> HubBackbone:
    """The transformers image model ``name`` (a hub id or a folder), safetensors only.

    Parameters
    ----------
    name : str
        A Hugging Face Hub id or a local folder of ``AutoModel`` + ``AutoImageProcessor``.
    expected : dict, optional
        The weights files' SHA-256 recorded at training; the model is refused if they differ.

    Raises
    ------
    ModelError
        Offline and not cached, no safetensors weights, no such model, not an image model,
        or weights that differ from ``expected``.
    """
    from transformers import AutoImageProcessor, AutoModel

    source = pretrained_source(name)
    processor = _load(AutoImageProcessor, name, source)
    encoder, info = _load(AutoModel, name, source, use_safetensors=True, output_loading_info=True)
    found = weights_sha256(_weights_folder(source))
    if expected is not None and found != expected:
        raise ModelError(Message("images.backbone_changed", name=name))
    if not all(hasattr(processor, k) for k in ("image_mean", "image_std")):
        raise ModelError(Message("images.not_image_model", name=name))
    missing = [k for k in info.get("missing_keys", ()) if k.split(".")[0] == "pooler"]
    encoder = encoder.float().eval()
    for p in encoder.parameters():
        p.requires_grad_(False)
    scale, shift = _affine(processor)
    # pooler_output is used unless the pooler's weights were missing (started at random).
    pooled = not missing
    if Path(source).is_dir():
        source = str(Path(source).resolve())
    return HubBackbone(name, source, encoder, _side(processor), scale, shift, pooled, found)


class HubImageNetwork(nn.Module):
    """A transformers image model's pooled features and a linear layer, reading
    :func:`~lepton_core.images._backbone.to_input`'s tensor.

    It has the attributes the family uses of the built-in network (``cut``, ``trunk``,
    ``features``, ``fc``, ``tail_state``); the whole model is the frozen trunk.
    """

    def __init__(self, backbone: HubBackbone, n_classes: int) -> None:
        super().__init__()
        self.cut = 0
        self.pooled = backbone.pooled
        self.encoder = backbone.encoder
        self.register_buffer("scale", torch.as_tensor(backbone.scale).view(1, 3, 1, 1))
        self.register_buffer("shift", torch.as_tensor(backbone.shift).view(1, 3, 1, 1))
        side = backbone.image_size
        with torch.inference_mode():
            width = self.features(torch.zeros(1, 3, side, side)).shape[1]
        self.dropout = nn.Identity()
        self.fc = nn.Linear(width, n_classes)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Nothing is cut off: the features are computed from the image."""
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of the images ``x`` (``to_input``'s scaling)."""
        out = self.encoder(pixel_values=x * self.scale + self.shift)
        pooler_output = getattr(out, "pooler_output", None) if self.pooled else None
        if pooler_output is not None:
            return pooler_output.flatten(1)
        hidden = out.last_hidden_state
        return hidden.mean(dim=(2, 3)) if hidden.dim() == 4 else hidden.mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))

    def tail_state(self) -> dict[str, torch.Tensor]:
        """The weights training sets: the linear layer."""
        return {k: v.detach().contiguous() for k, v in self.fc.state_dict(prefix="fc.").items()}


def new_hub_network(backbone: HubBackbone, n_classes: int) -> HubImageNetwork:
    """A network over ``backbone``'s features, in eval mode, every weight frozen."""
    network = HubImageNetwork(backbone, n_classes).eval()
    for p in network.parameters():
        p.requires_grad_(False)
    return network
